"""Fixtures for the Blender-side tests, which run inside the ``bpy`` module.

One Blender runs per process, so the add-on is registered once per session and each
test that needs a clean scene loads an empty file. Without ``bpy`` only
``test_bpy_module.py`` is collected, and it skips, or fails under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fakes.polyhaven import FakePolyHaven
from fakes.polyhaven import sample_library as polyhaven_library
from fakes.sketchfab import DEFAULT_API_KEY, FakeSketchfab
from fakes.sketchfab import sample_library as sketchfab_library

BPY_AVAILABLE = importlib.util.find_spec("bpy") is not None

if not BPY_AVAILABLE:
    collect_ignore_glob = [
        str(path.name)
        for path in Path(__file__).parent.glob("test_*.py")
        if path.name != "test_bpy_module.py"
    ]


@pytest.fixture(scope="session")
def addon():
    """Register Meshport once, enabled in Blender's preferences as "meshport" so that
    its preferences resolve; unregister at the end of the session."""
    import bpy
    import meshport

    if "meshport" not in bpy.context.preferences.addons:
        entry = bpy.context.preferences.addons.new()
        entry.module = "meshport"
    meshport.register()
    yield meshport
    meshport.unregister()


@pytest.fixture(autouse=True)
def user_resources(tmp_path, monkeypatch) -> Path:
    """Point Blender's user folder at the test's own folder, so downloads and caches
    never reach the real one."""
    folder = tmp_path / "blender-user"
    folder.mkdir()
    monkeypatch.setenv("BLENDER_USER_RESOURCES", str(folder))
    return folder


@pytest.fixture
def empty_scene(addon):
    """Load an empty file: no objects, and the sidebar state reset by the add-on's
    file-load handler."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    yield bpy.context.scene


@pytest.fixture
def online_access():
    """Turn on Blender's "Allow Online Access" for one test (it starts off in ``bpy``)."""
    import bpy

    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = True
    yield
    system.use_online_access = before


@pytest.fixture
def offline_access():
    import bpy

    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = False
    yield
    system.use_online_access = before


@pytest.fixture
def preferences(addon):
    """The add-on preferences, restored to their defaults after the test."""
    import bpy

    prefs = bpy.context.preferences.addons["meshport"].preferences
    names = [prop.identifier for prop in prefs.bl_rna.properties if prop.identifier != "rna_type"]
    before = {name: getattr(prefs, name) for name in names}
    yield prefs
    for name, value in before.items():
        setattr(prefs, name, value)


@pytest.fixture
def session_keys(addon):
    """A credential store without a keyring backend, which keeps keys in memory for
    the session, installed as the add-on's store for one test."""
    from keyring.backends import fail
    from meshport.blender import service
    from meshport.blender.state import panel_state
    from support import require

    credentials = importlib.util.find_spec("meshport.core.credentials")
    require(credentials is not None, "core/credentials.py is not written yet")
    from meshport.core.credentials import CredentialStore

    store = CredentialStore(backend=fail.Keyring())
    service.use_credential_store(store)
    panel_state.key_stored.clear()
    panel_state.key_checks.clear()
    panel_state.key_store_name = ""
    yield store
    service.use_credential_store(None)
    panel_state.key_stored.clear()
    panel_state.key_checks.clear()
    panel_state.key_store_name = ""


@pytest.fixture
def runner(addon):
    from meshport.blender import runtime

    return runtime.get_runner()


# Fake Sketchfab and Poly Haven servers, one pair per test module, reset before each
# test, and the settings that point at them.


@pytest.fixture(scope="module")
def sample_assets_folder():
    from support import SAMPLE_ASSETS, require

    require(
        (SAMPLE_ASSETS / "MANIFEST.md").is_file(), f"sample assets not found in {SAMPLE_ASSETS}"
    )
    return SAMPLE_ASSETS


@pytest.fixture(scope="module")
def sketchfab_server(sample_assets_folder):
    with FakeSketchfab(sketchfab_library(sample_assets_folder)) as fake:
        yield fake


@pytest.fixture(scope="module")
def polyhaven_server(sample_assets_folder):
    with FakePolyHaven(polyhaven_library(sample_assets_folder)) as fake:
        yield fake


@pytest.fixture
def sketchfab(sketchfab_server):
    sketchfab_server.reset()
    return sketchfab_server


@pytest.fixture
def polyhaven(polyhaven_server):
    polyhaven_server.reset()
    return polyhaven_server


@pytest.fixture
def settings(make_settings, sketchfab, polyhaven):
    return make_settings(
        {"sketchfab": sketchfab.api_base, "polyhaven": polyhaven.url},
        keys={"sketchfab": DEFAULT_API_KEY},
    )
