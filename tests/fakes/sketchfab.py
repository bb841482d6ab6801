"""A fake Sketchfab Data API v3 server on 127.0.0.1, written from the documented protocol.

Routes, all responding in JSON with ``{"detail": ...}`` error bodies:

- ``GET /v3/search?type=models``: filters ``q``, ``downloadable``, ``categories``,
  ``animated``, ``staffpicked``, ``rigged``, ``pbr_type``, ``min_face_count``,
  ``max_face_count``, ``licenses``, ``sort_by``; ``count`` (capped at 24) and
  ``cursor``; ``next``/``previous`` URLs and ``cursors``.
- ``GET /v3/models/{uid}``: model detail with the licence as an object.
- ``GET /v3/models/{uid}/download`` (key required): pre-signed storage URLs.
- ``GET /v3/me`` (key required) and ``GET /v3/categories``.
- ``GET /storage/{uid}/{archive}/{file}?expires=&signature=``: the storage host. Like
  S3, it responds 400 when an Authorization header is present and 403 once the link
  has expired or its signature does not match, with an XML body. With
  ``separate_storage=True`` it listens on a port of its own, as a storage host
  apart from the API does.

A wrong ``Authorization: Token <key>`` gets 401 on every API route, as Django REST
framework's token authentication does; a missing one gets 401 only where a signed-in
user is required. Use ``sample_library`` for a library built from real sample files.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from fakes.server import FakeServer, Reply, RequestInfo

DEFAULT_API_KEY = "fake-sketchfab-token-0123456789"
MAX_COUNT = 24
ENDPOINTS = ("search", "model", "download", "storage", "me", "categories")
STORAGE_PATH = r"/storage/(?P<uid>\w+)/(?P<archive>\w+)/(?P<file>[^/]+)"

CATEGORIES = {
    "animals-pets": "Animals & Pets",
    "architecture": "Architecture",
    "art-abstract": "Art & Abstract",
    "cars-vehicles": "Cars & Vehicles",
    "characters-creatures": "Characters & Creatures",
    "cultural-heritage-history": "Cultural Heritage & History",
    "electronics-gadgets": "Electronics & Gadgets",
    "fashion-style": "Fashion & Style",
    "food-drink": "Food & Drink",
    "furniture-home": "Furniture & Home",
    "music": "Music",
    "nature-plants": "Nature & Plants",
    "news-politics": "News & Politics",
    "people": "People",
    "places-travel": "Places & Travel",
    "science-technology": "Science & Technology",
    "sports-fitness": "Sports & Fitness",
    "weapons-military": "Weapons & Military",
}

_CC = "https://creativecommons.org/licenses/{}/4.0/"
_CREDIT = "Author must be credited."
# slug -> (label, fullName, requirements, url)
LICENSES = {
    "by": (
        "CC Attribution",
        "Creative Commons Attribution",
        f"{_CREDIT} Commercial use is allowed.",
        _CC.format("by"),
    ),
    "by-sa": (
        "CC Attribution-ShareAlike",
        "Creative Commons Attribution-ShareAlike",
        f"{_CREDIT} Modified versions must have the same license.",
        _CC.format("by-sa"),
    ),
    "by-nd": (
        "CC Attribution-NoDerivs",
        "Creative Commons Attribution-NoDerivs",
        f"{_CREDIT} Modification is not allowed.",
        _CC.format("by-nd"),
    ),
    "by-nc": (
        "CC Attribution-NonCommercial",
        "Creative Commons Attribution-NonCommercial",
        f"{_CREDIT} No commercial use.",
        _CC.format("by-nc"),
    ),
    "by-nc-sa": (
        "CC Attribution-NonCommercial-ShareAlike",
        "Creative Commons Attribution-NonCommercial-ShareAlike",
        f"{_CREDIT} No commercial use. Same license.",
        _CC.format("by-nc-sa"),
    ),
    "by-nc-nd": (
        "CC Attribution-NonCommercial-NoDerivs",
        "Creative Commons Attribution-NonCommercial-NoDerivs",
        f"{_CREDIT} No commercial use. No modification.",
        _CC.format("by-nc-nd"),
    ),
    "cc0": (
        "CC0 Public Domain",
        "Creative Commons Zero",
        "Credit is not required.",
        "https://creativecommons.org/publicdomain/zero/1.0/",
    ),
    "free-st": ("Free Standard", "Free Standard", "Under basic restrictions.", ""),
    "st": ("Standard", "Standard", "Under basic restrictions.", ""),
    "ed": ("Editorial", "Editorial", "Use only in connection with news events.", ""),
}

# S3's error codes for the statuses a test injects on the storage host.
STORAGE_ERROR_CODES = {
    404: "NoSuchKey",
    410: "NoSuchKey",
    500: "InternalError",
    503: "ServiceUnavailable",
}
STORAGE_CONTENT_TYPES = {
    "glb": "model/gltf-binary",
    "gltf": "application/zip",
    "usdz": "model/vnd.usdz+zip",
}
SORT_ATTRIBUTES = {
    "likeCount": "like_count",
    "viewCount": "view_count",
    "publishedAt": "published_at",
}


@dataclass
class FakeModel:
    """One model of the fake library.

    ``archives`` maps an archive name (``gltf``, ``glb``, ``usdz``) to the bytes the
    storage host serves; ``gltf`` is the zip Sketchfab builds. Leave ``glb`` out to
    model a download response without it. ``omit`` lists dotted field paths removed from every
    JSON form of the model (``"faceCount"``, ``"user.displayName"``,
    ``"archives.glb"``) to imitate sparse responses. ``search_license`` sets the short
    licence form in search results: ``"slug"`` (the string ``"by"``) or ``"label"``
    (the object ``{"label": "CC Attribution"}``); detail always has the full object.
    ``pbr_type`` is ``"metalness"``, ``"specular"`` or ``""`` for a model without PBR.
    """

    uid: str
    name: str
    archives: dict[str, bytes] = field(default_factory=dict)
    username: str = "fake-author"
    display_name: str = "Fake Author"
    license: str = "by"
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    face_count: int = 12
    vertex_count: int = 24
    texture_count: int = 0
    animation_count: int = 0
    rigged: bool = False
    staffpicked: bool = False
    pbr_type: str = "metalness"
    like_count: int = 0
    view_count: int = 0
    published_at: str = "2024-01-01T00:00:00"
    updated_at: str = "2024-01-02T00:00:00"
    downloadable: bool = True
    omit: frozenset[str] = frozenset()
    search_license: str = "slug"


@dataclass
class Fault:
    """An error response injected on one endpoint (see ``FakeSketchfab.fail``)."""

    endpoint: str
    status: int
    uid: str | None = None
    remaining: int | None = None
    retry_after: str | None = None
    detail: str | None = None
    archive: str | None = None


class FakeSketchfab(FakeServer):
    """A fake Sketchfab v3 API and storage host; use as a context manager.

    ``api_base`` (``<url>/v3``) is the base URL to give the client. ``api_key`` is the
    one token accepted; ``username`` and ``plan`` are what ``/v3/me`` returns.
    ``link_lifetime`` is the ``expires`` of storage links in seconds. Links are
    timed with ``clock`` (seconds, default ``time.time``), so a test can expire them
    by moving a fake clock forward. ``separate_storage`` serves the storage host on a
    second port; its requests still appear in ``requests_seen``. Setting
    ``next_url_base`` puts the search's ``next`` and ``previous`` links under that
    URL instead of ``api_base``, as a response pointing to another host would.
    """

    def __init__(
        self,
        models: list[FakeModel] | tuple[FakeModel, ...] = (),
        *,
        api_key: str = DEFAULT_API_KEY,
        username: str = "meshport-tester",
        plan: str = "basic",
        link_lifetime: int = 300,
        clock: Callable[[], float] = time.time,
        separate_storage: bool = False,
    ):
        super().__init__()
        self.models: dict[str, FakeModel] = {model.uid: model for model in models}
        self.api_key = api_key
        self.username = username
        self.plan = plan
        self.link_lifetime = link_lifetime
        self.clock = clock
        self.faults: list[Fault] = []
        self.storage_bodies: dict[tuple[str, str], bytes] = {}
        self.next_url_base: str | None = None
        self._signing_key = hashlib.sha256(f"storage:{api_key}".encode()).digest()
        self._fault_lock = threading.Lock()
        self._storage_server: FakeServer | None = None
        if separate_storage:
            self._storage_server = FakeServer()
            # One request log for both hosts, so requests_to("/storage/") works alike.
            self._storage_server.requests_seen = self.requests_seen
            self._storage_server.route("GET", STORAGE_PATH, self._storage)
        self._add_routes()

    @property
    def api_base(self) -> str:
        return f"{self.url}/v3"

    @property
    def storage_url(self) -> str:
        """The root URL of the storage host: its own port with ``separate_storage``."""
        return self._storage_server.url if self._storage_server else self.url

    def start(self) -> FakeSketchfab:
        super().start()
        if self._storage_server is not None:
            self._storage_server.start()
        return self

    def stop(self) -> None:
        if self._storage_server is not None:
            self._storage_server.stop()
        super().stop()

    def add_model(self, model: FakeModel) -> FakeModel:
        self.models[model.uid] = model
        return model

    def fail(
        self,
        endpoint: str,
        status: int,
        *,
        uid: str | None = None,
        times: int | None = None,
        retry_after: str | int | None = None,
        detail: str | None = None,
        archive: str | None = None,
    ) -> None:
        """Respond with ``status`` on ``endpoint`` (one of ``ENDPOINTS``) instead of the
        normal response, for one model's ``uid`` or for all, ``times`` times or always.
        ``retry_after`` adds a Retry-After header; ``detail`` replaces the default text.
        Storage faults respond with an S3-style XML body, for one ``archive`` (``glb``,
        ``gltf``) or for all."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        retry = None if retry_after is None else str(retry_after)
        with self._fault_lock:
            self.faults.append(Fault(endpoint, status, uid, times, retry, detail, archive))

    def serve_instead(self, uid: str, archive: str, body: bytes) -> None:
        """Make the storage host send ``body`` for one archive while ``/download``
        still announces the real size, as a corrupt or truncated object would."""
        self.storage_bodies[(uid, archive)] = body

    def reset(self) -> None:
        """Forget injected faults, replaced storage bodies, ``next_url_base`` and the
        request log, so one server can serve several tests."""
        with self._fault_lock:
            self.faults.clear()
        self.storage_bodies.clear()
        self.next_url_base = None
        self.requests_seen.clear()

    def requests_to(self, path_prefix: str) -> list:
        """Return the requests seen whose path starts with ``path_prefix``."""
        return [seen for seen in list(self.requests_seen) if seen.path.startswith(path_prefix)]

    def _add_routes(self) -> None:
        self.route("GET", r"/v3/search", self._search)
        self.route("GET", r"/v3/categories", self._categories)
        self.route("GET", r"/v3/me", self._me)
        self.route("GET", r"/v3/models/(?P<uid>[^/]+)", self._model)
        self.route("GET", r"/v3/models/(?P<uid>[^/]+)/download", self._download)
        self.route("GET", STORAGE_PATH, self._storage)
        self.route("GET", r"/thumbnails/(?P<uid>\w+)/(?P<width>\d+)\.png", self._thumbnail)
        self.route("GET", r"/3d-models/(?P<slug>[^/]+)", self._viewer_page)

    # Authentication and faults

    def _auth(self, info: RequestInfo, required: bool) -> Reply | None:
        header = info.seen.headers.get("Authorization")
        if header is None:
            if not required:
                return None
            return _detail(401, "Authentication credentials were not provided.", auth=True)
        scheme, _, token = header.partition(" ")
        if scheme not in ("Token", "Bearer") or not hmac.compare_digest(token, self.api_key):
            return _detail(401, "Invalid token.", auth=True)
        return None

    def _fault(
        self, endpoint: str, uid: str | None = None, archive: str | None = None
    ) -> Fault | None:
        with self._fault_lock:
            for fault in self.faults:
                if fault.endpoint != endpoint or fault.uid not in (None, uid):
                    continue
                if fault.archive not in (None, archive):
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                return fault
        return None

    def _api_fault(self, endpoint: str, uid: str | None = None) -> Reply | None:
        fault = self._fault(endpoint, uid)
        if fault is None:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return Reply.json(
            {"detail": fault.detail or _default_detail(fault.status)}, fault.status, headers
        )

    # API routes

    def _search(self, info: RequestInfo) -> Reply:
        rejection = self._auth(info, required=False) or self._api_fault("search")
        if rejection:
            return rejection
        if info.param("type") != "models":
            return _detail(400, "Only type=models is supported by this server.")
        try:
            count = min(MAX_COUNT, int(info.param("count", str(MAX_COUNT))))
            offset = int(info.param("cursor", "0"))
        except ValueError:
            return _detail(400, "count and cursor must be whole numbers.")
        if count < 1 or offset < 0:
            return _detail(400, "count must be 1 or more and cursor 0 or more.")

        matches = self._matching_models(info.seen.query)
        page = matches[offset : offset + count]
        next_cursor = str(offset + count) if offset + count < len(matches) else None
        previous_cursor = str(max(0, offset - count)) if offset > 0 else None
        return Reply.json(
            {
                "results": [self._model_json(model, detail=False) for model in page],
                "next": self._search_url(info.seen.query, next_cursor),
                "previous": self._search_url(info.seen.query, previous_cursor),
                "cursors": {"next": next_cursor, "previous": previous_cursor},
            }
        )

    def _matching_models(self, query: dict[str, list[str]]) -> list[FakeModel]:
        models = [model for model in self.models.values() if _matches(model, query)]
        sort_by = (query.get("sort_by") or [""])[0]
        attribute = SORT_ATTRIBUTES.get(sort_by.lstrip("-"))
        if attribute:
            models.sort(
                key=lambda model: getattr(model, attribute), reverse=sort_by.startswith("-")
            )
        return models

    def _search_url(self, query: dict[str, list[str]], cursor: str | None) -> str | None:
        if cursor is None:
            return None
        pairs = [
            (name, value) for name, values in query.items() if name != "cursor" for value in values
        ]
        base = self.next_url_base or self.api_base
        return f"{base}/search?{urlencode(pairs + [('cursor', cursor)])}"

    def _model(self, info: RequestInfo) -> Reply:
        uid = info.match["uid"]
        rejection = self._auth(info, required=False) or self._api_fault("model", uid)
        if rejection:
            return rejection
        model = self.models.get(uid)
        if model is None:
            return _detail(404, "Not found.")
        return Reply.json(self._model_json(model, detail=True))

    def _download(self, info: RequestInfo) -> Reply:
        uid = info.match["uid"]
        rejection = self._auth(info, required=True) or self._api_fault("download", uid)
        if rejection:
            return rejection
        model = self.models.get(uid)
        if model is None:
            return _detail(404, "Not found.")
        if not model.downloadable:
            return _detail(400, "Model is not downloadable.")
        expires = int(self.clock()) + self.link_lifetime
        return Reply.json(
            {
                name: {
                    "url": self._signed_url(uid, name, expires),
                    "size": len(data),
                    "expires": self.link_lifetime,
                }
                for name, data in model.archives.items()
            }
        )

    def _me(self, info: RequestInfo) -> Reply:
        rejection = self._auth(info, required=True) or self._api_fault("me")
        if rejection:
            return rejection
        return Reply.json(
            {
                "uid": hashlib.md5(self.username.encode()).hexdigest(),
                "username": self.username,
                "displayName": self.username.replace("-", " ").title(),
                "account": self.plan,
                "profileUrl": f"{self.url}/{self.username}",
            }
        )

    def _categories(self, info: RequestInfo) -> Reply:
        rejection = self._auth(info, required=False) or self._api_fault("categories")
        if rejection:
            return rejection
        results = [
            {
                "uid": hashlib.md5(slug.encode()).hexdigest(),
                "name": name,
                "slug": slug,
                "uri": f"{self.api_base}/categories/{slug}",
            }
            for slug, name in CATEGORIES.items()
        ]
        return Reply.json({"results": results, "next": None, "previous": None})

    # Storage host

    def _signed_url(self, uid: str, archive: str, expires: int) -> str:
        path = f"/storage/{uid}/{archive}/{_archive_file_name(archive)}"
        signature = self._signature(path, expires)
        query = urlencode({"expires": expires, "signature": signature})
        return f"{self.storage_url}{path}?{query}"

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._signing_key, f"{path}:{expires}".encode(), "sha256").hexdigest()

    def _storage(self, info: RequestInfo) -> Reply:
        uid, archive = info.match["uid"], info.match["archive"]
        if "Authorization" in info.seen.headers:
            return _storage_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the signature query parameter is accepted.",
            )
        expires = info.param("expires", "")
        if not expires.isdigit() or not hmac.compare_digest(
            info.param("signature", ""), self._signature(info.seen.path, int(expires))
        ):
            return _storage_error(403, "SignatureDoesNotMatch", "The signature is invalid.")
        if self.clock() > int(expires):
            return _storage_error(403, "AccessDenied", "Request has expired.")
        fault = self._fault("storage", uid, archive)
        if fault is not None:
            code = STORAGE_ERROR_CODES.get(fault.status, "AccessDenied")
            return _storage_error(
                fault.status, code, fault.detail or _default_detail(fault.status)
            )

        model = self.models.get(uid)
        if model is None or archive not in model.archives:
            return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
        body = self.storage_bodies.get((uid, archive), model.archives[archive])
        content_type = STORAGE_CONTENT_TYPES.get(archive, "application/octet-stream")
        return Reply(200, body, {"Content-Type": content_type})

    def _thumbnail(self, info: RequestInfo) -> Reply:
        return Reply(200, tiny_png(), {"Content-Type": "image/png"})

    def _viewer_page(self, info: RequestInfo) -> Reply:
        page = f"<html><body><h1>{info.match['slug']}</h1></body></html>"
        return Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    # JSON forms of a model

    def _model_json(self, model: FakeModel, *, detail: bool) -> dict:
        slug = re.sub(r"[^a-z0-9]+", "-", model.name.lower()).strip("-")
        data = {
            "uid": model.uid,
            "name": model.name,
            "uri": f"{self.api_base}/models/{model.uid}",
            "viewerUrl": f"{self.url}/3d-models/{slug}-{model.uid}",
            "user": {
                "uid": hashlib.md5(model.username.encode()).hexdigest(),
                "username": model.username,
                "displayName": model.display_name,
                "profileUrl": f"{self.url}/{model.username}",
            },
            "license": _license_json(model, detail),
            "thumbnails": {
                "images": [
                    {
                        "url": f"{self.url}/thumbnails/{model.uid}/{width}.png",
                        "width": width,
                        "height": width * 9 // 16,
                        "size": 1000 + width,
                    }
                    for width in (1024, 256, 64)
                ]
            },
            "faceCount": model.face_count,
            "vertexCount": model.vertex_count,
            "animationCount": model.animation_count,
            "isDownloadable": model.downloadable,
            "staffpickedAt": "2024-02-01T00:00:00" if model.staffpicked else None,
            "likeCount": model.like_count,
            "viewCount": model.view_count,
            "publishedAt": model.published_at,
            "categories": [
                {"name": CATEGORIES.get(slug, slug), "slug": slug} for slug in model.categories
            ],
            "tags": [{"name": tag, "slug": tag} for tag in model.tags],
            "archives": {
                name: {
                    "size": len(data),
                    "faceCount": model.face_count,
                    "vertexCount": model.vertex_count,
                    "textureCount": model.texture_count,
                }
                for name, data in model.archives.items()
            },
        }
        if detail:
            data.update(
                updatedAt=model.updated_at,
                description=f"{model.name}, served by the fake Sketchfab server.",
                isAgeRestricted=False,
            )
        for path in model.omit:
            _remove_path(data, path)
        return data


