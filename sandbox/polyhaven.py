"""The Poly Haven API, as the sandbox serves it under ``/polyhaven``.

Routes (JSON bodies, no key):

- ``GET /polyhaven/assets?t=models``: every model keyed by id (``t`` may also be
  ``all``; ``hdris`` and ``textures`` list nothing; ``c`` keeps one category).
- ``GET /polyhaven/info/{id}``: one asset.
- ``GET /polyhaven/files/{id}``: format -> resolution -> format -> ``{url, md5,
  size, include}``, where ``include`` maps each relative path the main file needs
  to its own ``{url, md5, size}``; texture maps appear beside the formats.
- ``GET /polyhaven/categories/models`` and ``GET /polyhaven/types``.
- ``GET /dl/polyhaven/{id}/{format}/{resolution}/{path}``: the files themselves.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import threading
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from .library import FileBundle, Library, SandboxModel
from .packing import md5_of
from .server import POLYHAVEN_PREFIX, Request, Response, Router

log = logging.getLogger(__name__)

MODEL_TYPE = 2  # Poly Haven's asset type number for models
CACHE_CONTROL = "public, max-age=43200"
CONTENT_TYPES = {
    ".gltf": "model/gltf+json",
    ".bin": "application/octet-stream",
    ".fbx": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}


class PolyHavenApi:
    """The Poly Haven routes over ``library``; ``base_url`` is the server's own URL."""

    def __init__(self, library: Library, base_url: str):
        self.library = library
        self.base_url = base_url
        self._md5: dict[Path, str] = {}
        self._md5_lock = threading.Lock()

    def add_routes(self, router: Router) -> None:
        prefix = POLYHAVEN_PREFIX
        router.add("GET", rf"{prefix}/assets", self.assets)
        router.add("GET", rf"{prefix}/info/(?P<id>[\w-]+)", self.info)
        router.add("GET", rf"{prefix}/files/(?P<id>[\w-]+)", self.files)
        router.add("GET", rf"{prefix}/categories/(?P<type>\w+)", self.categories)
        router.add("GET", rf"{prefix}/types", self.types)
        router.add(
            "GET",
            r"/dl/polyhaven/(?P<id>[\w-]+)/(?P<format>\w+)/(?P<resolution>\w+)/(?P<path>.+)",
            self.download,
        )

    def assets(self, request: Request) -> Response:
        asset_type = request.param("t", "all")
        if asset_type not in ("all", "models", "hdris", "textures"):
            return Response.json({"error": f"Invalid type '{asset_type}'."}, 400)
        models = self.library.on_polyhaven() if asset_type in ("all", "models") else []
        category = request.param("c")
        if category:
            requested = set(category.split(","))
            models = [model for model in models if requested & set(_categories(model))]
        listing = {model.key: self._asset_json(model) for model in models}
        return Response.json(listing, headers={"Cache-Control": CACHE_CONTROL})

    def info(self, request: Request) -> Response:
        model = self._model(request.match["id"])
        if model is None:
            return _not_found(request.match["id"])
        return Response.json(self._asset_json(model), headers={"Cache-Control": CACHE_CONTROL})

    def files(self, request: Request) -> Response:
        model = self._model(request.match["id"])
        if model is None:
            return _not_found(request.match["id"])
        tree: dict = {}
        for file_format, resolutions in model.polyhaven_files.items():
            tree[file_format] = {
                resolution: {file_format: self._file_entry(model, file_format, resolution, bundle)}
                for resolution, bundle in resolutions.items()
            }
        tree.update(self._texture_maps(model))
        return Response.json(tree, headers={"Cache-Control": CACHE_CONTROL})

    def categories(self, request: Request) -> Response:
        if request.match["type"] not in ("models", "all"):
            return Response.json({"all": 0})
        models = self.library.on_polyhaven()
        counts = {"all": len(models)}
        for model in models:
            for category in _categories(model):
                counts[category] = counts.get(category, 0) + 1
        return Response.json(counts)

    def types(self, request: Request) -> Response:
        return Response.json(["hdris", "textures", "models"])

    def download(self, request: Request) -> Response:
        model = self._model(request.match["id"])
        bundle = None
        if model is not None:
            bundle = model.polyhaven_files.get(request.match["format"], {}).get(
                request.match["resolution"]
            )
        relative = request.match["path"]
        if bundle is None or relative not in (bundle.main, *bundle.includes):
            return Response(404, b"Not found.", {"Content-Type": "text/plain"})
        path = bundle.path(relative)
        content_type = CONTENT_TYPES.get(path.suffix.lower()) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        return Response.from_file(path, content_type)

    # Helpers

    def _model(self, key: str) -> SandboxModel | None:
        model = self.library.by_key(key)
        return model if model is not None and model.polyhaven_files else None

    def _asset_json(self, model: SandboxModel) -> dict:
        published = datetime.fromisoformat(model.published_at).replace(tzinfo=UTC)
        return {
            "name": model.name,
            "type": MODEL_TYPE,
            "date_published": int(published.timestamp()),
            "download_count": 0,
            "files_hash": self._files_hash(model),
            "authors": {model.author: "All"},
            "categories": _categories(model),
            "tags": list(model.tags),
            "polycount": model.counts.face_count,
            "description": model.description,
            "thumbnail_url": f"{self.base_url}/thumbnails/{model.uid}/256.png",
        }

    def _file_entry(
        self, model: SandboxModel, file_format: str, resolution: str, bundle: FileBundle
    ):
        entry = self._url_entry(model, file_format, resolution, bundle, bundle.main)
        entry["include"] = {
            relative: self._url_entry(model, file_format, resolution, bundle, relative)
            for relative in bundle.includes
        }
        return entry

    def _url_entry(self, model, file_format, resolution, bundle: FileBundle, relative: str) -> dict:
        path = bundle.path(relative)
        return {
            "url": f"{self.base_url}/dl/polyhaven/{model.key}/{file_format}/{resolution}/{relative}",
            "md5": self._md5_of(path),
            "size": path.stat().st_size,
        }

    def _texture_maps(self, model: SandboxModel) -> dict:
        """List each texture of the glTF bundles under "Diffuse", as Poly Haven lists
        a model's texture maps beside its formats."""
        maps: dict = {}
        for resolution, bundle in model.polyhaven_files.get("gltf", {}).items():
            for relative in bundle.includes:
                suffix = PurePosixPath(relative).suffix.lower().lstrip(".")
                if relative.startswith("textures/") and suffix in ("png", "jpg"):
                    entry = self._url_entry(model, "gltf", resolution, bundle, relative)
                    maps.setdefault("Diffuse", {}).setdefault(resolution, {})[suffix] = entry
        return maps

    def _files_hash(self, model: SandboxModel) -> str:
        digest = hashlib.sha1()
        for file_format, resolutions in sorted(model.polyhaven_files.items()):
            for resolution, bundle in sorted(resolutions.items()):
                for relative in (bundle.main, *bundle.includes):
                    digest.update(f"{file_format}/{resolution}/{relative}".encode())
                    digest.update(self._md5_of(bundle.path(relative)).encode())
        return digest.hexdigest()

    def _md5_of(self, path: Path) -> str:
        with self._md5_lock:
            cached = self._md5.get(path)
        if cached is None:
            cached = md5_of(path)
            with self._md5_lock:
                self._md5[path] = cached
        return cached


def _categories(model: SandboxModel) -> list[str]:
    """Return Poly Haven-style single-word categories from the Sketchfab slugs."""
    return sorted({slug.split("-")[0] for slug in model.categories})


def _not_found(asset_id: str) -> Response:
    return Response.json({"error": f"Invalid ID '{asset_id}': no such asset."}, 404)
