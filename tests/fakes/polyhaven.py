"""A fake Poly Haven API on 127.0.0.1, written from Poly Haven's documented shapes.

Routes, all without a key:

- ``GET /assets?t=models``: every model keyed by its id, with
  ``Cache-Control: public, max-age=43200`` as the real API sends it. ``t=all`` or no
  ``t`` lists the models too, ``t=hdris`` and ``t=textures`` list nothing, and any
  other type gets 400. ``c`` (comma-separated) keeps assets in every listed category.
- ``GET /info/{id}``: one asset, the same fields as in the list.
- ``GET /files/{id}``: format -> resolution -> format -> ``{url, md5, size,
  include}``, where ``include`` maps each relative path the main file needs to its
  own ``{url, md5, size}``. A ``Diffuse`` texture map is listed beside the formats,
  as Poly Haven lists a model's texture maps.
- ``GET /dl/{id}/{format}/{resolution}/{path}``: the files themselves, with md5 and
  size taken from the bytes served.
- ``GET /thumbnails/{id}.png``: a 1x1 PNG for every ``thumbnail_url``.

Errors are JSON ``{"error": ...}`` bodies. Give the client ``url`` (the server root)
as its base URL. ``sample_library`` builds assets from the real sample files.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from fakes.server import FakeServer, Reply, RequestInfo
from fakes.sketchfab import gltf_statistics, tiny_png

DEFAULT_MAX_AGE = 43200  # seconds, the max-age of Poly Haven's /assets responses
MODEL_TYPE = 2  # Poly Haven's number for the asset type "models"
ENDPOINTS = ("assets", "info", "files", "download")
CONTENT_TYPES = {
    ".gltf": "model/gltf+json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}


@dataclass
class FakeBundle:
    """One format at one resolution: the main file and the files it needs.

    ``includes`` maps a relative path (as the main file names it) to its bytes. The
    names are served as given, so a test can list a hostile path such as
    ``../escape.bin``.
    """

    main_name: str
    main: bytes
    includes: dict[str, bytes] = field(default_factory=dict)

    def files(self) -> dict[str, bytes]:
        return {self.main_name: self.main, **self.includes}


@dataclass
class FakeAsset:
    """One model of the fake library.

    ``files`` maps a format (``gltf``, ``fbx``) to a resolution (``1k``) to its
    bundle. ``authors`` maps an author's name to their role, as Poly Haven's
    ``authors`` object does; a list of names or one string is served as given, to
    imitate other shapes of the field. ``omit`` lists top-level fields left out of ``/assets``
    and ``/info`` (for example ``"authors"`` or ``"thumbnail_url"``), to imitate sparse
    answers.
    """

    asset_id: str
    name: str
    files: dict[str, dict[str, FakeBundle]] = field(default_factory=dict)
    authors: dict[str, str] | list[str] | str = field(
        default_factory=lambda: {"Fake Author": "All"}
    )
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    download_count: int = 0
    date_published: int = 1_700_000_000
    polycount: int | None = None
    omit: frozenset[str] = frozenset()


@dataclass
class Fault:
    """An error response on one endpoint (see ``FakePolyHaven.fail``)."""

    endpoint: str
    status: int
    asset_id: str | None = None
    remaining: int | None = None


class FakePolyHaven(FakeServer):
    """A fake Poly Haven API and file host; use as a context manager.

    ``FakePolyHaven(assets, max_age=43200)``: ``assets`` is the library (a list of
    ``FakeAsset``), and ``max_age`` is the ``max-age`` that ``/assets`` sends in its
    Cache-Control header, or None to send no Cache-Control header at all. Faults:
    ``fail`` for error statuses; ``announce_wrong_md5``, ``remove_file`` and
    ``leave_out_include`` for bad files; ``reset`` clears them and the request log.
    """

    def __init__(
        self, assets: list[FakeAsset] | tuple[FakeAsset, ...] = (), *, max_age=DEFAULT_MAX_AGE
    ):
        super().__init__()
        self.assets: dict[str, FakeAsset] = {asset.asset_id: asset for asset in assets}
        self.max_age: int | None = max_age
        self.faults: list[Fault] = []
        self.wrong_md5: set[tuple[str, str]] = set()
        self.removed: set[tuple[str, str]] = set()
        self.left_out: set[tuple[str, str]] = set()
        self._fault_lock = threading.Lock()
        self.route("GET", r"/assets", self._list)
        self.route("GET", r"/info/(?P<id>[^/]+)", self._info)
        self.route("GET", r"/files/(?P<id>[^/]+)", self._files)
        self.route(
            "GET",
            r"/dl/(?P<id>[^/]+)/(?P<format>[^/]+)/(?P<resolution>[^/]+)/(?P<path>.+)",
            self._download,
        )
        self.route("GET", r"/thumbnails/(?P<id>[^/]+)\.png", self._thumbnail)

    def start(self) -> FakePolyHaven:
        super().start()
        default_handler = self._httpd.handle_error

        def handle_error(request, client_address) -> None:
            # A client that cancels a transfer shuts its socket down mid-request, and
            # the standard server would print that reset as a traceback.
            error = sys.exc_info()[1]
            if not isinstance(error, (ConnectionResetError, BrokenPipeError)):
                default_handler(request, client_address)

        self._httpd.handle_error = handle_error
        return self

    def add_asset(self, asset: FakeAsset) -> FakeAsset:
        self.assets[asset.asset_id] = asset
        return asset

    def fail(
        self, endpoint: str, status: int, *, asset_id: str | None = None, times: int | None = None
    ) -> None:
        """Respond with ``status`` on ``endpoint`` (one of ``ENDPOINTS``), for one asset
        or for all, ``times`` times or always. ``download`` covers every file."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        with self._fault_lock:
            self.faults.append(Fault(endpoint, status, asset_id, times))

    def announce_wrong_md5(self, asset_id: str, path: str) -> None:
        """List a wrong md5 for the file at ``path`` (main file or include, in every
        format and resolution) while serving the real bytes."""
        self.wrong_md5.add((asset_id, path))

    def remove_file(self, asset_id: str, path: str) -> None:
        """Respond 404 for the file at ``path`` while ``/files`` still lists it."""
        self.removed.add((asset_id, path))

    def leave_out_include(self, asset_id: str, path: str) -> None:
        """Leave the include at ``path`` out of ``/files`` (in every format and
        resolution) while the main file still names it and the file is still served."""
        self.left_out.add((asset_id, path))

    def reset(self) -> None:
        """Forget faults and the request log, so one server can serve several tests."""
        with self._fault_lock:
            self.faults.clear()
        self.wrong_md5.clear()
        self.removed.clear()
        self.left_out.clear()
        self.requests_seen.clear()

    def requests_to(self, path_prefix: str) -> list:
        """Return the requests seen whose path starts with ``path_prefix``."""
        return [seen for seen in list(self.requests_seen) if seen.path.startswith(path_prefix)]

    def file_url(self, asset_id: str, file_format: str, resolution: str, path: str) -> str:
        return f"{self.url}/dl/{asset_id}/{file_format}/{resolution}/{quote(path)}"

    # Faults

    def _fault_reply(self, endpoint: str, asset_id: str | None = None) -> Reply | None:
        with self._fault_lock:
            for fault in self.faults:
                if fault.endpoint != endpoint or fault.asset_id not in (None, asset_id):
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                return _error(fault.status, f"Injected fault {fault.status}.")
        return None

    # Routes

    def _list(self, info: RequestInfo) -> Reply:
        fault = self._fault_reply("assets")
        if fault is not None:
            return fault
        asset_type = info.param("t", "all")
        if asset_type not in ("all", "models", "hdris", "textures"):
            return _error(400, f"Invalid type '{asset_type}'.")
        assets = list(self.assets.values()) if asset_type in ("all", "models") else []
        wanted = {name for name in (info.param("c") or "").split(",") if name}
        assets = [asset for asset in assets if wanted <= set(asset.categories)]
        listing = {asset.asset_id: self._asset_json(asset) for asset in assets}
        headers = {}
        if self.max_age is not None:
            headers["Cache-Control"] = f"public, max-age={self.max_age}"
        return Reply.json(listing, headers=headers)

    def _info(self, info: RequestInfo) -> Reply:
        asset_id = unquote(info.match["id"])
        fault = self._fault_reply("info", asset_id)
        if fault is not None:
            return fault
        asset = self.assets.get(asset_id)
        if asset is None:
            return _error(404, f"Invalid ID '{asset_id}': no such asset.")
        return Reply.json(self._asset_json(asset))

    def _files(self, info: RequestInfo) -> Reply:
        asset_id = unquote(info.match["id"])
        fault = self._fault_reply("files", asset_id)
        if fault is not None:
            return fault
        asset = self.assets.get(asset_id)
        if asset is None:
            return _error(404, f"Invalid ID '{asset_id}': no such asset.")
        tree: dict = {}
        for file_format, resolutions in asset.files.items():
            tree[file_format] = {
                resolution: {file_format: self._bundle_json(asset, file_format, resolution, bundle)}
                for resolution, bundle in resolutions.items()
            }
        tree.update(self._texture_maps(asset))
        return Reply.json(tree)

    def _download(self, info: RequestInfo) -> Reply:
        asset_id = unquote(info.match["id"])
        fault = self._fault_reply("download", asset_id)
        if fault is not None:
            return fault
        path = unquote(info.match["path"])
        asset = self.assets.get(asset_id)
        bundle = None
        if asset is not None:
            bundle = asset.files.get(info.match["format"], {}).get(info.match["resolution"])
        data = bundle.files().get(path) if bundle is not None else None
        if data is None or (asset_id, path) in self.removed:
            return _error(404, f"No file '{path}' for '{asset_id}'.")
        content_type = CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
        return Reply(200, data, {"Content-Type": content_type})

    def _thumbnail(self, info: RequestInfo) -> Reply:
        return Reply(200, tiny_png(), {"Content-Type": "image/png"})

    # JSON forms

    def _asset_json(self, asset: FakeAsset) -> dict:
        data = {
            "name": asset.name,
            "type": MODEL_TYPE,
            "date_published": asset.date_published,
            "download_count": asset.download_count,
            "files_hash": files_hash(asset),
            "authors": copy.deepcopy(asset.authors),
            "categories": list(asset.categories),
            "tags": list(asset.tags),
            "thumbnail_url": f"{self.url}/thumbnails/{asset.asset_id}.png",
        }
        if asset.polycount is not None:
            data["polycount"] = asset.polycount
        for name in asset.omit:
            data.pop(name, None)
        return data

    def _bundle_json(self, asset: FakeAsset, file_format: str, resolution: str, bundle) -> dict:
        entry = self._file_json(asset, file_format, resolution, bundle.main_name, bundle.main)
        entry["include"] = {
            path: self._file_json(asset, file_format, resolution, path, data)
            for path, data in bundle.includes.items()
            if (asset.asset_id, path) not in self.left_out
        }
        return entry

    def _file_json(self, asset: FakeAsset, file_format: str, resolution: str, path: str, data):
        md5 = hashlib.md5(data).hexdigest()
        if (asset.asset_id, path) in self.wrong_md5:
            md5 = hashlib.md5(data + b"changed").hexdigest()
        return {
            "url": self.file_url(asset.asset_id, file_format, resolution, path),
            "md5": md5,
            "size": len(data),
        }

    def _texture_maps(self, asset: FakeAsset) -> dict:
        """List the glTF bundles' PNG and JPEG includes under ``Diffuse``, keyed by
        resolution and then by image format."""
        maps: dict = {}
        for resolution, bundle in asset.files.get("gltf", {}).items():
            for path, data in bundle.includes.items():
                suffix = Path(path).suffix.lower().lstrip(".")
                if suffix in ("png", "jpg"):
                    entry = self._file_json(asset, "gltf", resolution, path, data)
                    maps.setdefault("Diffuse", {}).setdefault(resolution, {})[suffix] = entry
        return maps


