"""PolyHavenClient against the fake Poly Haven API on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from fakes.polyhaven import (
    FakeAsset,
    FakeBundle,
    FakePolyHaven,
    files_hash,
    sample_library,
)
from fakes.server import Reply
from meshport.blender.assets import asset_cache, cache_key, download_through_cache
from meshport.core.errors import (
    ConfigurationError,
    DownloadError,
    JobCancelledError,
    NotDownloadableError,
    NotFoundError,
    OfflineError,
    PlatformUnavailableError,
    ResponseFormatError,
    UnsafeArchiveError,
)
from meshport.core.models import Asset, DownloadOptions, SearchQuery
from meshport.platforms import registry
from meshport.platforms.polyhaven import PolyHavenClient
from meshport.platforms.polyhaven.constants import DEFAULT_MAX_AGE, LICENSE_URL, NOTICE
from meshport.platforms.polyhaven.files import resolution_order
from meshport.platforms.polyhaven.listing import max_age_of
from support import SAMPLE_ASSETS, require

HOUR = 3600.0


class FakeClock:
    """Epoch seconds that move only when a test calls ``advance``."""

    def __init__(self, start: float = 1_750_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingContext:
    """A job context that records progress reports and can be cancelled."""

    def __init__(self):
        self.reports: list[tuple[float | None, str]] = []
        self._event = threading.Event()
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelledError("polyhaven download: cancelled.")

    def wait(self, seconds: float) -> None:
        if self._event.wait(seconds):
            self.raise_if_cancelled()

    def report_progress(self, fraction: float | None, text: str = "") -> None:
        with self._lock:
            self.reports.append((fraction, text))

    def on_cancel(self, callback):
        return lambda: None

    def cancel(self) -> None:
        self._event.set()


def tiny_bundle(asset_id: str, resolution: str, includes: dict[str, bytes] | None = None):
    document = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": []}]}
    return FakeBundle(
        f"{asset_id}_{resolution}.gltf", json.dumps(document).encode(), includes or {}
    )


def catalogue() -> list[FakeAsset]:
    """Four small models for search tests: names, tags, categories, authors and
    download counts chosen so each match rule has a case of its own."""
    return [
        FakeAsset(
            "wooden_table_02",
            "Wooden Table 02",
            authors={"Jane Doe": "All"},
            categories=("furniture", "tables"),
            tags=("wood", "kitchen"),
            download_count=300,
        ),
        FakeAsset(
            "rock_moss_01",
            "Mossy Rock",
            authors={"Rob Tuytel": "All"},
            categories=("nature", "rocks"),
            tags=("stone", "green"),
            download_count=900,
        ),
        FakeAsset(
            "office_chair",
            "Office Chair",
            authors={"Jane Doe": "Model", "Kim Lee": "Textures"},
            categories=("furniture", "seating"),
            tags=("seat",),
            download_count=50,
        ),
        FakeAsset(
            "stone_bench",
            "Stone Bench",
            authors={"Kim Lee": "All"},
            categories=("furniture", "seating", "outdoor"),
            tags=("seat", "stone"),
            download_count=900,
        ),
    ]


BY_DOWNLOADS = ["rock_moss_01", "stone_bench", "wooden_table_02", "office_chair"]


@pytest.fixture(scope="module")
def library() -> list[FakeAsset]:
    require(
        (SAMPLE_ASSETS / "MANIFEST.md").is_file(), f"sample assets not found in {SAMPLE_ASSETS}"
    )
    return sample_library(SAMPLE_ASSETS)


@pytest.fixture(scope="module")
def shared_server(library):
    with FakePolyHaven(library) as fake:
        yield fake


@pytest.fixture
def server(shared_server) -> FakePolyHaven:
    shared_server.reset()
    return shared_server


@pytest.fixture(scope="module")
def shared_catalogue_server():
    with FakePolyHaven(catalogue()) as fake:
        yield fake


@pytest.fixture
def catalogue_server(shared_catalogue_server) -> FakePolyHaven:
    shared_catalogue_server.reset()
    return shared_catalogue_server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the HTTP layer requested; recording them replaces real sleeping."""
    return []


