"""GitHubClient against the fake GitHub API and the fake Git LFS media host on 127.0.0.1."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from fakes.github import (
    API_VERSION,
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    SAMPLE_OWNER,
    SAMPLE_REPOSITORY,
    UFBX_OWNER,
    UFBX_REPOSITORY,
    FakeFile,
    FakeGitHub,
    FakeMedia,
    FakeRepository,
    gltf_with_uris,
    sample_library,
)
from meshport.core.errors import (
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    NotDownloadableError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
    ResponseFormatError,
    UnsafeArchiveError,
    UnsupportedFileError,
)
from meshport.core.jobs import Job, JobContext, JobRunner
from meshport.core.models import Asset, DownloadOptions, SearchQuery
from meshport.core.ratelimit import store_for
from meshport.core.secrets import Secret
from meshport.core.tokens import TokenManager, TokenSet
from meshport.platforms.github import GitHubClient
from meshport.platforms.github.constants import (
    JSON_MEDIA_TYPE,
    MEDIA_URL_VARIABLE,
    NOTICE,
    RAW_MEDIA_TYPE,
)
from support import SAMPLE_ASSETS, require

SAMPLES = f"{SAMPLE_OWNER}/{SAMPLE_REPOSITORY}"
UFBX = f"{UFBX_OWNER}/{UFBX_REPOSITORY}"
BOX_ID = f"{SAMPLES}:glb/Box.glb@main"
FOX_ID = f"{SAMPLES}:gltf/Fox/Fox.gltf@main"
CESIUM_MAN_ID = f"{SAMPLES}:glb/CesiumMan.glb@main"
BALL_ID = f"{UFBX}:obj/blender_279_ball_0_obj.obj@master"


@dataclass
class Servers:
    """The fake API and the fake media host, sharing one set of repositories."""

    api: FakeGitHub
    media: FakeMedia

    def add(self, repository: FakeRepository) -> FakeRepository:
        self.api.add_repository(repository)
        self.media.add_repository(repository)
        return repository


@pytest.fixture(scope="module")
def library() -> list[FakeRepository]:
    require(
        (SAMPLE_ASSETS / "MANIFEST.md").is_file(), f"sample assets not found in {SAMPLE_ASSETS}"
    )
    return sample_library(SAMPLE_ASSETS)


@pytest.fixture(scope="module")
def shared_servers(library):
    with FakeGitHub(library) as api, FakeMedia(library) as media:
        yield Servers(api, media)


@pytest.fixture
def servers(shared_servers) -> Servers:
    api, media = shared_servers.api, shared_servers.media
    api.reset()
    media.reset()
    saved = (dict(api.repositories), dict(media.repositories))
    yield shared_servers
    api.repositories, media.repositories = saved


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the HTTP layer requested; recording them replaces real sleeping."""
    return []


@pytest.fixture
def make_client(make_settings, servers, sleeps, monkeypatch):
    monkeypatch.setenv(MEDIA_URL_VARIABLE, servers.media.url)
    clients = []

    def build(*, token: str | None = DEFAULT_TOKEN, token_manager=None, **overrides):
        keys = {"github": token} if token else {}
        settings = make_settings({"github": servers.api.url}, keys, **overrides)
        client = GitHubClient(settings, sleep=sleeps.append, token_manager=token_manager)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client) -> GitHubClient:
    return make_client()


@pytest.fixture
def anonymous(make_client) -> GitHubClient:
    return make_client(token=None)


@pytest.fixture
def runner():
    jobs = JobRunner(max_workers=1)
    yield jobs
    jobs.shutdown(timeout=2)


@pytest.fixture
def context(runner) -> JobContext:
    return JobContext(Job(job_id=1, label="github download"), runner)


@pytest.fixture
def downloads(tmp_path) -> Path:
    return tmp_path / "downloads"


def sample(relative: str) -> bytes:
    return (SAMPLE_ASSETS / relative).read_bytes()


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def files_in(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()
    )


def header(seen, name: str) -> str | None:
    for key, value in seen.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def asset_for(asset_id: str, download_size: int | None = None) -> Asset:
    name = asset_id.split(":", 1)[1].rsplit("@", 1)[0].rsplit("/", 1)[-1]
    return Asset(platform="github", asset_id=asset_id, name=name, download_size=download_size)


def repo_query(full_name: str = SAMPLES, text: str = "", **filters) -> SearchQuery:
    return SearchQuery(text=text, filters={"repo": full_name, **filters})


