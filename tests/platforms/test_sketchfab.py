"""SketchfabClient against the fake Sketchfab v3 server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from fakes.server import Reply
from fakes.sketchfab import (
    DEFAULT_API_KEY,
    FakeModel,
    FakeSketchfab,
    pack_zip,
    sample_library,
    uid_for,
)
from meshport.core.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    JobCancelledError,
    MeshportError,
    NetworkError,
    NotDownloadableError,
    NotFoundError,
    OfflineError,
    PlatformUnavailableError,
    RateLimitedError,
    ResponseFormatError,
    UnsupportedFileError,
)
from meshport.core.jobs import Job, JobContext, JobRunner
from meshport.core.models import Asset, DownloadOptions, SearchQuery
from meshport.platforms.common import size_of
from meshport.platforms.sketchfab import SketchfabClient
from meshport.platforms.sketchfab.constants import (
    CATEGORY_SLUGS,
    LICENSE_LABELS,
    PBR_TYPES,
    SORT_VALUES,
)
from support import SAMPLE_ASSETS, require

BOX = uid_for("Box")
FOX = uid_for("Fox")
CESIUM_MAN = uid_for("Cesium Man")
BOX_MESHOPT = uid_for("Box Meshopt")


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


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the HTTP layer requested; recording them replaces real sleeping."""
    return []


@pytest.fixture
def make_client(make_settings, sleeps):
    clients = []

    def build(base_url: str, *, key: str | None = DEFAULT_API_KEY, **overrides):
        keys = {"sketchfab": key} if key else {}
        settings = make_settings({"sketchfab": base_url}, keys, **overrides)
        client = SketchfabClient(settings, sleep=sleeps.append)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client, server) -> SketchfabClient:
    return make_client(server.api_base)


@pytest.fixture
def runner():
    jobs = JobRunner(max_workers=1)
    yield jobs
    jobs.shutdown(timeout=2)


@pytest.fixture
def context(runner) -> JobContext:
    return JobContext(Job(job_id=1, label="sketchfab download"), runner)


@pytest.fixture
def downloads(tmp_path) -> Path:
    return tmp_path / "downloads"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def query_of(server: FakeSketchfab, path: str) -> dict[str, list[str]]:
    return server.requests_to(path)[-1].query


# Search


def test_search_sends_fixed_parameters(client, server):
    client.search(SearchQuery("fox"))

    query = query_of(server, "/v3/search")
    assert query["type"] == ["models"]
    assert query["q"] == ["fox"]
    assert query["downloadable"] == ["true"]
    assert query["archives_flavours"] == ["false"]
    assert query["count"] == ["24"]


def test_search_caps_count_at_24(client, server):
    client.search(SearchQuery("box", count=100))

    assert query_of(server, "/v3/search")["count"] == ["24"]


def test_search_filters_reach_server(client, server):
    filters = {
        "categories": ["animals-pets", "people"],
        "licenses": ["by", "cc0"],
        "animated": True,
        "staffpicked": False,
        "rigged": "true",
        "pbr_type": "metalness",
        "min_face_count": 10,
        "max_face_count": "5000",
        "sort_by": "-likeCount",
    }
    page = client.search(SearchQuery("", filters))

    query = query_of(server, "/v3/search")
    assert query["categories"] == ["animals-pets", "people"]
    assert query["licenses"] == ["by", "cc0"]
    assert query["animated"] == ["true"]
    assert query["staffpicked"] == ["false"]
    assert query["rigged"] == ["true"]
    assert query["pbr_type"] == ["metalness"]
    assert query["min_face_count"] == ["10"]
    assert query["max_face_count"] == ["5000"]
    assert query["sort_by"] == ["-likeCount"]
    assert "q" not in query
    assert [asset.name for asset in page.results] == ["Fox", "Cesium Man"]


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("categories", ["animals"], CATEGORY_SLUGS),
        ("licenses", "cc-by", tuple(LICENSE_LABELS)),
        ("pbr_type", "pbr", PBR_TYPES),
        ("sort_by", "likes", SORT_VALUES),
        ("animated", "yes", ("true", "false")),
    ],
)
def test_search_rejects_invalid_filter_value(client, server, name, value, allowed):
    with pytest.raises(ConfigurationError) as raised:
        client.search(SearchQuery("fox", {name: value}))

    bad = value[0] if isinstance(value, list) else value
    assert f"'{bad}'" in raised.value.message
    assert name in raised.value.message
    assert all(choice in raised.value.message for choice in allowed)
    assert server.requests_seen == []