@pytest.fixture
def make_client(make_settings, clock, sleeps):
    clients = []

    def build(base_url: str, **overrides) -> PolyHavenClient:
        settings = make_settings({"polyhaven": base_url}, **overrides)
        client = PolyHavenClient(settings, sleep=sleeps.append, clock=clock)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client, server) -> PolyHavenClient:
    return make_client(server.url)


@pytest.fixture
def catalogue_client(make_client, catalogue_server) -> PolyHavenClient:
    return make_client(catalogue_server.url)


@pytest.fixture
def context() -> RecordingContext:
    return RecordingContext()


@pytest.fixture
def downloads(tmp_path) -> Path:
    return tmp_path / "downloads"


def ids(page) -> list[str]:
    return [asset.asset_id for asset in page.results]


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def file_contents(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def fox(client: PolyHavenClient) -> Asset:
    return client.get_asset("fox")


def bundle_of(library, asset_id: str, file_format: str, resolution: str) -> FakeBundle:
    asset = next(asset for asset in library if asset.asset_id == asset_id)
    return asset.files[file_format][resolution]


# The model list and its cache


def test_search_requests_model_list_of_type_models(client, server):
    client.search(SearchQuery("fox"))

    (seen,) = server.requests_to("/assets")
    assert seen.query == {"t": ["models"]}


def test_second_search_sends_no_request(client, server):
    client.search(SearchQuery("fox"))
    client.search(SearchQuery("scene"))

    assert len(server.requests_to("/assets")) == 1


def test_model_list_cache_serves_new_client(make_client, server):
    make_client(server.url).search(SearchQuery("fox"))
    page = make_client(server.url).search(SearchQuery("fox"))

    assert len(server.requests_to("/assets")) == 1
    assert ids(page) == ["fox"]


def test_model_list_cache_is_kept_per_base_url(make_client, server, catalogue_server):
    make_client(server.url).search(SearchQuery(""))
    page = make_client(catalogue_server.url).search(SearchQuery(""))

    assert ids(page) == BY_DOWNLOADS


def test_model_list_refetched_after_max_age(make_client, library, clock):
    with FakePolyHaven(library, max_age=60) as fake:
        client = make_client(fake.url)
        client.search(SearchQuery("fox"))
        clock.advance(59)
        client.search(SearchQuery("fox"))
        requests_within_max_age = len(fake.requests_to("/assets"))
        clock.advance(2)
        client.search(SearchQuery("fox"))

        assert requests_within_max_age == 1
        assert len(fake.requests_to("/assets")) == 2


def test_model_list_default_max_age_12_hours(make_client, library, clock):
    with FakePolyHaven(library, max_age=None) as fake:
        client = make_client(fake.url)
        client.search(SearchQuery(""))
        clock.advance(DEFAULT_MAX_AGE - 1)
        client.search(SearchQuery(""))
        requests_within_default = len(fake.requests_to("/assets"))
        clock.advance(2)
        client.search(SearchQuery(""))

        assert requests_within_default == 1
        assert len(fake.requests_to("/assets")) == 2


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("public, max-age=43200", 43200.0),
        ("max-age=60, public", 60.0),
        ('max-age="90"', 90.0),
        ("public", float(DEFAULT_MAX_AGE)),
        ("", float(DEFAULT_MAX_AGE)),
        ("max-age=soon", float(DEFAULT_MAX_AGE)),
        ("no-cache", 0.0),
        ("no-store, max-age=600", 0.0),
    ],
)
def test_max_age_of_cache_control(header, seconds):
    assert max_age_of(header) == seconds


def test_cache_file_is_complete_json(client, make_settings, tmp_path):
    client.search(SearchQuery(""))

    cache_folder = tmp_path / "state" / "polyhaven"
    (cache_file,) = list(cache_folder.iterdir())
    data = json.loads(cache_file.read_text(encoding="utf-8"))
    assert sorted(data["assets"]) == ["blender_default_scene", "fox"]
    assert data["max_age"] == 43200


def test_corrupt_cache_file_is_refetched(make_client, server, tmp_path):
    make_client(server.url).search(SearchQuery(""))
    (cache_file,) = list((tmp_path / "state" / "polyhaven").iterdir())
    cache_file.write_text('{"format": 1, "assets": {"fox"', encoding="utf-8")

    page = make_client(server.url).search(SearchQuery("fox"))

    assert ids(page) == ["fox"]
    assert len(server.requests_to("/assets")) == 2


