"""The Status panel, the cache rows and Clear operators of the preferences, and the
network preferences as ``Settings`` receives them."""

from __future__ import annotations

import threading
from dataclasses import replace

import bpy
import pytest
import requests
from fakes.sketchfab import DEFAULT_API_KEY, FakeSketchfab
from meshport import preferences as preferences_module
from meshport.blender import assets, runtime, service, status
from meshport.blender.state import (
    PlatformStatus,
    StatusReport,
    panel_state,
    status_cache,
)
from meshport.core import deprecation
from meshport.core.config import DEFAULT_RATE_PER_HOUR
from meshport.core.errors import RateLimitedError
from meshport.core.models import SearchQuery
from meshport.panels import sidebar
from meshport.panels.status import MESHPORT_PT_status

from blender.layout_recorder import LayoutRecorder, fake_context, fake_panel

JOB_TIMEOUT = 60.0
BLOCKED_LINE = "Sketchfab: rate limited, next request in 42 s"

HEALTHY = PlatformStatus(
    "sketchfab",
    "Sketchfab",
    "Sketchfab: 40 requests, 97.5% succeeded, median 120 ms, p95 340 ms",
    "Sketchfab: 960 of 1000 requests left per hour",
)
BLOCKED = PlatformStatus(
    "sketchfab",
    "Sketchfab",
    "Sketchfab: 3 requests, 33.3% succeeded, median 80 ms, p95 90 ms",
    BLOCKED_LINE,
    blocked=True,
    last_error="Last error: HTTP 429 at 2026-01-01T10:00:00.000+00:00 (http://127.0.0.1/v3/search)",
)
IDLE = PlatformStatus("polyhaven", "Poly Haven", "Poly Haven: no requests sent yet")


def report(*platforms, **fields) -> StatusReport:
    values = {
        "platforms": platforms,
        "policy_line": "No studio policy is installed, so nothing is restricted.",
        "trust_line": "TLS trust: requests' default CA bundle (certifi).",
        "backend_line": "Response cache and rate budgets: SQLite in this computer's user folder.",
        "response_cache_bytes": 2048,
        "response_cache_entries": 3,
        "asset_cache_bytes": 5_000_000,
    }
    values.update(fields)
    return StatusReport(**values)


STATES = {
    "healthy": lambda: report(HEALTHY, IDLE),
    "blocked": lambda: report(BLOCKED, IDLE),
    "unreadable": lambda: report(
        IDLE,
        response_cache_bytes=None,
        response_cache_entries=None,
        asset_cache_bytes=None,
        problems=("Response cache: the studio Redis at redis://127.0.0.1:1/0 did not respond.",),
    ),
    "no_platforms": lambda: report(),
}


@pytest.fixture
def status_state(addon):
    """Reset the status report, the sidebar and the deprecation notices after a test."""
    status_cache.finish_refresh(None)
    status_cache.report = None
    yield status_cache
    wait_for_status_jobs()
    status_cache.finish_refresh(None)
    status_cache.report = None
    panel_state.reset()
    deprecation.NOTICES.clear()


@pytest.fixture(autouse=True)
def _close_shared_files():
    yield
    from meshport.core import audit, ratelimit

    ratelimit.close_stores()
    audit.close_logs()
    assets.forget_caches()


def wait_for_status_jobs() -> None:
    runner = runtime.get_runner()
    for job in [job for job in runner.jobs if status.is_status_job(job)]:
        runner.wait(job, timeout=JOB_TIMEOUT)


def draw(panel_class, region_width: int = 2000):
    """Draw at a width where no line used in these tests wraps."""
    layout = LayoutRecorder()
    panel_class.draw(fake_panel(layout), fake_context(region_width))
    return layout.recording


# ---------------------------------------------------------------- panel drawing


def test_status_panel_is_closed_by_default(addon):
    assert MESHPORT_PT_status.bl_options == {"DEFAULT_CLOSED"}
    assert MESHPORT_PT_status.bl_category == sidebar.CATEGORY


@pytest.mark.parametrize("state_name", sorted(STATES))
def test_status_panel_draws_in_every_state(status_state, state_name):
    status_cache.finish_refresh(STATES[state_name]())

    recording = draw(MESHPORT_PT_status)

    assert recording.calls, f"the Status panel drew nothing in state {state_name}"
    assert status_cache.refreshing is False, "a fresh report was read again"


def test_status_panel_shows_health_and_budget(status_state):
    status_cache.finish_refresh(report(HEALTHY, IDLE))

    text = draw(MESHPORT_PT_status).joined_text()

    assert "40 requests, 97.5% succeeded" in text
    assert "median 120 ms, p95 340 ms" in text
    assert "960 of 1000 requests left per hour" in text
    assert "Poly Haven: no requests sent yet" in text