def test_search_rejects_unknown_filter_name(client, server):
    with pytest.raises(ConfigurationError) as raised:
        client.search(SearchQuery("fox", {"colour": "red"}))

    assert "'colour'" in raised.value.message
    assert "categories" in raised.value.message


@pytest.mark.parametrize("value", [-1, "many", 2.5, True])
def test_search_rejects_invalid_face_count(client, value):
    with pytest.raises(ConfigurationError) as raised:
        client.search(SearchQuery("fox", {"max_face_count": value}))

    assert f"'{value}'" in raised.value.message


def test_search_rejects_min_face_count_above_max(client):
    with pytest.raises(ConfigurationError) as raised:
        client.search(SearchQuery("", {"min_face_count": 900, "max_face_count": 100}))

    assert "900" in raised.value.message


def test_search_follows_next_url_as_is(make_client):
    models = [FakeModel(uid_for(f"crate {n}"), f"Crate {n:02d}") for n in range(30)]
    with FakeSketchfab(models) as fake:
        client = make_client(fake.api_base)

        first = client.search(SearchQuery("crate"))
        second = client.search(SearchQuery(page_token=first.next_page))

        requested = fake.requests_to("/v3/search")[-1]
        api_base = fake.api_base
    assert len(first.results) == 24
    assert first.next_page.startswith(f"{api_base}/search?")
    assert requested.query["cursor"] == ["24"]
    assert requested.query["q"] == ["crate"]
    assert [asset.name for asset in second.results] == [f"Crate {n}" for n in range(24, 30)]
    assert second.next_page is None


def two_crates() -> list[FakeModel]:
    return [FakeModel(uid_for(f"crate {n}"), f"Crate {n}") for n in (1, 2)]


def test_search_drops_next_link_on_other_host(make_client, caplog):
    with FakeSketchfab(two_crates()) as fake:
        # localhost reaches the same fake server, so a followed link would show up there.
        other_base = fake.api_base.replace("127.0.0.1", "localhost")
        fake.next_url_base = other_base
        client = make_client(fake.api_base)

        with caplog.at_level(logging.WARNING, logger="meshport.platforms.sketchfab"):
            page = client.search(SearchQuery("crate", count=1))

        searches = len(fake.requests_to("/v3/search"))
    assert len(page.results) == 1
    assert page.next_page is None
    assert "could not be fetched safely" in page.notice
    assert len(caplog.records) == 1
    assert f"{other_base}/search?" in caplog.records[0].getMessage()
    assert searches == 1


def test_search_keeps_next_link_on_api_origin(make_client):
    with FakeSketchfab(two_crates()) as fake:
        page = make_client(fake.api_base).search(SearchQuery("crate", count=1))

        api_base = fake.api_base
    assert page.next_page.startswith(f"{api_base}/search?")
    assert page.notice == ""


def test_search_rejects_next_url_on_other_host(client, server):
    # localhost reaches the same fake server, so a followed link would show up there.
    other_host = server.api_base.replace("127.0.0.1", "localhost") + "/search?cursor=24"

    with pytest.raises(ResponseFormatError) as raised:
        client.search(SearchQuery(page_token=other_host))

    assert "localhost" in raised.value.message
    assert server.requests_seen == []


def test_search_without_key_sends_no_authorization(make_client, server):
    client = make_client(server.api_base, key=None)

    page = client.search(SearchQuery("box"))

    assert "Authorization" not in server.requests_to("/v3/search")[-1].headers
    assert [asset.name for asset in page.results] == ["Box", "Box Meshopt"]


def test_search_with_wrong_key_raises_authentication_error(make_client, server):
    client = make_client(server.api_base, key="wrong-token")

    with pytest.raises(AuthenticationError) as raised:
        client.search(SearchQuery("box"))

    assert raised.value.status == 401


# Mapping responses to assets


def test_search_result_maps_full_model(client, library):
    page = client.search(SearchQuery("cesium"))

    asset = page.results[0]
    assert asset.asset_id == CESIUM_MAN
    assert asset.name == "Cesium Man"
    assert asset.author == "Cesium"
    assert asset.license == "CC Attribution"
    assert asset.url.endswith(f"/3d-models/cesium-man-{CESIUM_MAN}")
    assert asset.thumbnail_url.endswith("/256.png")
    assert asset.face_count == library[2].face_count
    assert asset.animated is True
    assert set(asset.formats) == {"glb", "gltf"}