def test_expired_list_used_when_refetch_fails(client, server, clock):
    client.search(SearchQuery(""))
    clock.advance(DEFAULT_MAX_AGE * 2)
    server.fail("assets", 500)

    page = client.search(SearchQuery("fox"))

    assert ids(page) == ["fox"]
    assert len(server.requests_to("/assets")) == 2


def test_model_list_server_error_without_cache_raises(client, server):
    server.fail("assets", 500)

    with pytest.raises(PlatformUnavailableError):
        client.search(SearchQuery("fox"))


def test_model_list_retries_503(client, server, sleeps):
    server.fail("assets", 503, times=1)

    page = client.search(SearchQuery("fox"))

    assert ids(page) == ["fox"]
    assert len(sleeps) == 1


@pytest.mark.parametrize("body", [[{"name": "Fox"}], "models", 42])
def test_model_list_not_an_object_raises_format_error(make_client, body):
    with FakePolyHaven() as fake:
        fake.route("GET", r"/assets", lambda info: Reply.json(body))
        client = make_client(fake.url)

        with pytest.raises(ResponseFormatError):
            client.search(SearchQuery(""))


def test_model_list_skips_entries_that_are_not_objects(make_client):
    with FakePolyHaven() as fake:
        listing = {"good_one": {"name": "Good One"}, "bad_one": "text", "../escape": {}}
        fake.route("GET", r"/assets", lambda info: Reply.json(listing))
        page = make_client(fake.url).search(SearchQuery(""))

        assert ids(page) == ["good_one"]


def test_search_offline_sends_no_request(make_client, server):
    client = make_client(server.url, online_access=False)

    with pytest.raises(OfflineError):
        client.search(SearchQuery("fox"))
    assert server.requests_seen == []


def test_requests_carry_meshport_user_agent(client, server, context, downloads):
    client.download(fox(client), downloads, context)
    client.search(SearchQuery(""))

    agents = {seen.headers.get("User-Agent", "") for seen in server.requests_seen}
    assert all(agent.startswith("Meshport/") for agent in agents)
    assert not any("Authorization" in seen.headers for seen in server.requests_seen)


# Matching, filters and pages


@pytest.mark.parametrize(
    "text, expected",
    [
        ("wood table", ["wooden_table_02"]),
        ("TABLE Wooden", ["wooden_table_02"]),
        ("kitchen", ["wooden_table_02"]),
        ("seat", ["stone_bench", "office_chair"]),
        ("rocks", ["rock_moss_01"]),
        ("moss_01", ["rock_moss_01"]),
        ("stone", ["rock_moss_01", "stone_bench"]),
        ("wood rock", []),
        ("", BY_DOWNLOADS),
    ],
)
def test_search_matches_every_word(catalogue_client, text, expected):
    assert ids(catalogue_client.search(SearchQuery(text))) == expected


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"categories": ["furniture"]}, ["stone_bench", "wooden_table_02", "office_chair"]),
        ({"categories": ["furniture", "seating"]}, ["stone_bench", "office_chair"]),
        ({"categories": "Seating,Outdoor"}, ["stone_bench"]),
        ({"categories": ["furniture", "nature"]}, []),
        ({"authors": ["jane doe"]}, ["wooden_table_02", "office_chair"]),
        ({"authors": "Rob Tuytel, Kim Lee"}, ["rock_moss_01", "stone_bench", "office_chair"]),
        ({"categories": ["seating"], "authors": ["Jane Doe"]}, ["office_chair"]),
        ({"categories": [], "authors": ""}, BY_DOWNLOADS),
    ],
)
def test_search_filters(catalogue_client, filters, expected):
    assert ids(catalogue_client.search(SearchQuery("", filters))) == expected


def test_search_filter_combines_with_text(catalogue_client):
    page = catalogue_client.search(SearchQuery("stone", {"categories": ["seating"]}))

    assert ids(page) == ["stone_bench"]


def test_search_rejects_unknown_filter(catalogue_client):
    with pytest.raises(ConfigurationError) as raised:
        catalogue_client.search(SearchQuery("", {"licenses": ["cc0"]}))

    assert "'licenses'" in raised.value.message
    assert "categories, authors" in raised.value.message


