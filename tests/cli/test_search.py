"""``meshport search`` against the sandbox and the fake Sketchfab server."""

from __future__ import annotations

import pytest
from fakes.github import SAMPLE_OWNER, SAMPLE_REPOSITORY, FakeGitHub
from fakes.github import sample_library as github_library
from fakes.sketchfab import DEFAULT_API_KEY, FakeSketchfab, sample_library, uid_for
from meshport.sandbox.packing import stable_uid


@pytest.fixture
def fake_sketchfab(sample_assets):
    with FakeSketchfab(sample_library(sample_assets)) as server:
        yield server


def fake_env(server: FakeSketchfab) -> dict[str, str]:
    return {"MESHPORT_SKETCHFAB_URL": server.api_base, "MESHPORT_SKETCHFAB_KEY": DEFAULT_API_KEY}


def test_search_lists_ids_as_json(meshport, sandbox_env):
    run = meshport.run("search", "sketchfab", "figure", "--json", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    results = run.json()["results"]
    assert [result["name"] for result in results] == ["Walking Figure"]
    assert results[0]["id"] == stable_uid("walking_figure")
    assert results[0]["ref"] == f"sketchfab:{stable_uid('walking_figure')}"


def test_search_text_shows_source_column(meshport, sandbox_env):
    run = meshport.run("search", "sketchfab", "crate", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].split()[:3] == ["SOURCE", "NAME", "AUTHOR"]
    assert f"sketchfab:{stable_uid('painted_crate')}" in run.stdout


def test_search_animated_filter_keeps_animated_models(meshport, sandbox_env):
    run = meshport.run("search", "sketchfab", "--animated", "--json", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    results = run.json()["results"]
    assert results
    assert all(result["animated"] for result in results)


def test_search_license_filter(meshport, sandbox_env):
    run = meshport.run("search", "sketchfab", "--license", "cc0", "--json", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    names = {result["name"] for result in run.json()["results"]}
    assert names == {"Painted Crate", "Walking Figure", "Granite Boulder"}


def test_search_category_filter(meshport, sandbox_env):
    run = meshport.run(
        "search", "sketchfab", "--category", "nature-plants", "--json", env=sandbox_env
    )

    assert run.returncode == 0, run.stderr
    assert [result["name"] for result in run.json()["results"]] == ["Granite Boulder"]


def test_search_page_token_fetches_next_page(meshport, sandbox_env):
    first = meshport.run("search", "sketchfab", "--count", "2", "--json", env=sandbox_env)
    token = first.json()["next_page_token"]
    second = meshport.run("search", "sketchfab", "--page-token", token, "--json", env=sandbox_env)

    assert second.returncode == 0, second.stderr
    first_ids = {result["id"] for result in first.json()["results"]}
    second_ids = {result["id"] for result in second.json()["results"]}
    assert len(first_ids) == 2
    assert second_ids
    assert not first_ids & second_ids


def test_search_polyhaven_on_sandbox(meshport, sandbox_env):
    run = meshport.run("search", "polyhaven", "boulder", "--json", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    assert [result["id"] for result in run.json()["results"]] == ["granite_boulder"]


def test_search_fake_sketchfab_finds_fox(meshport, fake_sketchfab):
    run = meshport.run("search", "sketchfab", "fox", "--json", env=fake_env(fake_sketchfab))

    assert run.returncode == 0, run.stderr
    assert [result["name"] for result in run.json()["results"]] == ["Fox"]
    assert fake_sketchfab.requests_to("/v3/search")


def test_search_invalid_filter_value_exits_2(meshport, fake_sketchfab):
    run = meshport.run(
        "search", "sketchfab", "x", "--category", "nonsense", "--json", env=fake_env(fake_sketchfab)
    )

    assert run.returncode == 2
    assert "nonsense" in run.json()["error"]["message"]
    assert not fake_sketchfab.requests_seen


def test_search_offline_sends_no_request(meshport, fake_sketchfab):
    run = meshport.run(
        "search", "sketchfab", "fox", "--offline", "--json", env=fake_env(fake_sketchfab)
    )

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "offline"
    assert fake_sketchfab.requests_seen == []


def test_search_wrong_key_exits_1(meshport, fake_sketchfab):
    env = {**fake_env(fake_sketchfab), "MESHPORT_SKETCHFAB_KEY": "not-the-key"}

    run = meshport.run("search", "sketchfab", "fox", "--json", env=env)

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "authentication"
    assert "not-the-key" not in run.stdout + run.stderr


def test_search_unreachable_server_exits_1(meshport, unused_port):
    env = {"MESHPORT_SKETCHFAB_URL": f"http://127.0.0.1:{unused_port}/v3"}

    run = meshport.run("search", "sketchfab", "fox", "--json", env=env)

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "network"
    assert "Traceback" not in run.stderr


def test_rejected_key_message_names_its_variable(meshport, sandbox_env):
    env = {**sandbox_env, "MESHPORT_SKETCHFAB_KEY": "not-the-sandbox-key"}

    run = meshport.run("search", "sketchfab", "crate", "--json", env=env)

    assert run.returncode == 1
    message = run.json()["error"]["message"]
    assert "HTTP 401" in message
    assert "MESHPORT_SKETCHFAB_KEY" in message
    assert "not-the-sandbox-key" not in run.stdout + run.stderr


def test_github_repository_listing_without_token(meshport, sample_assets):
    library = github_library(sample_assets)
    with FakeGitHub(library) as api:
        env = {"MESHPORT_GITHUB_URL": api.url}

        run = meshport.run(
            "search", "github", "fox", "--repo", f"{SAMPLE_OWNER}/{SAMPLE_REPOSITORY}",
            "--format", "gltf", "--json", env=env,
        )

    assert run.returncode == 0, run.stderr
    ids = [result["id"] for result in run.json()["results"]]
    assert ids == [f"{SAMPLE_OWNER}/{SAMPLE_REPOSITORY}:gltf/Fox/Fox.gltf@main"]
    assert all(seen.headers.get("Authorization") is None for seen in api.requests_seen)


def test_polyhaven_author_filter(meshport, sandbox_env):
    run = meshport.run("search", "polyhaven", "--author", "nobody", "--json", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    assert run.json()["results"] == []


# Notices


def test_polyhaven_search_prints_attribution(meshport, sandbox_env):
    text = meshport.run("search", "polyhaven", "boulder", env=sandbox_env)
    document = meshport.run("search", "polyhaven", "boulder", "--json", env=sandbox_env)

    assert text.returncode == 0, text.stderr
    assert "meshport: note: Powered by Poly Haven" in text.stderr.splitlines()
    assert "Powered by Poly Haven" not in text.stdout
    assert document.returncode == 0, document.stderr
    assert document.json()["notice"] == "Powered by Poly Haven"


def test_search_without_notice_has_empty_notice(meshport, sandbox_env):
    run = meshport.run("search", "sketchfab", "crate", "--json", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    assert run.json()["notice"] == ""
    assert "note:" not in run.stderr


def test_github_truncated_tree_notice_is_printed(meshport, sample_assets):
    library = github_library(sample_assets)
    library[0].truncate_tree_at = 2
    with FakeGitHub(library) as api:
        env = {"MESHPORT_GITHUB_URL": api.url}
        repository = f"{SAMPLE_OWNER}/{SAMPLE_REPOSITORY}"
        text = meshport.run("search", "github", "--repo", repository, env=env)
        document = meshport.run("search", "github", "--repo", repository, "--json", env=env)

    assert text.returncode == 0, text.stderr
    assert f"meshport: note: {repository} has too many files" in text.stderr
    assert document.returncode == 0, document.stderr
    assert document.json()["notice"].startswith(f"{repository} has too many files")


# Control characters from servers

FORGED_NAME = "B\nmeshport: error: x\x1b[2J\r\u202e"


@pytest.fixture
def forged_sketchfab(sample_assets):
    models = sample_library(sample_assets)
    fox = next(model for model in models if model.name == "Fox")
    fox.name = FORGED_NAME
    fox.display_name = "Author\x1b]0;title\x07"
    with FakeSketchfab(models) as server:
        yield server


def test_search_table_escapes_control_characters(meshport, forged_sketchfab):
    run = meshport.run("search", "sketchfab", "fox", env=fake_env(forged_sketchfab))

    assert run.returncode == 0, run.stderr
    output = run.stdout + run.stderr
    for character in ("\x1b", "\r", "\x07", "\u202e"):
        assert character not in output
    assert not any(line.startswith("meshport: error") for line in output.splitlines())
    assert "B\\nmeshport: error: x\\x1b[2J\\r\\u202e" in run.stdout


def test_search_json_keeps_control_characters_escaped(meshport, forged_sketchfab):
    run = meshport.run("search", "sketchfab", "fox", "--json", env=fake_env(forged_sketchfab))

    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout
    assert run.json()["results"][0]["name"] == FORGED_NAME


def test_import_summary_escapes_control_characters(meshport, forged_sketchfab, tmp_path):
    out = tmp_path / "fox.blend"

    run = meshport.run(
        "import", f"sketchfab:{uid_for('Fox')}", "--out", str(out), env=fake_env(forged_sketchfab)
    )

    assert run.returncode == 0, run.stderr
    output = run.stdout + run.stderr
    assert "\x1b" not in output
    assert "\r" not in output
    assert not any(line.startswith("meshport: error") for line in output.splitlines())
    assert 'Imported "B\\nmeshport: error: x\\x1b[2J' in run.stdout


def test_error_message_escapes_control_characters(meshport, forged_sketchfab, tmp_path):
    forged_sketchfab.fail("download", 403, uid=uid_for("Fox"), detail="denied\nmeshport: ok")

    run = meshport.run(
        "import",
        f"sketchfab:{uid_for('Fox')}",
        "--out",
        str(tmp_path / "fox.blend"),
        env=fake_env(forged_sketchfab),
    )

    assert run.returncode == 1
    lines = run.stderr.splitlines()
    assert lines[-1].startswith("meshport: error: ")
    assert "'B\\nmeshport: error: x\\x1b[2J\\r\\u202e'" in lines[-1]
    assert "(denied\\nmeshport: ok)" in lines[-1]
    assert not any(line.startswith("meshport: ok") for line in lines)
    assert "\x1b" not in run.stderr


# Page tokens

ENCODED_GARBAGE = "eyJub3QiOiAiYSB0b2tlbiJ9"  # base64 of {"not": "a token"}


@pytest.mark.parametrize("platform", ["sketchfab", "polyhaven", "github", "local", "unity"])
def test_unparsable_page_token_exits_2(meshport, platform):
    run = meshport.run("search", platform, "--page-token", "garbage", "--json")

    assert run.returncode == 2
    message = run.json()["error"]["message"]
    assert run.json()["error"]["kind"] == "usage"
    assert "'garbage'" in message
    assert "Copy the token" in message


def test_page_token_on_other_host_exits_2(meshport, fake_sketchfab, unused_port):
    token = f"http://127.0.0.1:{unused_port}/v3/search?cursor=2"

    run = meshport.run(
        "search", "sketchfab", "--page-token", token, "--json", env=fake_env(fake_sketchfab)
    )

    assert run.returncode == 2
    assert token in run.json()["error"]["message"]
    assert not fake_sketchfab.requests_seen


def test_polyhaven_token_with_wrong_fields_exits_2(meshport, sandbox_env):
    run = meshport.run(
        "search", "polyhaven", "--page-token", ENCODED_GARBAGE, "--json", env=sandbox_env
    )

    assert run.returncode == 2
    assert run.json()["error"]["kind"] == "usage"


def test_valid_token_failing_at_server_exits_1(meshport, fake_sketchfab):
    token = f"{fake_sketchfab.api_base}/search?cursor=2"
    fake_sketchfab.fail("search", 500)

    run = meshport.run(
        "search", "sketchfab", "--page-token", token, "--json", env=fake_env(fake_sketchfab)
    )

    assert run.returncode == 1
    assert fake_sketchfab.requests_to("/v3/search")
