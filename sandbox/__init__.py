"""A local stand-in for the Sketchfab and Poly Haven APIs, serving a sample library.

``bin/meshport sandbox`` starts it; ``bin/meshport-demo`` and the tests run the real
search, download and import path against it with no network beyond 127.0.0.1.
"""

from __future__ import annotations

from .server import DEMO_KEY, POLYHAVEN_PREFIX, SKETCHFAB_PREFIX, SandboxServer


def create_server(port: int = 0, on_request=None) -> SandboxServer:
    """Bind a server on ``127.0.0.1:port`` (0 picks a free port); raises OSError when
    the port is taken. Add a library with ``serve_library``, then call ``start()``."""
    return SandboxServer(port, on_request)


def serve_library(server: SandboxServer, library) -> None:
    """Route both platform protocols of ``server`` to ``library``."""
    from .polyhaven import PolyHavenApi
    from .sketchfab import SketchfabApi

    SketchfabApi(library, server.url, DEMO_KEY).add_routes(server.router)
    PolyHavenApi(library, server.url).add_routes(server.router)


def environment(server: SandboxServer) -> dict[str, str]:
    """Return the variables that point Meshport at ``server``."""
    return {
        "MESHPORT_SKETCHFAB_URL": f"{server.url}{SKETCHFAB_PREFIX}",
        "MESHPORT_POLYHAVEN_URL": f"{server.url}{POLYHAVEN_PREFIX}",
        "MESHPORT_SKETCHFAB_KEY": DEMO_KEY,
    }