@pytest.mark.parametrize("value", [5, [1, 2], {"a": "b"}])
def test_search_rejects_filter_value_that_is_not_text(catalogue_client, value):
    with pytest.raises(ConfigurationError):
        catalogue_client.search(SearchQuery("", {"categories": value}))


def test_pages_cover_every_match_once(catalogue_client, catalogue_server):
    first = catalogue_client.search(SearchQuery("", count=3))
    second = catalogue_client.search(SearchQuery(page_token=first.next_page))

    assert ids(first) == BY_DOWNLOADS[:3]
    assert ids(second) == BY_DOWNLOADS[3:]
    assert second.next_page is None
    assert len(catalogue_server.requests_to("/assets")) == 1


def test_page_token_keeps_text_and_filters(catalogue_client):
    query = SearchQuery("", {"categories": ["furniture"]}, count=1)
    first = catalogue_client.search(query)
    second = catalogue_client.search(SearchQuery("ignored", page_token=first.next_page))
    third = catalogue_client.search(SearchQuery(page_token=second.next_page))

    assert ids(first) + ids(second) + ids(third) == [
        "stone_bench",
        "wooden_table_02",
        "office_chair",
    ]
    assert third.next_page is None


def test_last_full_page_has_no_next_page(catalogue_client):
    page = catalogue_client.search(SearchQuery("", count=4))

    assert page.next_page is None


@pytest.mark.parametrize("token", ["not base64 !", "eyJ4IjogMX0=", "W10="])
def test_search_rejects_invalid_page_token(catalogue_client, token):
    with pytest.raises(ConfigurationError):
        catalogue_client.search(SearchQuery(page_token=token))


# Assets


def test_search_result_maps_fields(client, library):
    (result,) = client.search(SearchQuery("fox")).results
    fox_asset = next(asset for asset in library if asset.asset_id == "fox")

    assert result.name == "Fox"
    assert result.author == "PixelMannen, tomkranis"
    assert result.license == "CC0"
    assert result.license_url == LICENSE_URL
    assert result.url == "https://polyhaven.com/a/fox"
    assert result.version == files_hash(fox_asset)
    assert result.download_size is None
    assert result.face_count == fox_asset.polycount
    assert result.thumbnail_url.endswith("/thumbnails/fox.png")


def test_missing_optional_fields_give_empty_values(client):
    (result,) = client.search(SearchQuery("blender default")).results

    assert result.author == ""
    assert result.thumbnail_url is None
    assert result.face_count is None
    assert result.license == "CC0"


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        ({"Jane Doe": "Model", "Kim Lee": "Textures"}, "Jane Doe, Kim Lee"),
        (["Jane Doe", "Kim Lee"], "Jane Doe, Kim Lee"),
        (["Jane Doe", 7, " ", None], "Jane Doe"),
        ("Jane Doe", "Jane Doe"),
        (" ", ""),
        (12, ""),
    ],
)
def test_authors_accept_object_list_and_string(make_client, authors, expected):
    with FakePolyHaven([FakeAsset("crate", "Crate", authors=authors)]) as fake:
        client = make_client(fake.url)

        (found,) = client.search(SearchQuery("crate")).results
        detail = client.get_asset("crate")

    assert found.author == expected
    assert detail.author == expected


@pytest.mark.parametrize("authors", [["Jane Doe", "Kim Lee"], "Kim Lee"])
def test_authors_filter_matches_list_and_string(make_client, authors):
    with FakePolyHaven([FakeAsset("crate", "Crate", authors=authors)]) as fake:
        page = make_client(fake.url).search(SearchQuery("", {"authors": "kim lee"}))

    assert ids(page) == ["crate"]


def test_entry_with_only_an_id_still_maps(make_client):
    with FakePolyHaven() as fake:
        fake.route("GET", r"/assets", lambda info: Reply.json({"bare": {}}))
        (result,) = make_client(fake.url).search(SearchQuery("bare")).results

        assert result.name == "bare"
        assert result.version is None


def test_get_asset_reads_info(client, server):
    asset = client.get_asset("fox")

    assert asset.name == "Fox"
    assert server.paths_seen() == ["/info/fox"]


def test_get_asset_of_unknown_id_raises_not_found(client):
    with pytest.raises(NotFoundError) as raised:
        client.get_asset("no_such_asset")

    assert "no_such_asset" in raised.value.message