# Code search


def test_code_search_without_token_raises_before_sending(anonymous, servers):
    with pytest.raises(AuthenticationError) as raised:
        anonymous.search(SearchQuery(text="fox"))

    assert "code search needs a token" in raised.value.message
    assert "'repo' filter" in raised.value.message
    assert servers.api.requests_seen == []


def test_code_search_finds_gltf_with_repository_licence(client, servers):
    page = client.search(SearchQuery(text="fox"))

    assert [asset.name for asset in page.results] == ["Fox.gltf"]
    fox = page.results[0]
    commit = servers.api.repositories[SAMPLES].commit
    assert fox.asset_id == f"{SAMPLES}:gltf/Fox/Fox.gltf@{commit}"
    assert fox.license == "CC-BY-4.0"
    assert fox.license_url == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert fox.author == SAMPLE_OWNER
    assert fox.url == f"{servers.api.url}/{SAMPLES}/blob/{commit}/gltf/Fox/Fox.gltf"
    assert fox.version == blob_sha(sample("gltf/Fox/Fox.gltf"))
    assert fox.formats == ("gltf",)


def test_code_search_sends_extension_qualifier(client, servers):
    client.search(SearchQuery(text=" fox ", count=7))

    (seen,) = servers.api.requests_to("/search/code")
    assert seen.query["q"] == ["fox extension:gltf"]
    assert seen.query["per_page"] == ["7"]
    assert header(seen, "Authorization") == f"Bearer {DEFAULT_TOKEN}"


def test_code_search_format_filter_finds_obj(client):
    page = client.search(SearchQuery(text="ball", filters={"format": "obj"}))

    assert [asset.asset_id.split("@")[0] for asset in page.results] == [BALL_ID.split("@")[0]]
    assert page.results[0].license == "MIT"
    assert page.results[0].author == UFBX_OWNER


@pytest.mark.parametrize("file_format", ["glb", "fbx"])
def test_code_search_rejects_binary_formats(client, servers, file_format):
    with pytest.raises(ConfigurationError) as raised:
        client.search(SearchQuery(text="box", filters={"format": file_format}))

    assert "indexes only text files" in raised.value.message
    assert servers.api.requests_seen == []


def test_code_search_needs_words(client, servers):
    with pytest.raises(ConfigurationError) as raised:
        client.search(SearchQuery(text="  "))

    assert "needs a word" in raised.value.message
    assert servers.api.requests_seen == []


def test_code_search_follows_next_link(client, servers):
    fox = sample("gltf/Fox/Fox.gltf")
    servers.add(FakeRepository("fake-zoo", "animals", {"a/Fox.gltf": fox, "b/Fox.gltf": fox}))

    first = client.search(SearchQuery(text="fox", count=2))
    second = client.search(SearchQuery(page_token=first.next_page))

    assert len(first.results) == 2
    assert len(second.results) == 1
    assert second.next_page is None
    names = {asset.asset_id.split("@")[0] for asset in first.results + second.results}
    assert len(names) == 3


def test_code_search_rejects_next_link_on_other_host(client, servers):
    with pytest.raises(ResponseFormatError) as raised:
        client.search(SearchQuery(page_token="code:http://127.0.0.1:1/search/code?q=x"))

    assert "was not followed" in raised.value.message
    assert servers.api.requests_seen == []


def test_code_search_marks_incomplete_results(client, servers):
    servers.api.incomplete_results = True

    page = client.search(SearchQuery(text="fox"))

    assert "only part of the matches" in page.notice


def test_code_search_counts_against_code_search_budget(client, servers):
    client.search(SearchQuery(text="fox"))

    store = store_for(client.settings)
    code_search = store.server_state("github:code_search")
    core = store.server_state("github:core")
    assert code_search.limit == 10
    assert code_search.remaining == 9
    assert core.limit == 5000


def test_repeated_code_search_is_served_from_cache(client, servers):
    client.search(SearchQuery(text="fox"))
    client.search(SearchQuery(text="fox"))

    assert len(servers.api.requests_to("/search/code")) == 1


# Repository listing


def test_repository_listing_works_without_token(anonymous, servers):
    page = anonymous.search(repo_query())

    assert [asset.name for asset in page.results] == ["Box.glb", "CesiumMan.glb", "Fox.gltf"]
    assert page.notice == ""
    assert all(header(seen, "Authorization") is None for seen in servers.api.requests_seen)