def test_download_size_prefers_glb_archive(client, library):
    box = client.get_asset(BOX)

    assert box.download_size == len(library[0].archives["glb"])


def test_download_size_falls_back_to_gltf_archive(client, library):
    fox = client.get_asset(FOX)

    assert fox.download_size == len(library[1].archives["gltf"])
    assert fox.formats == ("gltf",)


def test_face_count_falls_back_to_archives(client):
    meshopt = client.get_asset(BOX_MESHOPT)

    assert meshopt.face_count == 12
    assert meshopt.thumbnail_url is None
    assert meshopt.version is None
    assert meshopt.author == "cesium"


def test_license_short_forms_give_labels(client):
    page = client.search(SearchQuery("", {"licenses": "by"}))

    labels = {asset.name: asset.license for asset in page.results}
    assert labels["Box"] == "CC Attribution"
    assert labels["Fox"] == "CC Attribution"


def test_model_detail_has_license_url_and_version(client):
    fox = client.get_asset(FOX)

    assert fox.license == "CC Attribution"
    assert fox.license_url == "https://creativecommons.org/licenses/by/4.0/"
    assert fox.version == "2024-01-02T00:00:00"


def test_missing_optional_fields_give_empty_values(make_client):
    sparse = FakeModel(
        uid_for("sparse"),
        "Sparse",
        omit=frozenset(
            {
                "user",
                "license",
                "viewerUrl",
                "thumbnails",
                "faceCount",
                "animationCount",
                "archives",
                "updatedAt",
            }
        ),
    )
    with FakeSketchfab([sparse]) as fake:
        asset = make_client(fake.api_base).get_asset(sparse.uid)

    assert asset.author == ""
    assert asset.license == ""
    assert asset.license_url is None
    assert asset.url is None
    assert asset.thumbnail_url is None
    assert asset.face_count is None
    assert asset.download_size is None
    assert asset.animated is None
    assert asset.version is None
    assert asset.formats == ()


@pytest.mark.parametrize("field", ["uid", "name"])
def test_search_skips_result_missing_required_field(make_client, caplog, field):
    broken = FakeModel(uid_for("broken"), "Broken crate", omit=frozenset({field}))
    good = FakeModel(uid_for("good"), "Good crate")
    with FakeSketchfab([broken, good]) as fake:
        client = make_client(fake.api_base)

        with caplog.at_level(logging.WARNING, logger="meshport.platforms.sketchfab"):
            page = client.search(SearchQuery("crate"))

    assert [asset.name for asset in page.results] == ["Good crate"]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert f"'{field}'" in warnings[0]
    if field == "name":
        assert broken.uid in warnings[0]


def test_search_skips_result_that_is_not_an_object(make_client, caplog):
    good = FakeModel(uid_for("good"), "Good crate")
    with FakeSketchfab([good]) as fake:
        results = [fake._model_json(good, detail=False), "not a model"]
        fake.route("GET", r"/v3/search", lambda info: Reply.json({"results": results}))
        client = make_client(fake.api_base)

        with caplog.at_level(logging.WARNING, logger="meshport.platforms.sketchfab"):
            page = client.search(SearchQuery("crate"))

    assert [asset.name for asset in page.results] == ["Good crate"]
    assert len(caplog.records) == 1
    assert "not a JSON object" in caplog.records[0].getMessage()


@pytest.mark.parametrize("body", [{"models": []}, {"results": "none"}, ["results"]])
def test_search_response_without_results_list_raises(make_client, body):
    with FakeSketchfab() as fake:
        fake.route("GET", r"/v3/search", lambda info: Reply.json(body))
        client = make_client(fake.api_base)

        with pytest.raises(ResponseFormatError) as raised:
            client.search(SearchQuery("crate"))

    assert "'results'" in raised.value.message


@pytest.mark.parametrize("field", ["uid", "name"])
def test_model_detail_missing_required_field_raises(make_client, field):
    broken = FakeModel(uid_for("broken"), "Broken", omit=frozenset({field}))
    with FakeSketchfab([broken]) as fake:
        client = make_client(fake.api_base)

        with pytest.raises(ResponseFormatError) as raised:
            client.get_asset(broken.uid)

    assert f"'{field}'" in raised.value.message