def test_get_asset_of_texture_raises_not_downloadable(make_client):
    with FakePolyHaven() as fake:
        fake.route(
            "GET", r"/info/brick_wall", lambda info: Reply.json({"name": "Brick", "type": 1})
        )

        with pytest.raises(NotDownloadableError):
            make_client(fake.url).get_asset("brick_wall")


@pytest.mark.parametrize(
    "text",
    ["fox", " fox ", "https://polyhaven.com/a/fox", "https://polyhaven.com/a/fox/"],
)
def test_parse_asset_id_accepts_id_and_page_url(client, text):
    assert client.parse_asset_id(text) == "fox"


@pytest.mark.parametrize(
    "text", ["", "../fox", "a/b", "fox..bak", "https://example.com/a/fox", "fox?x=1"]
)
def test_parse_asset_id_rejects_other_text(client, text):
    with pytest.raises(ConfigurationError):
        client.parse_asset_id(text)


def test_client_describes_platform(make_settings):
    client = registry.create_client("polyhaven", make_settings())

    assert isinstance(client, PolyHavenClient)
    assert client.notice == NOTICE == "Powered by Poly Haven"
    assert client.needs_key is False
    assert client.http.base_url == "https://api.polyhaven.com"
    client.close()


# Downloads


def test_download_defaults_to_smallest_gltf(client, context, downloads):
    result = client.download(fox(client), downloads, context)

    assert result.model_path == downloads / "fox" / "1k" / "fox_1k.gltf"
    assert result.folder == downloads / "fox" / "1k"
    assert result.file_format == "gltf"


def test_download_puts_includes_at_relative_paths(client, library, context, downloads):
    client.download(fox(client), downloads, context)

    bundle = bundle_of(library, "fox", "gltf", "1k")
    assert files_under(downloads / "fox" / "1k") == [
        "fox.bin",
        "fox_1k.gltf",
        "textures",
        "textures/fox_diff_1k.png",
    ]
    for path, data in bundle.files().items():
        written = (downloads / "fox" / "1k" / path).read_bytes()
        assert hashlib.md5(written).hexdigest() == hashlib.md5(data).hexdigest(), path


def test_downloaded_gltf_names_its_includes(client, context, downloads):
    result = client.download(fox(client), downloads, context)

    document = json.loads(result.model_path.read_text(encoding="utf-8"))
    for holder in document["buffers"] + document["images"]:
        assert (result.folder / holder["uri"]).is_file(), holder["uri"]


@pytest.mark.parametrize("resolution", ["2k", "2K", " 2k "])
def test_download_resolution_chooses_files(client, context, downloads, resolution):
    result = client.download(
        fox(client), downloads, context, DownloadOptions(resolution=resolution)
    )

    assert result.model_path == downloads / "fox" / "2k" / "fox_2k.gltf"
    assert (downloads / "fox" / "2k" / "textures" / "fox_diff_2k.png").is_file()
    assert not (downloads / "fox" / "1k").exists()


def test_download_unknown_resolution_lists_available(client, server, context, downloads):
    with pytest.raises(ConfigurationError) as raised:
        client.download(fox(client), downloads, context, DownloadOptions(resolution="8k"))

    assert "'8k'" in raised.value.message
    assert "1k, 2k" in raised.value.message
    assert server.requests_to("/dl/") == []
    assert files_under(downloads) == []


def test_resolution_order_is_numeric():
    names = ["8k", "16k", "2k", "1k", "4k", "source"]

    assert sorted(names, key=resolution_order) == ["1k", "2k", "4k", "8k", "16k", "source"]


def test_download_default_is_smallest_by_number(make_client, context, downloads):
    files = {"gltf": {name: tiny_bundle("rock", name) for name in ("16k", "8k", "4k")}}
    with FakePolyHaven([FakeAsset("rock", "Rock", files)]) as fake:
        client = make_client(fake.url)
        result = client.download(client.get_asset("rock"), downloads, context)

    assert result.model_path == downloads / "rock" / "4k" / "rock_4k.gltf"