def test_repository_listing_maps_tree_entry(anonymous, servers):
    box = anonymous.search(repo_query(text="box")).results[0]

    assert box.asset_id == BOX_ID
    assert box.author == SAMPLE_OWNER
    assert box.license == "CC-BY-4.0"
    assert box.url == f"{servers.api.url}/{SAMPLES}/blob/main/glb/Box.glb"
    assert box.download_size == len(sample("glb/Box.glb"))
    assert box.version == blob_sha(sample("glb/Box.glb"))
    assert box.formats == ("glb",)


def test_repository_listing_shows_lfs_pointer_size_as_unknown(anonymous, servers):
    page = anonymous.search(repo_query())

    sizes = {asset.name: asset.download_size for asset in page.results}
    assert sizes["CesiumMan.glb"] is None
    assert sizes["Box.glb"] == len(sample("glb/Box.glb"))
    assert len(servers.api.requests_to(f"/repos/{SAMPLES}/contents/")) == 0
    assert servers.media.requests_seen == []


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("small.glb", b"glTF" + bytes(100), None),
        ("small.fbx", bytes(1023), None),
        ("large.fbx", bytes(1024), 1024),
        ("small.gltf", b'{"asset": {"version": "2.0"}}', 29),
        ("small.obj", b"v 0 0 0\n", 8),
    ],
)
def test_repository_listing_size_of_pointer_sized_files(anonymous, servers, path, data, expected):
    servers.add(FakeRepository("fake-lfs", "sizes", {path: data}))

    (asset,) = anonymous.search(repo_query("fake-lfs/sizes")).results

    assert asset.download_size == expected


def test_get_asset_of_lfs_file_has_unknown_size(anonymous):
    asset = anonymous.get_asset(CESIUM_MAN_ID)

    assert asset.download_size is None
    assert asset.version == blob_sha(FakeFile(sample("glb/CesiumMan.glb"), lfs=True).blob)


def test_repository_listing_uses_repository_default_branch(anonymous):
    page = anonymous.search(repo_query(UFBX))

    assert [asset.asset_id for asset in page.results] == [
        f"{UFBX}:fbx/blender_279_default_7400_binary.fbx@master",
        BALL_ID,
    ]
    assert {asset.license for asset in page.results} == {"MIT"}


def test_repository_listing_filters_by_words_and_format(anonymous):
    by_word = anonymous.search(repo_query(text="GLB man"))
    by_format = anonymous.search(repo_query(format="gltf"))

    assert [asset.name for asset in by_word.results] == ["CesiumMan.glb"]
    assert [asset.name for asset in by_format.results] == ["Fox.gltf"]


def test_repository_listing_pages_through_tokens(anonymous, servers):
    names = []
    query = SearchQuery(filters={"repo": SAMPLES}, count=1)
    for _ in range(3):
        page = anonymous.search(query)
        names += [asset.name for asset in page.results]
        query = SearchQuery(page_token=page.next_page)

    assert names == ["Box.glb", "CesiumMan.glb", "Fox.gltf"]
    assert page.next_page is None
    assert len(servers.api.requests_to(f"/repos/{SAMPLES}/git/trees/")) == 1


def test_repository_listing_rejects_forged_page_token(anonymous):
    with pytest.raises(ConfigurationError) as raised:
        anonymous.search(SearchQuery(page_token="tree:bm90IGpzb24="))

    assert "page token" in raised.value.message


def test_repository_listing_accepts_github_url(anonymous):
    page = anonymous.search(repo_query(f"https://github.com/{SAMPLES}.git", text="fox"))

    assert [asset.asset_id for asset in page.results] == [FOX_ID]


def test_repository_listing_with_ref_filter(anonymous, servers):
    commit = servers.api.repositories[SAMPLES].commit

    page = anonymous.search(repo_query(text="box", ref=commit))

    assert [asset.asset_id for asset in page.results] == [f"{SAMPLES}:glb/Box.glb@{commit}"]


def test_repository_listing_with_unknown_ref_raises_not_found(anonymous):
    with pytest.raises(NotFoundError) as raised:
        anonymous.search(repo_query(ref="no-such-branch"))

    assert "no branch, tag or commit 'no-such-branch'" in raised.value.message