def files_hash(asset: FakeAsset) -> str:
    """Return a SHA-1 over every file of ``asset``, which changes when any file does."""
    digest = hashlib.sha1()
    for file_format, resolutions in sorted(asset.files.items()):
        for resolution, bundle in sorted(resolutions.items()):
            for path, data in sorted(bundle.files().items()):
                digest.update(f"{file_format}/{resolution}/{path}\0".encode())
                digest.update(hashlib.md5(data).digest())
    return digest.hexdigest()


def _error(status: int, text: str) -> Reply:
    return Reply.json({"error": text}, status)


# The sample library


def fox_gltf_bundle(fox_folder: Path, asset_id: str, resolution: str) -> FakeBundle:
    """Pack the separate-file Fox glTF the way Poly Haven names its files:
    ``<id>_<res>.gltf``, ``<id>.bin`` and ``textures/<id>_diff_<res>.png``, with the
    URIs inside the .gltf rewritten to those paths."""
    document = json.loads((fox_folder / "Fox.gltf").read_text(encoding="utf-8"))
    buffer_path = f"{asset_id}.bin"
    texture_path = f"textures/{asset_id}_diff_{resolution}.png"
    (buffer,) = document["buffers"]
    (image,) = document["images"]
    buffer["uri"] = buffer_path
    image["uri"] = texture_path
    return FakeBundle(
        f"{asset_id}_{resolution}.gltf",
        json.dumps(document, indent=2).encode(),
        {
            buffer_path: (fox_folder / "Fox.bin").read_bytes(),
            texture_path: (fox_folder / "Texture.png").read_bytes(),
        },
    )