def _matches(model: FakeModel, query: dict[str, list[str]]) -> bool:
    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    def many(name: str) -> set[str]:
        return {item for value in query.get(name, []) for item in value.split(",") if item}

    words = (first("q") or "").lower().split()
    text = " ".join((model.name,) + model.tags).lower()
    checks = [
        all(word in text for word in words),
        first("downloadable") != "true" or model.downloadable,
        not many("categories") or bool(many("categories") & set(model.categories)),
        not many("licenses") or model.license in many("licenses"),
        _flag_matches(first("animated"), model.animation_count > 0),
        _flag_matches(first("staffpicked"), model.staffpicked),
        _flag_matches(first("rigged"), model.rigged),
        _pbr_matches(first("pbr_type"), model.pbr_type),
        model.face_count >= int(first("min_face_count") or 0),
        first("max_face_count") is None or model.face_count <= int(first("max_face_count")),
    ]
    return all(checks)


def _flag_matches(value: str | None, actual: bool) -> bool:
    return value is None or (value == "true") == actual


def _pbr_matches(value: str | None, actual: str) -> bool:
    if value in (None, ""):
        return True
    if value in ("true", "false"):
        return (value == "true") == bool(actual)
    return value == actual


def _license_json(model: FakeModel, detail: bool):
    label, full_name, requirements, url = LICENSES[model.license]
    if detail:
        return {
            "uid": hashlib.md5(model.license.encode()).hexdigest(),
            "slug": model.license,
            "label": label,
            "fullName": full_name,
            "requirements": requirements,
            "url": url,
        }
    if model.search_license == "label":
        return {"label": label}
    return model.license