def test_face_count_accepts_integral_float(make_client):
    model = FakeModel(uid_for("float"), "Float crate", face_count=1500.0)
    with FakeSketchfab([model]) as fake:
        client = make_client(fake.api_base)

        found = client.search(SearchQuery("crate")).results[0]
        detail = client.get_asset(model.uid)

    assert found.face_count == 1500
    assert type(found.face_count) is int
    assert detail.face_count == 1500


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1500, 1500),
        (1500.0, 1500),
        ("1500", 1500),
        (" 42 ", 42),
        (0, 0),
        (1500.5, None),
        (-1, None),
        (-1.0, None),
        (float("nan"), None),
        (float("inf"), None),
        (True, None),
        ("1500.0", None),
        ("\u0661\u0662", None),
        ("", None),
        (None, None),
    ],
)
def test_size_of_accepts_whole_numbers(value, expected):
    assert size_of(value) == expected


def test_search_face_count_filter_accepts_integral_float(client, server):
    client.search(SearchQuery("", {"max_face_count": 1500.0}))

    assert query_of(server, "/v3/search")["max_face_count"] == ["1500"]


def test_get_asset_of_missing_model_raises_not_found(client):
    missing = "0" * 32

    with pytest.raises(NotFoundError) as raised:
        client.get_asset(missing)

    assert missing in raised.value.message


# Asset ids


@pytest.mark.parametrize(
    "text",
    [
        FOX,
        FOX.upper(),
        f"  {FOX}\n",
        f"https://sketchfab.com/3d-models/low-poly-fox-{FOX}",
        f"https://sketchfab.com/3d-models/low-poly-fox-{FOX}/?utm_source=x#comments",
        f"https://www.sketchfab.com/3d-models/{FOX}",
        f"https://sketchfab.com/models/{FOX}",
        f"https://sketchfab.com/models/{FOX}/embed",
    ],
)
def test_parse_asset_id_accepts_uid_and_model_urls(client, text):
    assert client.parse_asset_id(text) == FOX


def test_parse_asset_id_accepts_local_viewer_url(client):
    fox = client.get_asset(FOX)

    assert client.parse_asset_id(fox.url) == FOX


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fox",
        FOX[:31],
        FOX + "a",
        f"https://example.com/3d-models/fox-{FOX}",
        f"ftp://sketchfab.com/3d-models/fox-{FOX}",
        f"https://sketchfab.com/3d-models/fox{FOX}",
        f"https://sketchfab.com/search?q={FOX}",
        f"https://sketchfab.com/3d-models/fox-{FOX}/../../me",
    ],
)
def test_parse_asset_id_rejects_other_text(client, text):
    with pytest.raises(ConfigurationError) as raised:
        client.parse_asset_id(text)

    assert f"'{text.strip()}'" in raised.value.message


# Key validation


def test_validate_key_returns_account(client, server):
    account = client.validate_key()

    assert account.username == "meshport-tester"
    assert account.plan == "basic"
    assert server.requests_to("/v3/me")[-1].headers["Authorization"] == f"Token {DEFAULT_API_KEY}"


def test_validate_key_rejects_wrong_key(make_client, server):
    client = make_client(server.api_base, key="not-the-key")

    with pytest.raises(AuthenticationError) as raised:
        client.validate_key()

    assert "invalid" in raised.value.message
    assert "sketchfab.com/settings/password" in raised.value.message
    assert "not-the-key" not in raised.value.message


def test_validate_key_without_key_sends_nothing(make_client, server):
    client = make_client(server.api_base, key=None)

    with pytest.raises(AuthenticationError) as raised:
        client.validate_key()

    assert "no API token" in raised.value.message
    assert server.requests_seen == []


def test_validate_key_reports_unreachable_server(make_client, sleeps):
    client = make_client(f"http://127.0.0.1:{closed_port()}/v3")

    with pytest.raises(NetworkError) as raised:
        client.validate_key()

    assert "cannot reach" in raised.value.message
    assert len(sleeps) >= 1


def test_validate_key_reports_rate_limit_with_wait(client, server):
    server.fail("me", 429, retry_after=120)

    with pytest.raises(RateLimitedError) as raised:
        client.validate_key()

    assert raised.value.retry_after == 120
    assert "rate limited" in raised.value.message
    assert "next request in 2 min" in raised.value.message