def test_missing_repository_raises_not_found(anonymous):
    with pytest.raises(NotFoundError) as raised:
        anonymous.search(repo_query("fake-cesium/no-such-repository"))

    assert "fake-cesium/no-such-repository was not found" in raised.value.message


def test_truncated_tree_gives_notice_and_warning(anonymous, servers, caplog):
    servers.add(
        FakeRepository(
            "fake-huge",
            "monorepo",
            {f"models/{index:03}.glb": sample("glb/Box.glb") for index in range(10)},
            truncate_tree_at=5,
        )
    )

    with caplog.at_level(logging.WARNING, logger="meshport.platforms.github"):
        page = anonymous.search(repo_query("fake-huge/monorepo"))

    assert len(page.results) == 4  # the tree's first 5 entries hold the folder and 4 files
    assert "only part of it was searched" in page.notice
    assert "truncated" in caplog.text


@pytest.mark.parametrize("spdx_id", [None, "NOASSERTION"])
def test_repository_without_identified_licence_lists_unknown(anonymous, servers, spdx_id):
    servers.add(
        FakeRepository(
            "fake-someone", "models", {"box.glb": sample("glb/Box.glb")}, license=spdx_id
        )
    )

    (box,) = anonymous.search(repo_query("fake-someone/models")).results

    assert box.license == "unknown"
    assert box.license_url is None


@pytest.mark.parametrize(
    "filters",
    [
        {"repo": SAMPLES, "sort": "name"},
        {"repo": "not a repository"},
        {"repo": SAMPLES, "format": "usdz"},
        {"ref": "main"},
        {"repo": SAMPLES, "ref": "bad..ref"},
    ],
)
def test_search_rejects_invalid_filters(anonymous, servers, filters):
    with pytest.raises(ConfigurationError):
        anonymous.search(SearchQuery(text="box", filters=filters))

    assert servers.api.requests_seen == []


# One asset and ids


def test_get_asset_returns_file_record(anonymous, servers):
    asset = anonymous.get_asset(f"{SAMPLES}:gltf/Fox/Fox.gltf")

    assert asset.asset_id == FOX_ID
    assert asset.name == "Fox.gltf"
    assert asset.license == "CC-BY-4.0"
    assert asset.download_size == len(sample("gltf/Fox/Fox.gltf"))
    assert asset.version == blob_sha(sample("gltf/Fox/Fox.gltf"))
    assert asset.url == f"{servers.api.url}/{SAMPLES}/blob/main/gltf/Fox/Fox.gltf"


def test_get_asset_of_missing_file_raises_not_found(anonymous):
    with pytest.raises(NotFoundError) as raised:
        anonymous.get_asset(f"{SAMPLES}:glb/Gone.glb@main")

    assert "'glb/Gone.glb' was not found" in raised.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FOX_ID, FOX_ID),
        (f"{SAMPLES}:gltf/Fox/Fox.gltf", f"{SAMPLES}:gltf/Fox/Fox.gltf"),
        (f"https://github.com/{SAMPLES}/blob/main/gltf/Fox/Fox.gltf", FOX_ID),
        (
            f"https://github.com/{SAMPLES}/blob/main/models/My%20Chair.obj",
            f"{SAMPLES}:models/My Chair.obj@main",
        ),
    ],
)
def test_parse_asset_id_accepts_ids_and_file_urls(anonymous, text, expected):
    assert anonymous.parse_asset_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        SAMPLES,
        f"{SAMPLES}:../secret.glb@main",
        f"{SAMPLES}:/etc/model.glb",
        f"{SAMPLES}:models//box.glb",
        f"https://github.com/{SAMPLES}",
        "bad owner/models:box.glb",
    ],
)
def test_parse_asset_id_rejects_other_text(anonymous, text):
    with pytest.raises(ConfigurationError):
        anonymous.parse_asset_id(text)


def test_parse_asset_id_rejects_non_model_file(anonymous):
    with pytest.raises(UnsupportedFileError) as raised:
        anonymous.parse_asset_id(f"{SAMPLES}:README.md@main")

    assert ".glb, .gltf, .fbx or .obj" in raised.value.message


# Downloads


def test_download_glb(anonymous, context, downloads):
    result = anonymous.download(asset_for(BOX_ID), downloads, context)

    assert result.model_path.read_bytes() == sample("glb/Box.glb")
    assert result.file_format == "glb"
    assert files_in(result.folder) == ["Box.glb"]
    assert files_in(downloads) == [f"{result.folder.name}/Box.glb"]