def _remove_path(data: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for name in parents:
        data = data.get(name)
        if not isinstance(data, dict):
            return
    data.pop(last, None)


def _archive_file_name(archive: str) -> str:
    return {"glb": "model.glb", "gltf": "model.zip", "usdz": "model.usdz"}.get(archive, archive)


def _detail(status: int, text: str, *, auth: bool = False) -> Reply:
    headers = {"WWW-Authenticate": 'Token realm="api"'} if auth else {}
    return Reply.json({"detail": text}, status, headers)


def _default_detail(status: int) -> str:
    return {
        400: "Model is not downloadable.",
        401: "Invalid token.",
        403: "You do not have permission to perform this action.",
        404: "Not found.",
        429: "Request was throttled.",
    }.get(status, "Internal server error." if status >= 500 else f"Error {status}.")


def _storage_error(status: int, code: str, message: str) -> Reply:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    )
    return Reply(status, body.encode(), {"Content-Type": "application/xml"})


def tiny_png() -> bytes:
    """Return a valid 1x1 grey PNG."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# The sample library


def uid_for(name: str) -> str:
    """Return a stable 32-hex uid for a model name."""
    return hashlib.md5(f"meshport-fake-sketchfab:{name}".encode()).hexdigest()


def pack_zip(files: dict[str, bytes]) -> bytes:
    """Return a deflated zip of ``files`` (archive path -> bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def gltf_scene_zip(gltf_path: Path, license_text: str) -> bytes:
    """Pack a separate-file glTF the way Sketchfab does: ``scene.gltf``, ``scene.bin``
    (``scene<N>.bin`` for further buffers), ``textures/`` and ``license.txt``, with
    the URIs inside the .gltf rewritten to the new names."""
    document = json.loads(gltf_path.read_text(encoding="utf-8"))
    files: dict[str, bytes] = {}
    for index, buffer in enumerate(document.get("buffers", [])):
        if "uri" in buffer and not buffer["uri"].startswith("data:"):
            name = "scene.bin" if index == 0 else f"scene{index}.bin"
            files[name] = (gltf_path.parent / buffer["uri"]).read_bytes()
            buffer["uri"] = name
    for image in document.get("images", []):
        if "uri" in image and not image["uri"].startswith("data:"):
            name = f"textures/{Path(image['uri']).name}"
            files[name] = (gltf_path.parent / image["uri"]).read_bytes()
            image["uri"] = name
    files = {"scene.gltf": json.dumps(document, indent=2).encode(), **files}
    files["license.txt"] = license_text.encode()
    return pack_zip(files)


def glb_scene_zip(glb: bytes, license_text: str) -> bytes:
    """Pack a GLB into the glTF zip in place of ``scene.gltf``, as some archives do."""
    return pack_zip({"scene.glb": glb, "license.txt": license_text.encode()})


def glb_document(glb: bytes) -> dict:
    """Return the JSON chunk of a GLB file."""
    length, kind = struct.unpack_from("<I4s", glb, 12)
    if glb[:4] != b"glTF" or kind != b"JSON":
        raise ValueError("not a GLB file with a JSON chunk")
    return json.loads(glb[20 : 20 + length])


def gltf_statistics(document: dict) -> dict[str, int]:
    """Count the triangles, vertices, textures and animations of a glTF document and
    tell whether it has a skin (``rigged``)."""
    accessors = document.get("accessors", [])
    faces = vertices = 0
    for mesh in document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            position = primitive.get("attributes", {}).get("POSITION")
            count = accessors[position]["count"] if position is not None else 0
            vertices += count
            if primitive.get("mode", 4) == 4:
                indices = primitive.get("indices")
                faces += (accessors[indices]["count"] if indices is not None else count) // 3
    return {
        "face_count": faces,
        "vertex_count": vertices,
        "texture_count": len(document.get("textures", [])),
        "animation_count": len(document.get("animations", [])),
        "rigged": bool(document.get("skins")),
    }


def _license_text(title: str, author: str, license_slug: str, source: str) -> str:
    label, _, requirements, url = LICENSES[license_slug]
    return (
        f"Model Information:\n* title: {title}\n* author: {author}\n* source: {source}\n\n"
        f"Model License:\n* license type: {label} ({url})\n* requirements: {requirements}\n"
    )


def sample_library(assets: Path) -> list[FakeModel]:
    """Build the library from the real sample files in ``assets``.

    - "Box" (glb/Box.glb): GLB offered, and a glTF zip containing the GLB.
    - "Fox" (gltf/Fox/): glTF zip only, with scene.gltf, scene.bin, textures/ and
      license.txt; rigged, 3 animations; licence short form as an object.
    - "Cesium Man" (glb/CesiumMan.glb): GLB and a zip containing the GLB; rigged, animated.
    - "Box Meshopt" (glb/BoxMeshopt.glb): GLB and zip; responses miss ``faceCount``,
      ``thumbnails``, ``updatedAt`` and ``user.displayName``.
    """
    draco = "google/draco testdata, CC-BY 4.0 (c) 2017 Cesium"
    fox_note = (
        "low poly fox by PixelMannen (CC0), rigging and animation by tomkranis "
        "(CC-BY 4.0), glTF conversion by AsoboStudio and scurest"
    )
    fox_gltf = assets / "gltf" / "Fox" / "Fox.gltf"
    fox_stats = gltf_statistics(json.loads(fox_gltf.read_text(encoding="utf-8")))
    fox_license = _license_text("Fox", "PixelMannen", "by", fox_note)

    models = [
        _glb_model(
            assets / "glb" / "Box.glb",
            "Box",
            "Cesium",
            draco,
            categories=("art-abstract",),
            tags=("box", "cube"),
            like_count=5,
        ),
        FakeModel(
            uid_for("Fox"),
            "Fox",
            {"gltf": gltf_scene_zip(fox_gltf, fox_license)},
            username="pixelmannen",
            display_name="PixelMannen",
            categories=("animals-pets",),
            tags=("fox", "animal", "lowpoly"),
            search_license="label",
            like_count=40,
            view_count=900,
            **fox_stats,
        ),
        _glb_model(
            assets / "glb" / "CesiumMan.glb",
            "Cesium Man",
            "Cesium",
            draco,
            categories=("characters-creatures", "people"),
            tags=("man", "walk"),
            like_count=20,
            view_count=300,
        ),
        _glb_model(
            assets / "glb" / "BoxMeshopt.glb",
            "Box Meshopt",
            "Cesium",
            "CesiumGS/3d-tiles-tools specs, CC-BY 4.0 Cesium",
            categories=("science-technology",),
            tags=("box", "meshopt"),
            omit=frozenset({"faceCount", "thumbnails", "updatedAt", "user.displayName"}),
        ),
    ]
    return models


def _glb_model(path: Path, name: str, author: str, source: str, **fields) -> FakeModel:
    glb = path.read_bytes()
    stats = gltf_statistics(glb_document(glb))
    license_text = _license_text(name, author, "by", source)
    archives = {"gltf": glb_scene_zip(glb, license_text), "glb": glb}
    return FakeModel(
        uid_for(name),
        name,
        archives,
        username=author.lower(),
        display_name=author,
        **stats,
        **fields,
    )