def test_validate_key_outcomes_have_distinct_messages(make_client, server):
    server.fail("me", 429, retry_after=120)
    outcomes = []
    for base_url, key in [
        (server.api_base, "not-the-key"),
        (f"http://127.0.0.1:{closed_port()}/v3", DEFAULT_API_KEY),
        (server.api_base, DEFAULT_API_KEY),
    ]:
        with pytest.raises((AuthenticationError, NetworkError, RateLimitedError)) as raised:
            make_client(base_url, key=key).validate_key()
        outcomes.append(raised.value)

    assert [type(error) for error in outcomes] == [
        AuthenticationError,
        NetworkError,
        RateLimitedError,
    ]
    assert len({error.message for error in outcomes}) == 3


# Offline


@pytest.mark.parametrize(
    "operation",
    [
        lambda client, context, folder: client.search(SearchQuery("fox")),
        lambda client, context, folder: client.get_asset(FOX),
        lambda client, context, folder: client.validate_key(),
        lambda client, context, folder: client.download(_fox_asset(), folder, context),
    ],
    ids=["search", "get_asset", "validate_key", "download"],
)
def test_offline_settings_send_no_request(make_client, server, context, downloads, operation):
    client = make_client(server.api_base, online_access=False)

    with pytest.raises(OfflineError):
        operation(client, context, downloads)

    assert server.requests_seen == []


def test_offline_without_key_still_reports_offline(make_client, server, context, downloads):
    client = make_client(server.api_base, key=None, online_access=False)

    with pytest.raises(OfflineError):
        client.download(_fox_asset(), downloads, context)

    assert server.requests_seen == []


def _fox_asset() -> Asset:
    return Asset(platform="sketchfab", asset_id=FOX, name="Fox")


# Downloads


def test_download_prefers_glb(client, server, context, downloads, sample_assets):
    box = client.get_asset(BOX)

    result = client.download(box, downloads, context)

    assert result.file_format == "glb"
    assert result.folder == downloads / BOX
    assert result.model_path == downloads / BOX / "scene.glb"
    assert result.model_path.read_bytes() == (sample_assets / "glb" / "Box.glb").read_bytes()
    assert server.requests_to(f"/storage/{BOX}/glb/") != []
    assert server.requests_to(f"/storage/{BOX}/gltf/") == []


def test_download_uses_gltf_zip_without_glb(client, context, downloads):
    fox = client.get_asset(FOX)

    result = client.download(fox, downloads, context)

    assert result.file_format == "gltf"
    assert result.model_path == downloads / FOX / "scene.gltf"
    assert files_under(downloads) == [
        FOX,
        f"{FOX}/license.txt",
        f"{FOX}/scene.bin",
        f"{FOX}/scene.gltf",
        f"{FOX}/textures",
        f"{FOX}/textures/Texture.png",
    ]
    document = json.loads(result.model_path.read_text())
    assert document["images"][0]["uri"] == "textures/Texture.png"


def test_download_option_forces_gltf_zip(client, server, context, downloads):
    box = client.get_asset(BOX)

    result = client.download(box, downloads, context, DownloadOptions(file_format="gltf"))

    assert server.requests_to(f"/storage/{BOX}/gltf/") != []
    assert server.requests_to(f"/storage/{BOX}/glb/") == []
    assert result.model_path == downloads / BOX / "scene.glb"


def test_download_finds_glb_inside_zip(make_client, context, downloads, sample_assets):
    glb = (sample_assets / "glb" / "CesiumMan.glb").read_bytes()
    zipped = FakeModel(uid_for("zipped"), "Zipped", {"gltf": pack_zip({"model/man.glb": glb})})
    with FakeSketchfab([zipped]) as fake:
        client = make_client(fake.api_base)

        result = client.download(client.get_asset(zipped.uid), downloads, context)

    assert result.file_format == "glb"
    assert result.model_path == downloads / zipped.uid / "model" / "man.glb"
    assert result.model_path.read_bytes() == glb


def test_download_forced_glb_missing_raises_not_downloadable(client, context, downloads):
    fox = client.get_asset(FOX)

    with pytest.raises(NotDownloadableError) as raised:
        client.download(fox, downloads, context, DownloadOptions(file_format="glb"))

    assert "GLB" in raised.value.message
    assert "gltf" in raised.value.message
    assert files_under(downloads) == []


def test_download_rejects_unknown_format_option(client, server, context, downloads):
    with pytest.raises(ConfigurationError) as raised:
        client.download(_fox_asset(), downloads, context, DownloadOptions(file_format="fbx"))

    assert "'fbx'" in raised.value.message
    assert server.requests_seen == []