def test_download_gltf_fetches_buffers_and_images(anonymous, context, downloads):
    result = anonymous.download(asset_for(FOX_ID), downloads, context)

    assert files_in(result.folder) == ["Fox.bin", "Fox.gltf", "Texture.png"]
    for name in ("Fox.gltf", "Fox.bin", "Texture.png"):
        assert (result.folder / name).read_bytes() == sample(f"gltf/Fox/{name}"), name
    assert result.model_path == result.folder / "Fox.gltf"


def test_download_of_default_branch_id_resolves_branch(anonymous, servers, context, downloads):
    result = anonymous.download(asset_for(f"{SAMPLES}:glb/Box.glb"), downloads, context)

    assert result.model_path.read_bytes() == sample("glb/Box.glb")
    (contents,) = servers.api.requests_to(f"/repos/{SAMPLES}/contents/")
    assert contents.query["ref"] == ["main"]


def test_download_gltf_keeps_subfolders_and_decodes_uris(anonymous, servers, context, downloads):
    fox = sample("gltf/Fox/Fox.gltf").replace(b'"Texture.png"', b'"textures/Fox%20Skin.png"')
    servers.add(
        FakeRepository(
            "fake-zoo",
            "animals",
            {
                "fox/Fox.gltf": fox,
                "fox/Fox.bin": sample("gltf/Fox/Fox.bin"),
                "fox/textures/Fox Skin.png": sample("gltf/Fox/Texture.png"),
            },
        )
    )

    result = anonymous.download(asset_for("fake-zoo/animals:fox/Fox.gltf@main"), downloads, context)

    assert files_in(result.folder) == ["Fox.bin", "Fox.gltf", "textures/Fox Skin.png"]


def test_download_obj_fetches_material_library(anonymous, context, downloads):
    result = anonymous.download(asset_for(BALL_ID), downloads, context)

    assert files_in(result.folder) == ["blender_279_ball_0_obj.mtl", "blender_279_ball_0_obj.obj"]
    assert (result.folder / "blender_279_ball_0_obj.mtl").read_bytes() == sample(
        "obj/blender_279_ball_0_obj.mtl"
    )


def test_download_obj_skips_missing_material_library(
    anonymous, servers, context, downloads, caplog
):
    obj = sample("obj/blender_279_ball_0_obj.obj")
    servers.add(FakeRepository("fake-zoo", "balls", {"ball.obj": obj}))

    with caplog.at_level(logging.WARNING, logger="meshport.platforms.github"):
        result = anonymous.download(asset_for("fake-zoo/balls:ball.obj@main"), downloads, context)

    assert files_in(result.folder) == ["ball.obj"]
    assert "blender_279_ball_0_obj.mtl" in caplog.text


@pytest.mark.parametrize(
    "uri",
    [
        "../secret.bin",
        "textures/../../secret.bin",
        "/etc/passwd",
        "http://127.0.0.1:1/evil.bin",
        "file:///etc/passwd",
        "C:/Windows/evil.bin",
    ],
)
def test_download_rejects_uri_escaping_the_folder(anonymous, servers, context, downloads, uri):
    servers.add(
        FakeRepository(
            "fake-evil", "models", {"scene/model.gltf": gltf_with_uris(uri), "secret.bin": b"1234"}
        )
    )

    with pytest.raises(UnsafeArchiveError) as raised:
        anonymous.download(asset_for("fake-evil/models:scene/model.gltf@main"), downloads, context)

    assert uri in raised.value.message
    assert files_in(downloads) == []
    assert len(servers.api.requests_to("/repos/fake-evil/models/contents/")) == 1


def test_download_gltf_with_missing_buffer_names_it(anonymous, servers, context, downloads):
    servers.add(
        FakeRepository("fake-broken", "models", {"model.gltf": gltf_with_uris("model.bin")})
    )

    with pytest.raises(NotFoundError) as raised:
        anonymous.download(asset_for("fake-broken/models:model.gltf@main"), downloads, context)

    assert "'model.bin'" in raised.value.message
    assert "which 'model.gltf' needs" in raised.value.message
    assert files_in(downloads) == []


def test_download_follows_lfs_pointer(anonymous, servers, context, downloads):
    result = anonymous.download(asset_for(CESIUM_MAN_ID), downloads, context)

    assert result.model_path.read_bytes() == sample("glb/CesiumMan.glb")
    (media_request,) = servers.media.requests_seen
    assert media_request.path == f"/media/{SAMPLES}/main/glb/CesiumMan.glb"


