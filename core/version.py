"""The add-on version; a test checks it against blender_manifest.toml."""

VERSION = "0.1.0"
USER_AGENT = f"Meshport/{VERSION} (Blender extension; +https://github.com/meshport/meshport)"