def test_storage_request_has_no_authorization(client, server, context, downloads):
    client.download(client.get_asset(BOX), downloads, context)

    api_request = server.requests_to(f"/v3/models/{BOX}/download")[-1]
    storage_request = server.requests_to("/storage/")[-1]
    assert api_request.headers["Authorization"] == f"Token {DEFAULT_API_KEY}"
    assert "Authorization" not in storage_request.headers


def test_download_without_key_sends_nothing(make_client, server, context, downloads):
    client = make_client(server.api_base, key=None)

    with pytest.raises(AuthenticationError) as raised:
        client.download(_fox_asset(), downloads, context)

    assert "sketchfab.com/settings/password" in raised.value.message
    assert server.requests_seen == []


@pytest.mark.parametrize(
    ("status", "error_class", "wording"),
    [
        (400, NotDownloadableError, "is not downloadable"),
        (401, AuthenticationError, "invalid or missing"),
        (403, AccessDeniedError, "no permission"),
        (404, NotFoundError, "was not found"),
        (503, PlatformUnavailableError, "unavailable"),
    ],
)
def test_download_status_gives_own_error(
    client, server, context, downloads, status, error_class, wording
):
    server.fail("download", status, uid=FOX)

    with pytest.raises(error_class) as raised:
        client.download(_fox_asset(), downloads, context)

    assert type(raised.value) is error_class
    assert wording in raised.value.message
    assert raised.value.status == status
    assert files_under(downloads) == []


@pytest.mark.parametrize("status", [400, 403, 404])
def test_download_error_names_the_model(client, server, context, downloads, status):
    server.fail("download", status, uid=FOX)

    with pytest.raises(MeshportError) as raised:
        client.download(_fox_asset(), downloads, context)

    assert "'Fox'" in raised.value.message
    assert FOX in raised.value.message


def test_download_of_non_downloadable_model_raises(make_client, context, downloads):
    locked = FakeModel(uid_for("locked"), "Locked", {"glb": b"glTF"}, downloadable=False)
    with FakeSketchfab([locked]) as fake:
        client = make_client(fake.api_base)

        with pytest.raises(NotDownloadableError) as raised:
            client.download(client.get_asset(locked.uid), downloads, context)

    assert "not downloadable" in raised.value.message


def test_download_rate_limit_uses_retry_after(client, server, context, downloads, sleeps):
    server.fail("download", 429, uid=FOX, retry_after=3600)

    with pytest.raises(RateLimitedError) as raised:
        client.download(_fox_asset(), downloads, context)

    assert raised.value.retry_after == 3600
    assert "rate limited" in raised.value.message
    assert sleeps == []


def test_download_rate_limit_without_retry_after_backs_off(
    client, server, context, downloads, sleeps
):
    server.fail("download", 429, uid=FOX)

    with pytest.raises(RateLimitedError) as raised:
        client.download(_fox_asset(), downloads, context)

    assert raised.value.retry_after is None
    assert len(server.requests_to(f"/v3/models/{FOX}/download")) == len(sleeps) + 1
    assert len(sleeps) >= 1


def test_download_retries_once_after_storage_403(client, server, context, downloads):
    server.fail("storage", 403, uid=BOX, times=1)

    result = client.download(client.get_asset(BOX), downloads, context)

    assert result.model_path.is_file()
    assert len(server.requests_to(f"/v3/models/{BOX}/download")) == 2
    assert len(server.requests_to(f"/storage/{BOX}/")) == 2


def test_download_retries_once_after_storage_400(client, server, context, downloads):
    server.fail("storage", 400, uid=FOX, times=1)

    result = client.download(client.get_asset(FOX), downloads, context)

    assert result.model_path.name == "scene.gltf"
    assert len(server.requests_to(f"/v3/models/{FOX}/download")) == 2


def test_download_renews_expired_link(make_client, library, context, downloads):
    times = iter([1000.0])

    def clock() -> float:
        # The first link is issued at t=1000 and fetched 400 s later, after it expired.
        return next(times, 1400.0)

    with FakeSketchfab(library, clock=clock, link_lifetime=300) as fake:
        client = make_client(fake.api_base)

        result = client.download(_fox_asset(), downloads, context)

        storage_requests = len(fake.requests_to(f"/storage/{FOX}/"))
    assert result.model_path.is_file()
    assert storage_requests == 2