def test_download_lfs_sha256_mismatch_leaves_nothing(anonymous, servers, context, downloads):
    servers.media.corrupt(SAMPLES, "glb/CesiumMan.glb")

    with pytest.raises(DownloadError) as raised:
        anonymous.download(asset_for(CESIUM_MAN_ID), downloads, context)

    expected = hashlib.sha256(sample("glb/CesiumMan.glb")).hexdigest()
    assert "sha256 mismatch" in raised.value.message
    assert expected in raised.value.message
    assert files_in(downloads) == []


def test_download_lfs_size_mismatch_leaves_nothing(anonymous, servers, context, downloads):
    data = sample("glb/Box.glb")
    # The pointer in Git announces one byte more than the media host serves.
    pointer = FakeFile(data + b"\0", lfs=True)
    servers.api.add_repository(FakeRepository("fake-lfs", "models", {"box.glb": pointer}))
    servers.media.add_repository(
        FakeRepository("fake-lfs", "models", {"box.glb": FakeFile(data, lfs=True)})
    )

    with pytest.raises(DownloadError) as raised:
        anonymous.download(asset_for("fake-lfs/models:box.glb@main"), downloads, context)

    assert "size mismatch" in raised.value.message
    assert files_in(downloads) == []


@pytest.mark.parametrize("status", [403, 429])
def test_download_lfs_quota_gives_clear_message(anonymous, servers, context, downloads, status):
    servers.media.over_quota = True
    servers.media.quota_status = status

    with pytest.raises(NotDownloadableError) as raised:
        anonymous.download(asset_for(CESIUM_MAN_ID), downloads, context)

    assert f"{SAMPLES} is over its Git LFS data quota" in raised.value.message
    assert files_in(downloads) == []


def test_download_of_missing_lfs_object_raises_not_found(anonymous, servers, context, downloads):
    data = sample("glb/Box.glb")
    servers.api.add_repository(
        FakeRepository("fake-lfs", "lost", {"box.glb": FakeFile(data, lfs=True)})
    )

    with pytest.raises(NotFoundError) as raised:
        anonymous.download(asset_for("fake-lfs/lost:box.glb@main"), downloads, context)

    assert "Git LFS object of 'box.glb'" in raised.value.message
    assert files_in(downloads) == []


def test_download_rejects_file_over_100_mb_before_sending(anonymous, servers, context, downloads):
    asset = asset_for(BOX_ID, download_size=200 * 2**20)

    with pytest.raises(NotDownloadableError) as raised:
        anonymous.download(asset, downloads, context)

    assert "more than the 100 MB" in raised.value.message
    assert servers.api.requests_seen == []


def test_download_maps_too_large_answer(anonymous, servers, context, downloads):
    huge = FakeFile(sample("glb/Box.glb"), reported_size=150 * 2**20)
    servers.add(FakeRepository("fake-huge", "scan", {"scan.glb": huge}))

    with pytest.raises(NotDownloadableError) as raised:
        anonymous.download(asset_for("fake-huge/scan:scan.glb@main"), downloads, context)

    assert "HTTP 403" in raised.value.message
    assert "up to 100 MB" in raised.value.message
    assert files_in(downloads) == []


def test_download_again_replaces_earlier_folder(anonymous, context, downloads):
    first = anonymous.download(asset_for(BOX_ID), downloads, context)
    (first.folder / "stale.txt").write_text("left from an earlier download")

    second = anonymous.download(asset_for(BOX_ID), downloads, context)

    assert second.folder == first.folder
    assert files_in(second.folder) == ["Box.glb"]


def test_download_rejects_other_format_option(anonymous, servers, context, downloads):
    with pytest.raises(ConfigurationError):
        anonymous.download(asset_for(BOX_ID), downloads, context, DownloadOptions("gltf"))

    assert servers.api.requests_seen == []


# Headers, tokens and rate limits


def test_media_host_never_receives_authorization(client, servers, context, downloads):
    client.download(asset_for(CESIUM_MAN_ID), downloads, context)

    assert servers.media.requests_seen
    assert all(header(seen, "Authorization") is None for seen in servers.media.requests_seen)
    api_requests = servers.api.requests_seen
    assert all(header(seen, "Authorization") == f"Bearer {DEFAULT_TOKEN}" for seen in api_requests)


