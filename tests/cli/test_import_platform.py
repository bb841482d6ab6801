"""``meshport import PLATFORM:ID``: search, download and import on the real path, against
the sandbox and the fake Sketchfab server."""

from __future__ import annotations

import pytest
from fakes.sketchfab import DEFAULT_API_KEY, FakeModel, FakeSketchfab, sample_library, uid_for
from meshport.sandbox.packing import stable_uid

FIGURE = stable_uid("walking_figure")
CRATE = stable_uid("painted_crate")
BOULDER = stable_uid("granite_boulder")


@pytest.fixture
def fake_sketchfab(sample_assets):
    with FakeSketchfab(sample_library(sample_assets)) as server:
        yield server


def fake_env(server: FakeSketchfab, key: str = DEFAULT_API_KEY) -> dict[str, str]:
    return {"MESHPORT_SKETCHFAB_URL": server.api_base, "MESHPORT_SKETCHFAB_KEY": key}


def test_import_rigged_character_from_sandbox(meshport, sandbox_env, tmp_path):
    out = tmp_path / "figure.blend"

    run = meshport.run(
        "import", f"sketchfab:{FIGURE}", "--out", str(out), "--json", env=sandbox_env
    )

    assert run.returncode == 0, run.stderr
    document = run.json()
    assert document["armatures"]
    assert document["actions"]
    assert document["meshes"]
    assert out.is_file()


def test_import_textured_model_packs_image(meshport, sandbox_env, tmp_path):
    out = tmp_path / "crate.blend"

    run = meshport.run("import", f"sketchfab:{CRATE}", "--out", str(out), "--json", env=sandbox_env)

    assert run.returncode == 0, run.stderr
    assert run.json()["images"]
    assert b"painted_crate_diff" in out.read_bytes()


def test_import_json_lists_credits(meshport, sandbox_env, tmp_path):
    run = meshport.run(
        "--json",
        "import",
        f"sketchfab:{CRATE}",
        "--out",
        str(tmp_path / "c.blend"),
        env=sandbox_env,
    )

    assert run.returncode == 0, run.stderr
    credits = run.json()["credits"]
    assert len(credits) == 1
    assert credits[0].startswith('"Painted Crate" by Meshport sandbox (Sketchfab, ')
    assert credits[0].endswith("licence: CC0 Public Domain")


def test_import_gltf_archive_from_sandbox(meshport, sandbox_env, tmp_path):
    run = meshport.run(
        "import",
        f"sketchfab:{BOULDER}",
        "--out",
        str(tmp_path / "b.blend"),
        "--json",
        env=sandbox_env,
    )

    assert run.returncode == 0, run.stderr
    assert run.json()["images"]


def test_import_pasted_model_url(meshport, sandbox, sandbox_env, tmp_path):
    url = f"{sandbox.url}/3d-models/painted-crate-{CRATE}"

    run = meshport.run(
        "import", f"sketchfab:{url}", "--out", str(tmp_path / "c.blend"), "--json", env=sandbox_env
    )

    assert run.returncode == 0, run.stderr
    assert run.json()["meshes"]


def test_import_several_sources_into_one_file(meshport, sandbox_env, tmp_path):
    out = tmp_path / "both.blend"

    run = meshport.run(
        "import",
        f"sketchfab:{CRATE}",
        "polyhaven:granite_boulder",
        "--out",
        str(out),
        "--json",
        env=sandbox_env,
    )

    assert run.returncode == 0, run.stderr
    assert len(run.json()["imports"]) == 2
    assert len(run.json()["credits"]) == 2


def test_import_polyhaven_gltf_at_chosen_resolution(meshport, sandbox, sandbox_env, tmp_path):
    mark = sandbox.mark()

    run = meshport.run(
        "import",
        "polyhaven:granite_boulder",
        "--resolution",
        "2k",
        "--out",
        str(tmp_path / "b.blend"),
        "--json",
        env=sandbox_env,
    )

    assert run.returncode == 0, run.stderr
    served = sandbox.requests_since(mark)
    assert any("/gltf/2k/textures/granite_boulder_diff_2k.png 200" in line for line in served)
    assert not any("/1k/" in line for line in served)


def test_import_polyhaven_fbx_character(meshport, sandbox_env, tmp_path):
    run = meshport.run(
        "import",
        "polyhaven:walking_figure",
        "--format",
        "fbx",
        "--out",
        str(tmp_path / "f.blend"),
        "--json",
        env=sandbox_env,
    )

    assert run.returncode == 0, run.stderr
    assert run.json()["armatures"]
    assert run.json()["actions"]


def test_import_fake_sketchfab_fox_archive(meshport, fake_sketchfab, tmp_path):
    run = meshport.run(
        "import",
        f"sketchfab:{uid_for('Fox')}",
        "--out",
        str(tmp_path / "fox.blend"),
        "--json",
        env=fake_env(fake_sketchfab),
    )

    assert run.returncode == 0, run.stderr
    document = run.json()
    assert document["armatures"]
    assert len(document["actions"]) == 3
    assert document["images"]


