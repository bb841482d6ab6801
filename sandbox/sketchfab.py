"""The Sketchfab Data API v3, as the sandbox serves it.

Routes (JSON bodies, errors as ``{"detail": ...}``):

- ``GET /v3/search?type=models``: ``q`` and the filters ``downloadable``,
  ``categories``, ``licenses``, ``animated``, ``rigged``, ``staffpicked``,
  ``pbr_type``, ``min_face_count``, ``max_face_count``, ``sort_by``; ``count``
  (at most 24) and ``cursor``; a ``next`` URL while more results remain.
- ``GET /v3/models/{uid}``: detail, with the licence as an object.
- ``GET /v3/models/{uid}/download``: pre-signed storage URLs, a signed-in user
  required.
- ``GET /v3/me`` (signed-in) and ``GET /v3/categories``.
- ``GET /storage/{uid}/{archive}/{file}?expires=&signature=``: the archive. As a
  storage host does, it responds 400 to a request carrying an Authorization header
  and 403 to an expired or wrongly signed link.

A request with a wrong ``Authorization: Token <key>`` gets 401 on every API route.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import struct
import time
import zlib
from urllib.parse import urlencode

from .library import Library, SandboxModel
from .server import Request, Response, Router

log = logging.getLogger(__name__)

MAX_COUNT = 24
LINK_LIFETIME = 300  # seconds a storage link stays valid

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

# slug -> (label, requirements, url)
LICENSES = {
    "by": ("CC Attribution", "Author must be credited. Commercial use is allowed.",
           "https://creativecommons.org/licenses/by/4.0/"),
    "by-sa": ("CC Attribution-ShareAlike",
              "Author must be credited. Modified versions must have the same license.",
              "https://creativecommons.org/licenses/by-sa/4.0/"),
    "by-nd": ("CC Attribution-NoDerivs", "Author must be credited. Modification is not allowed.",
              "https://creativecommons.org/licenses/by-nd/4.0/"),
    "by-nc": ("CC Attribution-NonCommercial", "Author must be credited. No commercial use.",
              "https://creativecommons.org/licenses/by-nc/4.0/"),
    "by-nc-sa": ("CC Attribution-NonCommercial-ShareAlike",
                 "Author must be credited. No commercial use. Same license.",
                 "https://creativecommons.org/licenses/by-nc-sa/4.0/"),
    "by-nc-nd": ("CC Attribution-NonCommercial-NoDerivs",
                 "Author must be credited. No commercial use. No modification.",
                 "https://creativecommons.org/licenses/by-nc-nd/4.0/"),
    "cc0": ("CC0 Public Domain", "Credit is not required.",
            "https://creativecommons.org/publicdomain/zero/1.0/"),
    "free-st": ("Free Standard", "Under basic restrictions.", ""),
    "st": ("Standard", "Under basic restrictions.", ""),
    "ed": ("Editorial", "Use only in connection with news events.", ""),
}  # fmt: skip

BOOLEAN_FILTERS = ("animated", "rigged", "staffpicked", "downloadable")
PBR_TYPES = ("metalness", "specular", "true", "false")
SORT_FIELDS = ("likeCount", "viewCount", "publishedAt")
ARCHIVE_FILES = {
    "glb": ("model.glb", "model/gltf-binary"),
    "gltf": ("model.zip", "application/zip"),
}


class FilterError(ValueError):
    """A search parameter has a value the API rejects with HTTP 400."""


class SketchfabApi:
    """The Sketchfab routes over ``library``; ``base_url`` is the server's own URL."""

    def __init__(self, library: Library, base_url: str, api_key: str):
        self.library = library
        self.base_url = base_url
        self.api_base = f"{base_url}/v3"
        self.api_key = api_key
        # Storage links are signed with a key that lives as long as this process.
        self._signing_key = os.urandom(32)

    def add_routes(self, router: Router) -> None:
        router.add("GET", r"/v3/search", self.search)
        router.add("GET", r"/v3/categories", self.categories)
        router.add("GET", r"/v3/me", self.me)
        router.add("GET", r"/v3/models/(?P<uid>[0-9a-f]{32})", self.model)
        router.add("GET", r"/v3/models/(?P<uid>[0-9a-f]{32})/download", self.download)
        router.add(
            "GET", r"/storage/(?P<uid>[0-9a-f]{32})/(?P<archive>\w+)/(?P<file>[^/]+)", self.storage
        )
        router.add("GET", r"/thumbnails/(?P<uid>[0-9a-f]{32})/(?P<width>\d+)\.png", self.thumbnail)
        router.add("GET", r"/3d-models/(?P<slug>[^/]+)", self.viewer_page)

    # Authentication

    def _rejected(self, request: Request, required: bool) -> Response | None:
        header = request.headers.get("Authorization")
        if header is None:
            if required:
                return _detail(401, "Authentication credentials were not provided.", auth=True)
            return None
        scheme, _, token = header.partition(" ")
        if scheme not in ("Token", "Bearer") or not hmac.compare_digest(
            token.encode(), self.api_key.encode()
        ):
            return _detail(401, "Invalid token.", auth=True)
        return None

    # API routes

    def search(self, request: Request) -> Response:
        rejection = self._rejected(request, required=False)
        if rejection:
            return rejection
        if request.param("type") != "models":
            return _detail(400, "Only type=models is available.")
        try:
            count = min(MAX_COUNT, _whole_number(request, "count", MAX_COUNT, minimum=1))
            offset = _whole_number(request, "cursor", 0)
            models = self._matching(request)
        except FilterError as error:
            return _detail(400, str(error))

        page = models[offset : offset + count]
        next_cursor = offset + count if offset + count < len(models) else None
        previous_cursor = max(0, offset - count) if offset > 0 else None
        flavours = request.param("archives_flavours", "true") != "false"
        return Response.json(
            {
                "results": [self._model_json(model, False, flavours) for model in page],
                "next": self._search_url(request, next_cursor),
                "previous": self._search_url(request, previous_cursor),
                "cursors": {
                    "next": None if next_cursor is None else str(next_cursor),
                    "previous": None if previous_cursor is None else str(previous_cursor),
                },
            }
        )

    def model(self, request: Request) -> Response:
        rejection = self._rejected(request, required=False)
        if rejection:
            return rejection
        model = self._sketchfab_model(request.match["uid"])
        if model is None:
            return _detail(404, "Not found.")
        return Response.json(self._model_json(model, detail=True, flavours=False))

    def download(self, request: Request) -> Response:
        rejection = self._rejected(request, required=True)
        if rejection:
            return rejection
        model = self._sketchfab_model(request.match["uid"])
        if model is None:
            return _detail(404, "Not found.")
        expires = int(time.time()) + LINK_LIFETIME
        offers = {
            archive: {
                "url": self._signed_url(model.uid, archive, expires),
                "size": path.stat().st_size,
                "expires": LINK_LIFETIME,
            }
            for archive, path in model.sketchfab_archives.items()
        }
        return Response.json(offers)

    def me(self, request: Request) -> Response:
        rejection = self._rejected(request, required=True)
        if rejection:
            return rejection
        return Response.json(
            {
                "uid": hashlib.md5(b"sandbox-user").hexdigest(),
                "username": "sandbox-user",
                "displayName": "Sandbox User",
                "account": "basic",
                "profileUrl": f"{self.base_url}/sandbox-user",
            }
        )

    def categories(self, request: Request) -> Response:
        rejection = self._rejected(request, required=False)
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
        return Response.json({"results": results, "next": None, "previous": None})

    # Storage and pages

    def storage(self, request: Request) -> Response:
        if "Authorization" in request.headers:
            return _storage_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the signature query parameter is accepted.",
            )
        expires = request.param("expires", "")
        signature = request.param("signature", "")
        if not expires.isdigit() or not hmac.compare_digest(
            signature, self._signature(request.path, int(expires))
        ):
            return _storage_error(403, "SignatureDoesNotMatch", "The signature is invalid.")
        if time.time() > int(expires):
            return _storage_error(403, "AccessDenied", "Request has expired.")

        model = self.library.by_uid(request.match["uid"])
        archive = request.match["archive"]
        if model is None or archive not in model.sketchfab_archives:
            return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
        return Response.from_file(model.sketchfab_archives[archive], ARCHIVE_FILES[archive][1])

    def thumbnail(self, request: Request) -> Response:
        return Response(200, solid_png(request.match["uid"]), {"Content-Type": "image/png"})

    def viewer_page(self, request: Request) -> Response:
        uid = request.match["slug"][-32:]
        model = self._sketchfab_model(uid)
        if model is None:
            return Response(404, b"<html><body>Not found.</body></html>", _html())
        page = f"<html><body><h1>{_escape(model.name)}</h1><p>by {_escape(model.author)}</p></body></html>"
        return Response(200, page.encode(), _html())

    # Helpers

    def _sketchfab_model(self, uid: str) -> SandboxModel | None:
        model = self.library.by_uid(uid)
        return model if model is not None and model.sketchfab_archives else None

    def _matching(self, request: Request) -> list[SandboxModel]:
        predicates = _filters(request)
        models = [
            model
            for model in self.library.on_sketchfab()
            if all(predicate(model) for predicate in predicates)
        ]
        sort_by = request.param("sort_by", "") or ""
        if sort_by:
            descending = sort_by.startswith("-")
            if sort_by.lstrip("-") not in SORT_FIELDS:
                raise FilterError(
                    f"sort_by must be one of {', '.join(SORT_FIELDS)}, with an optional -."
                )
            # Every sandbox model has the same counts of likes and views, so sort by name
            # for a stable order.
            models.sort(key=lambda model: (model.published_at, model.name), reverse=descending)
        return models

    def _search_url(self, request: Request, cursor: int | None) -> str | None:
        if cursor is None:
            return None
        pairs = [
            (name, value)
            for name, values in request.query.items()
            if name != "cursor"
            for value in values
        ]
        return f"{self.api_base}/search?{urlencode(pairs + [('cursor', str(cursor))])}"

    def _signed_url(self, uid: str, archive: str, expires: int) -> str:
        path = f"/storage/{uid}/{archive}/{ARCHIVE_FILES[archive][0]}"
        query = urlencode({"expires": expires, "signature": self._signature(path, expires)})
        return f"{self.base_url}{path}?{query}"

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._signing_key, f"{path}:{expires}".encode(), "sha256").hexdigest()

    def _model_json(self, model: SandboxModel, detail: bool, flavours: bool) -> dict:
        counts = model.counts
        slug = re.sub(r"[^a-z0-9]+", "-", model.name.lower()).strip("-")
        archives = {}
        for name, path in model.sketchfab_archives.items():
            entry = {
                "size": path.stat().st_size,
                "faceCount": counts.face_count,
                "vertexCount": counts.vertex_count,
                "textureCount": counts.texture_count,
            }
            archives[name] = [entry] if flavours and name == "gltf" else entry
        data = {
            "uid": model.uid,
            "name": model.name,
            "uri": f"{self.api_base}/models/{model.uid}",
            "viewerUrl": f"{self.base_url}/3d-models/{slug}-{model.uid}",
            "user": {
                "uid": hashlib.md5(model.author.encode()).hexdigest(),
                "username": re.sub(r"[^a-z0-9]+", "-", model.author.lower()).strip("-"),
                "displayName": model.author,
                "profileUrl": f"{self.base_url}/users/{hashlib.md5(model.author.encode()).hexdigest()}",
            },
            "license": _license_json(model, detail),
            "thumbnails": {
                "images": [self._thumbnail_json(model, width) for width in (1024, 256, 64)]
            },
            "faceCount": counts.face_count,
            "vertexCount": counts.vertex_count,
            "animationCount": counts.animation_count,
            "isDownloadable": True,
            "staffpickedAt": None,
            "likeCount": 0,
            "viewCount": 0,
            "publishedAt": model.published_at,
            "categories": [
                {"name": CATEGORIES.get(slug, slug), "slug": slug} for slug in model.categories
            ],
            "tags": [{"name": tag, "slug": tag} for tag in model.tags],
            "archives": archives,
        }
        if detail:
            data.update(
                description=model.description,
                updatedAt=model.published_at,
                isAgeRestricted=False,
            )
        return data

    def _thumbnail_json(self, model: SandboxModel, width: int) -> dict:
        url = f"{self.base_url}/thumbnails/{model.uid}/{width}.png"
        return {"url": url, "width": width, "height": width * 9 // 16, "size": 120}


def _filters(request: Request) -> list:
    words = (request.param("q", "") or "").lower().split()
    categories = set(request.values("categories"))
    licenses = set(request.values("licenses"))
    unknown = (categories - set(CATEGORIES)) or (licenses - set(LICENSES))
    if unknown:
        raise FilterError(f"'{min(unknown)}' is not a valid category or licence slug.")

    predicates = [lambda model: all(word in _search_text(model) for word in words)]
    if categories:
        predicates.append(lambda model: bool(categories & set(model.categories)))
    if licenses:
        predicates.append(lambda model: model.license in licenses)
    flags = {
        "animated": lambda model: model.counts.animation_count > 0,
        "rigged": lambda model: model.counts.rigged,
        "staffpicked": lambda model: False,
        "downloadable": lambda model: True,
    }
    for name in BOOLEAN_FILTERS:
        value = request.param(name)
        if value is None:
            continue
        if value not in ("true", "false"):
            raise FilterError(f"{name} must be true or false.")
        predicates.append(
            lambda model, test=flags[name], expected=value == "true": test(model) == expected
        )

    pbr_type = request.param("pbr_type")
    if pbr_type is not None and pbr_type not in PBR_TYPES:
        raise FilterError(f"pbr_type must be one of {', '.join(PBR_TYPES)}.")
    if pbr_type == "false" or pbr_type == "specular":
        # The sandbox does not record each model's PBR workflow and lists all as metalness.
        predicates.append(lambda model: False)

    low = _optional_number(request, "min_face_count")
    high = _optional_number(request, "max_face_count")
    if low is not None:
        predicates.append(lambda model: model.counts.face_count >= low)
    if high is not None:
        predicates.append(lambda model: model.counts.face_count <= high)
    return predicates


def _search_text(model: SandboxModel) -> str:
    return " ".join((model.name, model.author, model.description, *model.tags)).lower()


def _whole_number(request: Request, name: str, default: int, minimum: int = 0) -> int:
    value = request.param(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < minimum:
        raise FilterError(f"{name} must be a whole number of {minimum} or more.")
    return int(value)


def _optional_number(request: Request, name: str) -> int | None:
    if request.param(name) in (None, ""):
        return None
    return _whole_number(request, name, 0)


def _license_json(model: SandboxModel, detail: bool):
    if model.license in LICENSES:
        label, requirements, url = LICENSES[model.license]
        if not detail:
            return model.license
        return {
            "uid": hashlib.md5(model.license.encode()).hexdigest(),
            "slug": model.license,
            "label": label,
            "fullName": model.license_label,
            "requirements": requirements,
            "url": url,
        }
    # A licence without a Sketchfab slug is listed by its text alone.
    if not detail:
        return {"label": model.license_label}
    return {
        "slug": None,
        "label": model.license_label,
        "fullName": model.license_label,
        "url": None,
    }


def _detail(status: int, text: str, *, auth: bool = False) -> Response:
    headers = {"WWW-Authenticate": 'Token realm="api"'} if auth else {}
    return Response.json({"detail": text}, status, headers)


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    )
    return Response(status, body.encode(), {"Content-Type": "application/xml"})


def _html() -> dict[str, str]:
    return {"Content-Type": "text/html; charset=utf-8"}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def solid_png(seed: str, size: int = 16) -> bytes:
    """Return a PNG of one colour derived from ``seed``, as a stand-in thumbnail."""
    red, green, blue = hashlib.md5(seed.encode()).digest()[:3]

    def chunk(kind: bytes, payload: bytes) -> bytes:
        checksum = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes((red, green, blue)) * size
    pixels = zlib.compress(row * size)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
