"""``meshport sandbox``: its printed lines, request log, protocols and shutdown."""

from __future__ import annotations

import hashlib
import signal
import subprocess

import pytest
import requests
from meshport.sandbox.packing import stable_uid

from cli.runner import SandboxProcess

FIGURE = stable_uid("walking_figure")


def sketchfab(sandbox, path: str, key: str | None = None, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Token {key}"} if key else {}
    return requests.get(
        sandbox.variables["MESHPORT_SKETCHFAB_URL"] + path, headers=headers, timeout=10, **kwargs
    )


def polyhaven(sandbox, path: str) -> requests.Response:
    return requests.get(sandbox.variables["MESHPORT_POLYHAVEN_URL"] + path, timeout=10)


def demo_key(sandbox) -> str:
    return sandbox.variables["MESHPORT_SKETCHFAB_KEY"]


# The printed lines


def test_printed_lines_point_at_loopback(sandbox):
    for name in ("MESHPORT_SKETCHFAB_URL", "MESHPORT_POLYHAVEN_URL"):
        assert sandbox.variables[name].startswith("http://127.0.0.1:")


def test_printed_lines_are_shell_exports(sandbox):
    exports = [line for line in sandbox.lines if line.startswith("export MESHPORT_")]
    script = "\n".join([*exports, 'printf "%s\\n" "$MESHPORT_SKETCHFAB_URL"'])

    shell = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={})

    assert len(exports) == 3
    assert shell.stdout.strip() == sandbox.variables["MESHPORT_SKETCHFAB_URL"]


def test_printed_lines_work_for_search(meshport, sandbox):
    run = meshport.run("search", "sketchfab", "walking", "--json", env=sandbox.variables)

    assert run.returncode == 0, run.stderr
    assert [result["id"] for result in run.json()["results"]] == [FIGURE]


def test_request_log_has_method_path_and_status(sandbox):
    mark = sandbox.mark()

    sketchfab(sandbox, "/me", demo_key(sandbox))

    assert sandbox.requests_since(mark) == ["GET /v3/me 200"]


def test_request_log_hides_key_and_signatures(sandbox):
    mark = sandbox.mark()
    offers = sketchfab(sandbox, f"/models/{FIGURE}/download", demo_key(sandbox)).json()
    requests.get(offers["glb"]["url"], timeout=10)

    served = sandbox.requests_since(mark)
    signature = offers["glb"]["url"].split("signature=")[1]
    assert len(served) == 2
    assert all(demo_key(sandbox) not in line for line in served)
    assert all(signature not in line for line in served)
    assert served[1].endswith("signature=REDACTED 200")


# The Sketchfab protocol


def test_download_needs_the_demo_key(sandbox):
    assert sketchfab(sandbox, f"/models/{FIGURE}/download").status_code == 401
    assert sketchfab(sandbox, f"/models/{FIGURE}/download", "other-key").status_code == 401


def test_storage_rejects_authorization_header(sandbox):
    offers = sketchfab(sandbox, f"/models/{FIGURE}/download", demo_key(sandbox)).json()

    response = requests.get(
        offers["glb"]["url"], headers={"Authorization": f"Token {demo_key(sandbox)}"}, timeout=10
    )

    assert response.status_code == 400


def test_storage_rejects_changed_signature(sandbox):
    offers = sketchfab(sandbox, f"/models/{FIGURE}/download", demo_key(sandbox)).json()

    response = requests.get(offers["glb"]["url"][:-4] + "0000", timeout=10)

    assert response.status_code == 403


def test_storage_serves_announced_size(sandbox):
    offers = sketchfab(sandbox, f"/models/{FIGURE}/download", demo_key(sandbox)).json()

    for archive in ("glb", "gltf"):
        body = requests.get(offers[archive]["url"], timeout=10).content
        assert len(body) == offers[archive]["size"]


def test_search_pages_cover_every_model_once(sandbox):
    seen = []
    url = "/search?type=models&count=3&archives_flavours=false"
    response = sketchfab(sandbox, url)
    while True:
        page = response.json()
        seen += [result["uid"] for result in page["results"]]
        if not page["next"]:
            break
        response = requests.get(page["next"], timeout=10)

    assert len(seen) == len(set(seen))
    assert FIGURE in seen


def test_every_model_has_name_author_licence_and_counts(sandbox):
    page = sketchfab(sandbox, "/search?type=models&count=24&archives_flavours=false").json()

    for result in page["results"]:
        detail = sketchfab(sandbox, f"/models/{result['uid']}").json()
        assert detail["name"], result["uid"]
        assert detail["user"]["displayName"], result["uid"]
        assert detail["license"]["label"], result["uid"]
        assert isinstance(detail["faceCount"], int), result["uid"]
        assert isinstance(detail["vertexCount"], int), result["uid"]


def test_search_rejects_unknown_licence(sandbox):
    response = sketchfab(sandbox, "/search?type=models&licenses=nonsense")

    assert response.status_code == 400
    assert "nonsense" in response.json()["detail"]


def test_sample_files_are_served(sandbox, sample_assets):
    names = {
        result["name"]
        for result in sketchfab(sandbox, "/search?type=models&q=sample&count=24").json()["results"]
    }

    assert "Fox (glTF)" in names
    assert "CesiumMan (GLB)" in names
    assert "maya cube 7400 binary (FBX)" in names
    assert "blender 279 ball 0 obj (OBJ)" in names
    assert "maya cube 7400 ascii (FBX)" not in names


# The Poly Haven protocol


def test_polyhaven_lists_generated_models(sandbox):
    response = polyhaven(sandbox, "/assets?t=models")

    assert response.status_code == 200
    assert set(response.json()) == {"painted_crate", "walking_figure", "granite_boulder"}
    assert response.headers["Cache-Control"] == "public, max-age=43200"


def test_polyhaven_files_md5_match_the_bytes(sandbox):
    files = polyhaven(sandbox, "/files/painted_crate").json()
    entry = files["gltf"]["1k"]["gltf"]

    for described in [entry, *entry["include"].values()]:
        body = requests.get(described["url"], timeout=10).content
        assert hashlib.md5(body).hexdigest() == described["md5"], described["url"]
        assert len(body) == described["size"], described["url"]


def test_polyhaven_unknown_asset_is_404(sandbox):
    assert polyhaven(sandbox, "/info/no_such_asset").status_code == 404


# Start and stop


@pytest.mark.parametrize(
    "signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_sandbox_exits_0_on_signal(sandbox_home, signal_number):
    process = SandboxProcess(*sandbox_home)

    assert process.stop(signal_number) == 0


def test_sandbox_listens_on_requested_port(sandbox_home, unused_port):
    process = SandboxProcess(*sandbox_home, "--port", str(unused_port))
    try:
        assert process.variables["MESHPORT_SKETCHFAB_URL"] == f"http://127.0.0.1:{unused_port}/v3"
    finally:
        process.stop()


def test_sandbox_on_busy_port_exits_1(meshport, sandbox):
    port = sandbox.url.rsplit(":", 1)[1]

    run = meshport.run("sandbox", "--port", port)

    assert run.returncode == 1
    assert f"127.0.0.1:{port}" in run.stderr


def test_sandbox_leaves_temp_folder_empty(sandbox_home, tmp_path):
    user_dir, _ = sandbox_home
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    process = SandboxProcess(user_dir, temp_dir)

    process.stop(signal.SIGTERM)

    assert list(temp_dir.iterdir()) == []