def test_status_panel_marks_blocked_platform(status_state):
    status_cache.finish_refresh(report(BLOCKED))

    recording = draw(MESHPORT_PT_status)

    assert BLOCKED_LINE in recording.texts()
    assert {"alert": True} in [call.arguments for call in recording.named("set")]
    assert any("Last error: HTTP 429" in text for text in recording.texts())


def test_status_panel_shows_policy_trust_and_caches(status_state):
    status_cache.finish_refresh(report(HEALTHY))

    text = draw(MESHPORT_PT_status).joined_text()

    assert "No studio policy is installed" in text
    assert "TLS trust: requests' default CA bundle" in text
    assert "Response cache: 3 responses, 2.0 KB" in text
    assert "Asset cache: 5.0 MB" in text


def test_status_panel_shows_unreadable_parts(status_state):
    status_cache.finish_refresh(STATES["unreadable"]())

    text = draw(MESHPORT_PT_status).joined_text()

    assert "the studio Redis at redis://127.0.0.1:1/0 did not respond" in text


def test_status_panel_shows_deprecation_notice(status_state):
    status_cache.finish_refresh(report(HEALTHY))
    response = requests.Response()
    response.headers["Sunset"] = "Wed, 01 Jul 2026 00:00:00 GMT"
    response.url = "https://api.sketchfab.com/v3/search"
    deprecation.NOTICES.record("sketchfab", response)

    text = draw(MESHPORT_PT_status).joined_text()

    assert "will shut it down on 2026-07-01" in text


def test_status_panel_without_report_reads_one(status_state, user_resources):
    recording = draw(MESHPORT_PT_status)
    wait_for_status_jobs()

    assert "Reading the status" in recording.texts()
    assert status_cache.report is not None
    assert status_cache.refreshing is False
    labels = [platform.label for platform in status_cache.report.platforms]
    assert "Sketchfab" in labels
    assert "Local library" not in labels


def test_stale_report_is_read_again(status_state):
    status_cache.finish_refresh(replace(report(HEALTHY), read_at=float("-inf")))

    draw(MESHPORT_PT_status)
    wait_for_status_jobs()

    assert status_cache.report.platform("sketchfab").health_line != HEALTHY.health_line


def test_sidebar_shows_blocked_current_platform(status_state, online_access):
    bpy.context.window_manager.meshport.platform = "sketchfab"
    panel_state.key_stored["sketchfab"] = True
    status_cache.finish_refresh(report(BLOCKED))

    recording = draw(sidebar.MESHPORT_PT_sidebar)

    assert BLOCKED_LINE in recording.texts()


def test_sidebar_hides_block_of_other_platform(status_state, online_access):
    bpy.context.window_manager.meshport.platform = "polyhaven"
    status_cache.finish_refresh(report(BLOCKED, IDLE))

    recording = draw(sidebar.MESHPORT_PT_sidebar)

    assert BLOCKED_LINE not in recording.texts()


# ---------------------------------------------------------------- read on a worker


@pytest.fixture
def sketchfab_server():
    with FakeSketchfab([]) as fake:
        yield fake


def test_read_status_reports_rate_limited_platform(make_settings, sketchfab_server, runner):
    settings = make_settings(
        {"sketchfab": sketchfab_server.api_base}, keys={"sketchfab": DEFAULT_API_KEY}
    )
    sketchfab_server.fail("search", 429, retry_after=3600)
    errors = []
    job = service.start_search(
        runner,
        settings,
        "sketchfab",
        SearchQuery("fox"),
        on_done=None,
        on_error=lambda job, error: errors.append(error),
    )
    runner.wait(job, timeout=JOB_TIMEOUT)
    assert isinstance(errors[0], RateLimitedError)

    read = status.read_status(settings, {"sketchfab": "Sketchfab"})

    sketchfab = read.platform("sketchfab")
    assert sketchfab.blocked is True
    assert sketchfab.budget_line.startswith("Sketchfab: rate limited, next request in ")
    assert sketchfab.last_error.startswith("Last error: HTTP 429")
    assert sketchfab.health_line.startswith("Sketchfab: 1 request, 0.0% succeeded")


def test_read_status_names_custom_ca_bundle_problem(make_settings, tmp_path):
    settings = make_settings(ca_bundle=str(tmp_path / "missing.pem"))

    read = status.read_status(settings, {})

    assert "missing.pem" in read.trust_line


def test_backend_line_redacts_redis_password(make_settings, monkeypatch):
    monkeypatch.delenv("MESHPORT_REDIS_URL", raising=False)
    settings = make_settings(redis_url="redis://:hunter2-secret@127.0.0.1:6390/0")

    line = status.backend_line(settings)

    assert "hunter2-secret" not in line
    assert "127.0.0.1:6390" in line
    assert "from the preference" in line


def test_backend_line_names_environment_override(make_settings, monkeypatch):
    monkeypatch.setenv("MESHPORT_REDIS_URL", "redis://127.0.0.1:6391/0")

    line = status.backend_line(make_settings(redis_url="redis://127.0.0.1:6390/0"))

    assert "127.0.0.1:6391" in line
    assert "from MESHPORT_REDIS_URL" in line