def test_download_fails_after_second_storage_rejection(client, server, context, downloads):
    server.fail("storage", 403, uid=BOX)

    with pytest.raises(DownloadError) as raised:
        client.download(client.get_asset(BOX), downloads, context)

    assert "twice" in raised.value.message
    assert len(server.requests_to(f"/v3/models/{BOX}/download")) == 2
    assert files_under(downloads) == []


@pytest.mark.parametrize("status", [404, 410])
def test_download_falls_back_to_gltf_when_glb_missing(
    client, server, context, downloads, caplog, status
):
    server.fail("storage", status, uid=BOX, archive="glb")

    with caplog.at_level(logging.WARNING, logger="meshport.platforms.sketchfab"):
        result = client.download(client.get_asset(BOX), downloads, context)

    assert result.model_path == downloads / BOX / "scene.glb"
    assert len(server.requests_to(f"/storage/{BOX}/glb/")) == 1
    assert len(server.requests_to(f"/storage/{BOX}/gltf/")) == 1
    assert len(server.requests_to(f"/v3/models/{BOX}/download")) == 1
    assert len(caplog.records) == 1
    assert f"HTTP {status}" in caplog.records[0].getMessage()
    assert [name for name in files_under(downloads) if name.startswith(".")] == []


@pytest.fixture
def separate_storage(library):
    """A fake whose storage host listens on a port of its own, apart from the API."""
    with FakeSketchfab(library, separate_storage=True) as fake:
        yield fake


def storage_host(fake: FakeSketchfab) -> str:
    return fake.storage_url.split("://", 1)[1]


def test_download_forced_glb_missing_names_model_and_host(
    make_client, separate_storage, context, downloads
):
    separate_storage.fail("storage", 404, uid=BOX, archive="glb")
    client = make_client(separate_storage.api_base)

    with pytest.raises(NotFoundError) as raised:
        client.download(client.get_asset(BOX), downloads, context, DownloadOptions("glb"))

    message = raised.value.message
    assert message.startswith("Sketchfab: the GLB archive of 'Box'")
    assert BOX in message
    assert f"storage host {storage_host(separate_storage)} (HTTP 404)" in message
    assert "--format gltf" in message
    assert raised.value.status == 404
    assert separate_storage.requests_to(f"/storage/{BOX}/gltf/") == []
    assert files_under(downloads) == []


def test_download_of_only_archive_missing_suggests_no_format(client, server, context, downloads):
    server.fail("storage", 404, uid=FOX)

    with pytest.raises(NotFoundError) as raised:
        client.download(_fox_asset(), downloads, context)

    assert "the glTF archive of 'Fox'" in raised.value.message
    assert raised.value.message.endswith("Try again later.")
    assert len(server.requests_to(f"/storage/{FOX}/")) == 1


def test_download_with_both_archives_missing_names_both(client, server, context, downloads):
    server.fail("storage", 404, uid=BOX)

    with pytest.raises(NotFoundError) as raised:
        client.download(client.get_asset(BOX), downloads, context)

    assert "neither the GLB nor the glTF archive of 'Box'" in raised.value.message
    assert "(HTTP 404 for both)" in raised.value.message
    assert BOX in raised.value.message
    assert len(server.requests_to(f"/storage/{BOX}/")) == 2
    assert files_under(downloads) == []


@pytest.mark.parametrize("status", [500, 503])
def test_storage_server_error_names_storage_host(
    make_client, separate_storage, context, downloads, status
):
    separate_storage.fail("storage", status, uid=FOX)
    client = make_client(separate_storage.api_base)

    with pytest.raises(PlatformUnavailableError) as raised:
        client.download(_fox_asset(), downloads, context)

    message = raised.value.message
    assert f"storage host {storage_host(separate_storage)} failed with HTTP {status}" in message
    assert "'Fox'" in message
    assert "Sketchfab is unavailable" not in message
    assert raised.value.status == status
    assert files_under(downloads) == []