def test_every_api_request_sends_version_and_media_type(client, servers, context, downloads):
    client.search(SearchQuery(text="fox"))
    client.search(repo_query())
    client.get_asset(BOX_ID)
    client.download(asset_for(FOX_ID), downloads, context)
    client.download(asset_for(CESIUM_MAN_ID), downloads, context)
    client.validate_key()

    seen = servers.api.requests_seen
    assert seen
    for request in seen:
        assert header(request, "X-GitHub-Api-Version") == API_VERSION, request.path
        assert header(request, "Accept") in (JSON_MEDIA_TYPE, RAW_MEDIA_TYPE), request.path
    raw = [request for request in seen if header(request, "Accept") == RAW_MEDIA_TYPE]
    assert {request.path.split("/contents/")[1] for request in raw} == {
        "gltf/Fox/Fox.gltf",
        "gltf/Fox/Fox.bin",
        "gltf/Fox/Texture.png",
        "glb/CesiumMan.glb",
    }


def test_rate_limit_403_raises_with_wait(anonymous, servers, sleeps):
    servers.api.exhaust("core", reset_in=600)

    with pytest.raises(RateLimitedError) as raised:
        anonymous.search(repo_query())

    assert 595 <= raised.value.retry_after <= 603
    assert "rate limited" in raised.value.message
    assert sleeps == []


TOKEN_HINT = (
    "Add a GitHub token in Meshport's preferences (or MESHPORT_GITHUB_KEY) for 5000 "
    "requests per hour."
)


def test_rate_limit_without_token_suggests_token(anonymous, servers):
    servers.api.exhaust("core", reset_in=600)

    with pytest.raises(RateLimitedError) as raised:
        anonymous.search(repo_query())

    assert raised.value.message.endswith(TOKEN_HINT)
    assert raised.value.message.count("Add a GitHub token") == 1
    assert raised.value.status == 403
    assert 595 <= raised.value.retry_after <= 603


def test_rate_limit_without_token_names_variable_when_set(anonymous, servers, monkeypatch):
    monkeypatch.setenv("MESHPORT_GITHUB_KEY", "ghp_fromTheEnvironment")
    servers.api.exhaust("core", reset_in=600)

    with pytest.raises(RateLimitedError) as raised:
        anonymous.search(repo_query())

    assert "Add a GitHub token in MESHPORT_GITHUB_KEY for 5000" in raised.value.message
    assert "ghp_fromTheEnvironment" not in raised.value.message


def test_local_rate_wait_without_token_suggests_token(anonymous, servers, context, downloads):
    servers.api.exhaust("core", reset_in=600)
    with pytest.raises(RateLimitedError):
        anonymous.search(repo_query())
    sent = len(servers.api.requests_seen)

    with pytest.raises(RateLimitedError) as raised:
        anonymous.download(asset_for(BOX_ID), downloads, context)

    assert len(servers.api.requests_seen) == sent
    assert raised.value.message.endswith(TOKEN_HINT)


def test_media_host_rate_limit_has_no_token_hint(anonymous, servers, context, downloads):
    servers.media.throttle_for = 3600

    with pytest.raises(RateLimitedError) as raised:
        anonymous.download(asset_for(CESIUM_MAN_ID), downloads, context)

    assert raised.value.retry_after == pytest.approx(3600, abs=2)
    assert "Add a GitHub token" not in raised.value.message
    assert files_in(downloads) == []


def test_rate_limit_with_token_has_no_token_hint(client, servers):
    servers.api.exhaust("core", reset_in=600)

    with pytest.raises(RateLimitedError) as raised:
        client.search(repo_query())

    assert "Add a GitHub token" not in raised.value.message


def test_rate_limit_blocks_later_requests_without_sending(anonymous, servers):
    servers.api.exhaust("core", reset_in=600)
    with pytest.raises(RateLimitedError):
        anonymous.search(repo_query())
    sent = len(servers.api.requests_seen)

    with pytest.raises(RateLimitedError) as raised:
        anonymous.get_asset(BOX_ID)

    assert len(servers.api.requests_seen) == sent
    assert raised.value.retry_after > 590


def test_code_search_rate_limit_leaves_core_requests_alone(client, servers):
    servers.api.exhaust("code_search", reset_in=60)

    with pytest.raises(RateLimitedError):
        client.search(SearchQuery(text="fox"))
    page = client.search(repo_query())

    assert len(page.results) == 3