def test_import_fake_sketchfab_cesium_man_glb(meshport, fake_sketchfab, tmp_path):
    run = meshport.run(
        "import",
        f"sketchfab:{uid_for('Cesium Man')}",
        "--out",
        str(tmp_path / "man.blend"),
        "--json",
        env=fake_env(fake_sketchfab),
    )

    assert run.returncode == 0, run.stderr
    assert run.json()["armatures"]
    assert run.json()["actions"]
    assert fake_sketchfab.requests_to("/storage/")


def test_not_downloadable_writes_no_file(meshport, fake_sketchfab, tmp_path):
    fake_sketchfab.add_model(FakeModel(uid_for("Locked"), "Locked", {}, downloadable=False))
    out = tmp_path / "locked.blend"

    run = meshport.run(
        "import",
        f"sketchfab:{uid_for('Locked')}",
        "--out",
        str(out),
        "--json",
        env=fake_env(fake_sketchfab),
    )

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "not_downloadable"
    assert "not downloadable" in run.stderr
    assert not out.exists()


def test_failed_import_leaves_existing_file_untouched(meshport, fake_sketchfab, tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    out = folder / "scene.blend"
    out.write_bytes(b"earlier contents")
    fake_sketchfab.fail("download", 404, uid=uid_for("Box"))

    run = meshport.run(
        "import", f"sketchfab:{uid_for('Box')}", "--out", str(out), env=fake_env(fake_sketchfab)
    )

    assert run.returncode == 1
    assert out.read_bytes() == b"earlier contents"
    assert sorted(path.name for path in folder.iterdir()) == ["scene.blend"]


def test_one_failing_source_writes_no_file(meshport, sandbox_env, tmp_path):
    out = tmp_path / "partly.blend"

    run = meshport.run(
        "import",
        f"sketchfab:{CRATE}",
        "polyhaven:no_such_asset",
        "--out",
        str(out),
        "--json",
        env=sandbox_env,
    )

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "not_found"
    assert not out.exists()


def test_wrong_key_is_reported_without_the_key(meshport, fake_sketchfab, tmp_path):
    out = tmp_path / "box.blend"

    run = meshport.run(
        "import",
        f"sketchfab:{uid_for('Box')}",
        "--out",
        str(out),
        "--json",
        env=fake_env(fake_sketchfab, key="wrong-key-1234"),
    )

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "authentication"
    assert "wrong-key-1234" not in run.stdout + run.stderr
    assert not out.exists()


def test_offline_import_sends_no_request(meshport, sandbox, sandbox_env, tmp_path):
    mark = sandbox.mark()
    out = tmp_path / "offline.blend"

    run = meshport.run(
        "import", f"sketchfab:{CRATE}", "--offline", "--out", str(out), "--json", env=sandbox_env
    )

    assert run.returncode == 1
    assert run.json()["error"]["kind"] == "offline"
    assert sandbox.requests_since(mark) == []
    assert not out.exists()


def test_import_leaves_temp_folder_empty(meshport, sandbox_env, tmp_path):
    run = meshport.run(
        "import", f"sketchfab:{CRATE}", "--out", str(tmp_path / "c.blend"), env=sandbox_env
    )

    assert run.returncode == 0, run.stderr
    assert list(meshport.temp_dir.iterdir()) == []


def test_import_keeps_state_under_user_folder(meshport, sandbox_env, tmp_path):
    run = meshport.run(
        "import", f"sketchfab:{CRATE}", "--out", str(tmp_path / "c.blend"), env=sandbox_env
    )

    assert run.returncode == 0, run.stderr
    log_files = list(meshport.user_dir.rglob("meshport.log"))
    assert len(log_files) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["blender-user", "c.blend", "tmp"]


@pytest.fixture
def fake_polyhaven(sample_assets):
    from fakes.polyhaven import FakePolyHaven
    from fakes.polyhaven import sample_library as polyhaven_library

    with FakePolyHaven(polyhaven_library(sample_assets)) as server:
        yield server


def test_import_fake_polyhaven_fox(meshport, fake_polyhaven, tmp_path):
    run = meshport.run(
        "import",
        "polyhaven:fox",
        "--out",
        str(tmp_path / "fox.blend"),
        "--json",
        env={"MESHPORT_POLYHAVEN_URL": fake_polyhaven.url},
    )

    assert run.returncode == 0, run.stderr
    assert run.json()["armatures"]
    assert run.json()["images"]
    assert fake_polyhaven.requests_to("/dl/fox/gltf/1k/")


def test_md5_mismatch_writes_no_file(meshport, fake_polyhaven, tmp_path):
    fake_polyhaven.announce_wrong_md5("fox", "fox.bin")
    out = tmp_path / "fox.blend"

    run = meshport.run(
        "import",
        "polyhaven:fox",
        "--out",
        str(out),
        "--json",
        env={"MESHPORT_POLYHAVEN_URL": fake_polyhaven.url},
    )

    assert run.returncode == 1
    assert "md5 mismatch" in run.json()["error"]["message"]
    assert not out.exists()