@pytest.mark.parametrize("resolution", ["..", ".hidden", "a/b"])
def test_resolution_with_unusable_name_is_skipped(make_client, context, downloads, resolution):
    files = {"gltf": {resolution: tiny_bundle("rock", "x"), "2k": tiny_bundle("rock", "2k")}}
    with FakePolyHaven([FakeAsset("rock", "Rock", files)]) as fake:
        client = make_client(fake.url)
        result = client.download(client.get_asset("rock"), downloads, context)

    assert result.model_path == downloads / "rock" / "2k" / "rock_2k.gltf"
    assert files_under(downloads) == ["rock", "rock/2k", "rock/2k/rock_2k.gltf"]


def test_download_fbx_format(client, library, context, downloads):
    result = client.download(fox(client), downloads, context, DownloadOptions(file_format="fbx"))

    assert result.model_path == downloads / "fox" / "1k" / "fox_1k.fbx"
    assert result.file_format == "fbx"
    assert result.model_path.read_bytes() == bundle_of(library, "fox", "fbx", "1k").main
    assert (downloads / "fox" / "1k" / "textures" / "fox_diff_1k.png").is_file()


def test_download_second_format_keeps_first(client, context, downloads):
    client.download(fox(client), downloads, context)
    client.download(fox(client), downloads, context, DownloadOptions(file_format="fbx"))

    assert (downloads / "fox" / "1k" / "fox_1k.gltf").is_file()
    assert (downloads / "fox" / "1k" / "fox_1k.fbx").is_file()
    hidden = [name for name in files_under(downloads) if "/." in f"/{name}"]
    assert hidden == []


def test_download_format_not_offered_lists_offered(client, context, downloads):
    asset = client.get_asset("blender_default_scene")

    with pytest.raises(NotDownloadableError) as raised:
        client.download(asset, downloads, context)

    assert "offered: fbx" in raised.value.message


def test_download_rejects_unknown_format(client, context, downloads):
    with pytest.raises(ConfigurationError):
        client.download(fox(client), downloads, context, DownloadOptions(file_format="blend"))


def test_md5_mismatch_raises_and_leaves_nothing(client, server, context, downloads):
    server.announce_wrong_md5("fox", "textures/fox_diff_1k.png")

    with pytest.raises(DownloadError) as raised:
        client.download(fox(client), downloads, context)

    assert "md5 mismatch" in raised.value.message
    assert "textures/fox_diff_1k.png" in raised.value.message
    assert files_under(downloads) == []


def test_md5_mismatch_of_main_file_raises(client, server, context, downloads):
    server.announce_wrong_md5("fox", "fox_1k.gltf")

    with pytest.raises(DownloadError) as raised:
        client.download(fox(client), downloads, context)

    assert "md5 mismatch" in raised.value.message
    assert files_under(downloads) == []


def test_failed_download_keeps_earlier_download(client, server, context, downloads):
    client.download(fox(client), downloads, context)
    before = file_contents(downloads)
    server.announce_wrong_md5("fox", "fox.bin")

    with pytest.raises(DownloadError):
        client.download(fox(client), downloads, context)

    after = file_contents(downloads)
    assert after == before


def test_missing_include_raises_not_found_naming_it(client, server, context, downloads):
    server.remove_file("fox", "fox.bin")

    with pytest.raises(NotFoundError) as raised:
        client.download(fox(client), downloads, context)

    assert "'fox.bin'" in raised.value.message
    assert files_under(downloads) == []


@pytest.mark.parametrize("path", ["textures/fox_diff_1k.png", "fox.bin"])
def test_incomplete_gltf_stores_nothing(
    client, server, context, downloads, path
):
    server.leave_out_include("fox", path)

    with pytest.raises(DownloadError) as raised:
        client.download(fox(client), downloads, context)

    assert raised.value.message.count(f"'{path}'") == 1
    assert "does not include" in raised.value.message
    assert "Nothing was stored" in raised.value.message
    assert files_under(downloads) == []


def test_incomplete_gltf_keeps_earlier_download(
    client, server, context, downloads
):
    client.download(fox(client), downloads, context)
    before = file_contents(downloads)
    server.leave_out_include("fox", "textures/fox_diff_1k.png")

    with pytest.raises(DownloadError):
        client.download(fox(client), downloads, context)

    assert file_contents(downloads) == before


