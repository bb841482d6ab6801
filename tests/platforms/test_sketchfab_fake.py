"""The fake Sketchfab server speaks the documented v3 protocol (checked with plain requests)."""

from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fakes.sketchfab import (
    DEFAULT_API_KEY,
    FakeModel,
    FakeSketchfab,
    sample_library,
    uid_for,
)
from support import SAMPLE_ASSETS, require

AUTH = {"Authorization": f"Token {DEFAULT_API_KEY}"}
FOX = uid_for("Fox")
BOX = uid_for("Box")


@pytest.fixture(scope="module")
def library() -> list[FakeModel]:
    require(
        (SAMPLE_ASSETS / "MANIFEST.md").is_file(), f"sample assets not found in {SAMPLE_ASSETS}"
    )
    return sample_library(SAMPLE_ASSETS)


@pytest.fixture(scope="module")
def shared_server(library):
    with FakeSketchfab(library) as fake:
        yield fake


@pytest.fixture
def server(shared_server) -> FakeSketchfab:
    shared_server.reset()
    return shared_server


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=5, **kwargs)


def zip_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return sorted(bundle.namelist())


def test_search_pages_link_with_cursors():
    models = [FakeModel(uid_for(f"crate {n}"), f"Crate {n}") for n in range(30)]
    with FakeSketchfab(models) as fake:
        first = get(f"{fake.api_base}/search", params={"type": "models", "count": 50}).json()
        second = get(first["next"]).json()

    assert len(first["results"]) == 24
    assert first["cursors"] == {"next": "24", "previous": None}
    assert parse_qs(urlsplit(first["next"]).query)["count"] == ["50"]
    assert first["previous"] is None
    assert len(second["results"]) == 6
    assert second["next"] is None
    assert parse_qs(urlsplit(second["previous"]).query)["cursor"] == ["0"]


def test_search_rejects_other_types(server):
    response = get(f"{server.api_base}/search", params={"type": "collections"})

    assert response.status_code == 400
    assert "detail" in response.json()


def test_search_license_short_forms_vary(server):
    results = get(f"{server.api_base}/search", params={"type": "models"}).json()["results"]

    licenses = {result["name"]: result["license"] for result in results}
    assert licenses["Box"] == "by"
    assert licenses["Fox"] == {"label": "CC Attribution"}


def test_model_detail_has_license_object(server):
    detail = get(f"{server.api_base}/models/{FOX}").json()

    assert set(detail["license"]) >= {"slug", "label", "fullName", "requirements", "url"}
    assert detail["updatedAt"]
    assert "glb" not in detail["archives"]


def test_omitted_fields_are_missing(server):
    detail = get(f"{server.api_base}/models/{uid_for('Box Meshopt')}").json()

    assert "faceCount" not in detail
    assert "thumbnails" not in detail
    assert "displayName" not in detail["user"]
    assert detail["user"]["username"] == "cesium"


def test_unknown_model_gives_404_detail(server):
    response = get(f"{server.api_base}/models/{'0' * 32}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_download_requires_token(server):
    response = get(f"{server.api_base}/models/{FOX}/download")

    assert response.status_code == 401
    assert "detail" in response.json()
    assert "WWW-Authenticate" in response.headers


def test_wrong_token_is_rejected_on_public_routes(server):
    response = get(
        f"{server.api_base}/search",
        params={"type": "models"},
        headers={"Authorization": "Token wrong"},
    )

    assert response.status_code == 401


def test_download_answer_has_signed_links(server, library):
    answer = get(f"{server.api_base}/models/{BOX}/download", headers=AUTH).json()

    assert set(answer) == {"gltf", "glb"}
    assert answer["glb"]["size"] == len(library[0].archives["glb"])
    assert answer["glb"]["expires"] == 300
    query = parse_qs(urlsplit(answer["glb"]["url"]).query)
    assert set(query) == {"expires", "signature"}


def test_storage_serves_archive_without_authorization(server, library):
    url = get(f"{server.api_base}/models/{BOX}/download", headers=AUTH).json()["glb"]["url"]

    response = get(url)

    assert response.status_code == 200
    assert response.content == library[0].archives["glb"]


def test_storage_rejects_authorization_header(server):
    url = get(f"{server.api_base}/models/{BOX}/download", headers=AUTH).json()["glb"]["url"]

    response = get(url, headers=AUTH)

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/xml"


def test_storage_rejects_tampered_signature(server):
    url = get(f"{server.api_base}/models/{BOX}/download", headers=AUTH).json()["glb"]["url"]

    response = get(url.replace("signature=", "signature=0"))

    assert response.status_code == 403


def test_storage_rejects_expired_link(library):
    now = [1000.0]
    with FakeSketchfab(library, clock=lambda: now[0], link_lifetime=300) as fake:
        answer = get(f"{fake.api_base}/models/{BOX}/download", headers=AUTH).json()
        now[0] = 1301.0
        response = get(answer["glb"]["url"])

    assert response.status_code == 403
    assert b"expired" in response.content


def test_fault_applies_given_number_of_times(server):
    server.fail("me", 429, times=1, retry_after=7)

    first = get(f"{server.api_base}/me", headers=AUTH)
    second = get(f"{server.api_base}/me", headers=AUTH)

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert second.status_code == 200
    assert second.json()["account"] == "basic"


def test_fault_for_one_model_spares_others(server):
    server.fail("download", 403, uid=FOX)

    fox = get(f"{server.api_base}/models/{FOX}/download", headers=AUTH)
    box = get(f"{server.api_base}/models/{BOX}/download", headers=AUTH)

    assert fox.status_code == 403
    assert box.status_code == 200


def test_categories_list_slugs(server):
    results = get(f"{server.api_base}/categories").json()["results"]

    slugs = [category["slug"] for category in results]
    assert "animals-pets" in slugs
    assert "furniture-home" in slugs


def test_fox_zip_is_packed_like_sketchfab(library):
    fox = next(model for model in library if model.uid == FOX)

    archive = zipfile.ZipFile(io.BytesIO(fox.archives["gltf"]))
    document = json.loads(archive.read("scene.gltf"))

    assert zip_names(fox.archives["gltf"]) == [
        "license.txt",
        "scene.bin",
        "scene.gltf",
        "textures/Texture.png",
    ]
    assert document["buffers"][0]["uri"] == "scene.bin"
    assert document["images"][0]["uri"] == "textures/Texture.png"
    assert fox.animation_count == 3
    assert fox.rigged is True


@pytest.mark.parametrize("name", ["Box", "Cesium Man", "Box Meshopt"])
def test_glb_models_zip_holds_glb(library, name):
    model = next(model for model in library if model.name == name)

    assert zip_names(model.archives["gltf"]) == ["license.txt", "scene.glb"]
    assert model.archives["glb"][:4] == b"glTF"