# ---------------------------------------------------------------- clear operators


def test_clear_asset_cache_empties_cache(addon, status_state, tmp_path):
    settings = service.settings_from_preferences(read_keys=False)
    source = tmp_path / "model.glb"
    source.write_bytes(b"glTF" + b"\0" * 100)
    assets.asset_cache(settings).store(assets.CacheKey("sketchfab", "a1", "v1"), source)
    assert assets.cache_size(settings) > 0

    result = bpy.ops.meshport.clear_asset_cache()

    assert result == {"FINISHED"}
    assert assets.cache_size(settings) == 0


def test_clear_response_cache_empties_cache(addon, status_state):
    from meshport.core import response_cache

    settings = service.settings_from_preferences(read_keys=False)
    backend = response_cache.open_backend(settings)
    backend.responses["some-key"] = "some-value"
    backend.close()
    assert response_cache.size(settings).entries == 1

    result = bpy.ops.meshport.clear_response_cache()

    assert result == {"FINISHED"}
    assert response_cache.size(settings).entries == 0


@pytest.mark.parametrize("idname", ["clear_response_cache", "clear_asset_cache"])
def test_clear_waits_while_job_runs(addon, runner, idname):
    operator = getattr(bpy.ops.meshport, idname)
    release = threading.Event()
    job = runner.submit("held job", lambda context: release.wait(JOB_TIMEOUT))
    try:
        assert operator.poll() is False
    finally:
        release.set()
        runner.wait(job, timeout=JOB_TIMEOUT)

    assert operator.poll() is True


# ---------------------------------------------------------------- preferences to Settings


def test_network_preferences_reach_settings(preferences, tmp_path, monkeypatch):
    monkeypatch.delenv("MESHPORT_REDIS_URL", raising=False)
    bundle = tmp_path / "studio.pem"
    preferences.sketchfab_rate_per_hour = 321
    preferences.github_rate_per_hour = 77
    preferences.retry_budget_seconds = 12.5
    preferences.max_parallel_downloads = 9
    preferences.ca_bundle = str(bundle)
    preferences.redis_url = "redis://127.0.0.1:6390/2"
    preferences.asset_cache_gib = 2.0

    settings = service.settings_from_preferences(read_keys=False)

    assert settings.platform("sketchfab").rate_per_hour == 321
    assert settings.platform("github").rate_per_hour == 77
    assert settings.retry_budget_seconds == 12.5
    assert settings.max_parallel_downloads == 9
    assert settings.ca_bundle == str(bundle)
    assert settings.redis_url == "redis://127.0.0.1:6390/2"
    assert settings.asset_cache_max_bytes == 2 * 2**30


def test_network_preferences_default_to_settings_defaults(preferences):
    settings = service.settings_from_preferences(read_keys=False)

    for platform_id, rate in DEFAULT_RATE_PER_HOUR.items():
        assert settings.platform(platform_id).rate_per_hour == rate, platform_id
    assert settings.retry_budget_seconds == 60.0
    assert settings.max_parallel_downloads == 4
    assert settings.ca_bundle is None
    assert settings.redis_url is None
    assert settings.asset_cache_max_bytes == 5 * 2**30


def test_system_trust_preference_is_kept_as_word(preferences):
    preferences.ca_bundle = "system"

    assert service.settings_from_preferences(read_keys=False).ca_bundle == "system"


def test_parallel_downloads_preference_is_bounded(preferences):
    preferences.max_parallel_downloads = 64

    assert preferences.max_parallel_downloads == 16


def draw_preferences(preferences) -> str:
    layout = LayoutRecorder()
    preferences_module.draw_preferences(layout, preferences)
    return layout.recording


def test_preferences_show_cache_sizes_and_clear_buttons(preferences, session_keys, status_state):
    status_cache.finish_refresh(report())

    recording = draw_preferences(preferences)

    assert "Response cache: 3 responses, 2.0 KB" in recording.texts()
    assert "Asset cache: 5.0 MB" in recording.texts()
    assert recording.operators("meshport.clear_response_cache")
    assert recording.operators("meshport.clear_asset_cache")


def test_preferences_say_environment_overrides_redis(
    preferences, session_keys, status_state, monkeypatch
):
    status_cache.finish_refresh(report())
    monkeypatch.setenv("MESHPORT_REDIS_URL", "redis://:pw-in-env@127.0.0.1:6391/0")

    texts = draw_preferences(preferences).joined_text()

    assert "MESHPORT_REDIS_URL is set and overrides this field" in texts
    assert "pw-in-env" not in texts


def test_preferences_warn_about_password_in_redis_field(preferences, session_keys, status_state):
    status_cache.finish_refresh(report())
    preferences.redis_url = "redis://:pw-in-field@127.0.0.1:6390/0"

    texts = draw_preferences(preferences).joined_text()

    assert "contains a password" in texts