def test_secondary_rate_limit_403_waits_as_told(anonymous, servers):
    servers.api.fail(
        "repository",
        403,
        message="You have exceeded a secondary rate limit. Please wait a few minutes.",
        headers={"Retry-After": "60"},
    )

    with pytest.raises(RateLimitedError) as raised:
        anonymous.search(repo_query())

    assert raised.value.retry_after == pytest.approx(60, abs=1)
    assert "rate limited, next request in 60 s" in raised.value.message


def test_validate_key_returns_login(client):
    account = client.validate_key()

    assert account.platform == "github"
    assert account.username == DEFAULT_LOGIN
    assert account.plan == "free"


def test_validate_key_rejects_wrong_token(make_client):
    client = make_client(token="ghp_wrongToken")

    with pytest.raises(AuthenticationError) as raised:
        client.validate_key()

    assert "token was rejected (HTTP 401)" in raised.value.message
    assert "ghp_wrongToken" not in raised.value.message


def test_validate_key_without_token_sends_nothing(anonymous, servers):
    with pytest.raises(AuthenticationError) as raised:
        anonymous.validate_key()

    assert "no token is set" in raised.value.message
    assert servers.api.requests_seen == []


class MemoryStore:
    """A credential store in a dict, for the token manager."""

    def __init__(self):
        self.values: dict[str, Secret] = {}

    def get(self, platform_id):
        return self.values.get(platform_id)

    def set(self, platform_id, secret):
        self.values[platform_id] = secret

    def delete(self, platform_id):
        self.values.pop(platform_id, None)


def test_device_flow_token_used_without_personal_token(make_client, servers):
    manager = TokenManager("github", MemoryStore(), label="GitHub")
    manager.save(TokenSet(Secret(DEFAULT_TOKEN)))
    client = make_client(token=None, token_manager=manager)

    page = client.search(SearchQuery(text="fox"))

    assert [asset.name for asset in page.results] == ["Fox.gltf"]
    assert all(
        header(seen, "Authorization") == f"Bearer {DEFAULT_TOKEN}"
        for seen in servers.api.requests_seen
    )


@pytest.mark.parametrize("operation", ["search", "download", "validate"])
def test_offline_settings_send_no_request(make_client, servers, context, downloads, operation):
    client = make_client(online_access=False)

    with pytest.raises(OfflineError):
        if operation == "search":
            client.search(repo_query())
        elif operation == "download":
            client.download(asset_for(BOX_ID), downloads, context)
        else:
            client.validate_key()

    assert servers.api.requests_seen == []


def test_media_url_variable_must_be_http(make_settings, servers, monkeypatch):
    monkeypatch.setenv(MEDIA_URL_VARIABLE, "ftp://127.0.0.1/media")
    settings = make_settings({"github": servers.api.url})

    with pytest.raises(ConfigurationError) as raised:
        GitHubClient(settings)

    assert MEDIA_URL_VARIABLE in raised.value.message


def test_class_notice_says_binary_formats_are_not_searchable():
    assert "GLB" in NOTICE
    assert "binary FBX" in NOTICE
    assert GitHubClient.key_optional


# The fake itself


def test_fake_sends_rate_headers_on_every_answer(servers):
    base = servers.api.url
    answers = [
        requests.get(f"{base}/repos/{SAMPLES}", timeout=5),
        requests.get(f"{base}/repos/fake-none/missing", timeout=5),
        requests.get(f"{base}/search/code", params={"q": "fox"}, timeout=5),
        requests.get(f"{base}/user", headers={"Authorization": "Bearer wrong"}, timeout=5),
    ]

    assert [answer.status_code for answer in answers] == [200, 404, 401, 401]
    for answer in answers:
        for name in ("limit", "remaining", "used", "reset", "resource"):
            assert f"x-ratelimit-{name}" in answer.headers, (answer.url, name)
    assert answers[2].headers["x-ratelimit-resource"] == "code_search"


def test_fake_serves_lfs_pointer_as_raw_content(servers):
    answer = requests.get(
        f"{servers.api.url}/repos/{SAMPLES}/contents/glb/CesiumMan.glb",
        headers={"Accept": RAW_MEDIA_TYPE},
        timeout=5,
    )

    assert answer.content.startswith(b"version https://git-lfs.github.com/spec/v1\noid sha256:")
    assert len(answer.content) < 200