def sample_library(assets: Path) -> list[FakeAsset]:
    """Build the library from the real sample files in ``assets``.

    - ``fox``: glTF at 1k and 2k from gltf/Fox/ (Fox.gltf as ``fox_<res>.gltf``,
      Fox.bin as ``fox.bin``, Texture.png as ``textures/fox_diff_<res>.png``). Its FBX
      at 1k is fbx/blender_279_default_7400_binary.fbx (a cube, a camera and a
      light, because the samples hold no FBX of the fox) with the texture included.
    - ``blender_default_scene``: only an FBX at 1k, the same FBX file, no includes;
      its responses lack ``authors``, ``thumbnail_url`` and ``tags``.

    Every asset is listed as CC0 here, as Poly Haven lists its assets, although the
    sample files carry their own licences (see the samples' MANIFEST.md).
    """
    fox_folder = assets / "gltf" / "Fox"
    fbx = (assets / "fbx" / "blender_279_default_7400_binary.fbx").read_bytes()
    texture = (fox_folder / "Texture.png").read_bytes()
    fox_document = json.loads((fox_folder / "Fox.gltf").read_text(encoding="utf-8"))
    fox_faces = gltf_statistics(fox_document)["face_count"]
    fox = FakeAsset(
        "fox",
        "Fox",
        {
            "gltf": {
                resolution: fox_gltf_bundle(fox_folder, "fox", resolution)
                for resolution in ("1k", "2k")
            },
            "fbx": {"1k": FakeBundle("fox_1k.fbx", fbx, {"textures/fox_diff_1k.png": texture})},
        },
        authors={"PixelMannen": "Model", "tomkranis": "Rigging and animation"},
        categories=("animals", "nature"),
        tags=("fox", "animal", "low poly", "rigged"),
        download_count=5000,
        polycount=fox_faces,
    )
    scene = FakeAsset(
        "blender_default_scene",
        "Blender Default Scene",
        {"fbx": {"1k": FakeBundle("blender_default_scene_1k.fbx", fbx)}},
        categories=("props",),
        tags=("cube",),
        download_count=12,
        omit=frozenset({"authors", "thumbnail_url", "tags"}),
    )
    return [fox, scene]