def test_incomplete_gltf_is_not_cached_and_fetched_again(
    client, server, context, make_settings, tmp_path
):
    settings = make_settings({"polyhaven": server.url})
    asset = fox(client)
    server.leave_out_include("fox", "textures/fox_diff_1k.png")

    with pytest.raises(DownloadError):
        download_through_cache(client, settings, asset, tmp_path / "unused", context)
    server.reset()
    result = download_through_cache(client, settings, asset, tmp_path / "unused", context)

    assert (result.model_path.parent / "textures" / "fox_diff_1k.png").is_file()
    assert len(server.requests_to("/files/fox")) == 1
    assert len(server.requests_to("/dl/fox/")) == 3
    assert asset_cache(settings).lookup(cache_key(settings, asset)) is not None


def test_gltf_with_embedded_data_uri_needs_no_include(make_client, context, downloads):
    document = {
        "asset": {"version": "2.0"},
        "buffers": [{"uri": "data:application/octet-stream;base64,AAAAAA==", "byteLength": 4}],
        "images": [{"uri": "textures/crate%20diff.png"}],
    }
    bundle = FakeBundle(
        "crate_1k.gltf", json.dumps(document).encode(), {"textures/crate diff.png": b"png"}
    )
    with FakePolyHaven([FakeAsset("crate", "Crate", {"gltf": {"1k": bundle}})]) as fake:
        client = make_client(fake.url)
        result = client.download(client.get_asset("crate"), downloads, context)

    assert (result.folder / "textures" / "crate diff.png").is_file()


def test_file_server_error_raises_unavailable(client, server, context, downloads):
    server.fail("download", 500)

    with pytest.raises(PlatformUnavailableError):
        client.download(fox(client), downloads, context)
    assert files_under(downloads) == []


def test_files_server_error_raises_unavailable(client, server, context, downloads):
    server.fail("files", 500)

    with pytest.raises(PlatformUnavailableError):
        client.download(fox(client), downloads, context)
    assert files_under(downloads) == []


def test_files_of_unknown_asset_raises_not_found(client, context, downloads):
    asset = Asset("polyhaven", "no_such_asset", "Gone")

    with pytest.raises(NotFoundError):
        client.download(asset, downloads, context)


@pytest.mark.parametrize("body", [["gltf"], {"gltf": {"1k": {"gltf": {"md5": "x"}}}}])
def test_files_of_bad_shape_raise_format_error(make_client, context, downloads, body):
    with FakePolyHaven() as fake:
        fake.route("GET", r"/files/fox", lambda info: Reply.json(body))
        client = make_client(fake.url)

        with pytest.raises(ResponseFormatError):
            client.download(Asset("polyhaven", "fox", "Fox"), downloads, context)


@pytest.mark.parametrize(
    "path",
    [
        "../escape.bin",
        "textures/../../escape.bin",
        "textures\\..\\..\\escape.bin",
        "/tmp/escape.bin",
        "C:/escape.bin",
        "textures/a:b.png",
    ],
)
def test_unsafe_include_path_rejected(make_client, context, downloads, path):
    files = {"gltf": {"1k": tiny_bundle("crate", "1k", {path: b"payload"})}}
    with FakePolyHaven([FakeAsset("crate", "Crate", files)]) as fake:
        client = make_client(fake.url)

        with pytest.raises(UnsafeArchiveError) as raised:
            client.download(client.get_asset("crate"), downloads, context)

        assert path in raised.value.message
        assert fake.requests_to("/dl/") == []
    assert files_under(downloads) == []
    assert not (downloads.parent / "escape.bin").exists()


def test_download_reports_progress_over_all_files(client, context, downloads):
    client.download(fox(client), downloads, context)

    fractions = [fraction for fraction, _ in context.reports if fraction is not None]
    assert fractions[-1] == 1.0
    assert all(0.0 <= fraction < 1.0 for fraction in fractions[:-1])
    assert any(0.0 < fraction < 1.0 for fraction in fractions)
    assert any("3 files" in text for _, text in context.reports)


def test_cancelled_download_leaves_nothing(client, server, context, downloads):
    context.cancel()

    with pytest.raises(JobCancelledError):
        client.download(fox(client), downloads, context)
    assert server.requests_to("/dl/") == []
    assert files_under(downloads) == []


def test_download_offline_sends_no_request(make_client, server, context, downloads):
    client = make_client(server.url, online_access=False)

    with pytest.raises(OfflineError):
        client.download(Asset("polyhaven", "fox", "Fox"), downloads, context)
    assert server.requests_seen == []