def test_download_renewal_failure_keeps_api_wording(make_client, library, context, downloads):
    with FakeSketchfab(library) as fake:
        answers = iter([fake._download])

        def download_then_gone(info):
            # The first /download responds as usual and the renewal finds the model gone.
            answer = next(answers, None)
            return answer(info) if answer else Reply.json({"detail": "Not found."}, 404)

        fake.route("GET", r"/v3/models/(?P<uid>[^/]+)/download", download_then_gone)
        fake.fail("storage", 403, uid=FOX, times=1)
        client = make_client(fake.api_base)

        with pytest.raises(NotFoundError) as raised:
            client.download(_fox_asset(), downloads, context)

    assert "was deleted or made private" in raised.value.message
    assert "storage host" not in raised.value.message
    assert files_under(downloads) == []


def test_download_of_usdz_only_model_raises_not_downloadable(make_client, context, downloads):
    apple = FakeModel(uid_for("usdz"), "Apple", {"usdz": b"PK\x03\x04usdz"})
    with FakeSketchfab([apple]) as fake:
        client = make_client(fake.api_base)

        with pytest.raises(NotDownloadableError) as raised:
            client.download(client.get_asset(apple.uid), downloads, context)

        storage_requests = fake.requests_to("/storage/")
    assert "offers only these archives: usdz." in raised.value.message
    assert "Blender cannot import" in raised.value.message
    assert "API may have changed" not in raised.value.message
    assert storage_requests == []
    assert files_under(downloads) == []


@pytest.mark.parametrize(("uid", "archive"), [(BOX, "glb"), (FOX, "gltf")])
def test_download_size_mismatch_leaves_nothing(
    client, server, context, downloads, library, uid, archive
):
    model = next(model for model in library if model.uid == uid)
    server.serve_instead(uid, archive, model.archives[archive][:-100])

    with pytest.raises(DownloadError) as raised:
        client.download(client.get_asset(uid), downloads, context)

    assert "size mismatch" in raised.value.message
    assert files_under(downloads) == []


def test_download_zip_without_model_leaves_nothing(make_client, context, downloads):
    empty = FakeModel(uid_for("empty"), "Empty", {"gltf": pack_zip({"license.txt": b"CC-BY"})})
    with FakeSketchfab([empty]) as fake:
        client = make_client(fake.api_base)

        with pytest.raises(UnsupportedFileError):
            client.download(client.get_asset(empty.uid), downloads, context)

    assert files_under(downloads) == []


def test_download_replaces_earlier_download(client, context, downloads):
    fox = client.get_asset(FOX)
    client.download(fox, downloads, context)
    (downloads / FOX / "stale.txt").write_text("from an older version")

    result = client.download(fox, downloads, context)

    assert result.model_path.is_file()
    assert not (downloads / FOX / "stale.txt").exists()
    assert [name for name in files_under(downloads) if name.startswith(".")] == []


def test_failed_download_keeps_earlier_download(client, server, context, downloads):
    fox = client.get_asset(FOX)
    first = client.download(fox, downloads, context)
    server.fail("storage", 403, uid=FOX)

    with pytest.raises(DownloadError):
        client.download(fox, downloads, context)

    assert first.model_path.is_file()
    assert [name for name in files_under(downloads) if name.startswith(".")] == []


def test_download_removes_leftovers_of_interrupted_run(client, context, downloads):
    downloads.mkdir()
    (downloads / f".{FOX}.zip.part").write_bytes(b"PK")
    (downloads / f".{FOX}.incomplete").mkdir()

    client.download(client.get_asset(FOX), downloads, context)

    assert [name for name in files_under(downloads) if name.startswith(".")] == []


def test_download_reports_progress(client, runner, context, downloads):
    client.download(client.get_asset(FOX), downloads, context)

    texts = []
    while not runner.events.empty():
        _, kind, payload = runner.events.get_nowait()
        if kind == "progress":
            texts.append(payload[1])
    assert any("requesting" in text for text in texts)
    assert any("MiB" in text for text in texts)
    assert any("extracting" in text for text in texts)


def test_cancelled_download_leaves_nothing(client, server, context, downloads):
    fox = client.get_asset(FOX)
    context.cancel()

    with pytest.raises(JobCancelledError):
        client.download(fox, downloads, context)

    assert files_under(downloads) == []
    assert server.requests_to(f"/v3/models/{FOX}/download") == []


def test_download_through_job_runner(client, runner, downloads):
    fox = client.get_asset(FOX)
    results = []

    job = runner.submit(
        "download Fox",
        lambda context: client.download(fox, downloads, context),
        on_done=lambda job, result: results.append(result),
    )
    runner.wait(job, timeout=30)

    assert job.state == "done"
    assert results[0].model_path.name == "scene.gltf"
