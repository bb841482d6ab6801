"""The download half of ``GitHubClient``: a model file, the files it names and the Git
LFS objects behind pointer files."""

from __future__ import annotations

import dataclasses
import logging
import posixpath
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
import urllib3

from ...core.download import (
    SUFFIX_KINDS,
    DownloadBatch,
    DownloadRequest,
    FileCheck,
    download_file,
    verify_file,
)
from ...core.errors import (
    ConfigurationError,
    DownloadError,
    JobCancelledError,
    MeshportError,
    NotDownloadableError,
    NotFoundError,
)
from ...core.formats import MODEL_SUFFIXES
from ...core.jobs import JobContext
from ...core.models import Asset, DownloadedAsset, DownloadOptions
from ...core.redact import redact_url
from ..common import cancel_check
from .constants import (
    LABEL,
    MAX_FILE_SIZE,
    PLATFORM_ID,
    QUOTA_PEEK_BYTES,
    QUOTA_PHRASES,
)
from .files import (
    _Workspace,
    checked_relative_path,
    folder_name,
    gltf_include_paths,
    mtl_texture_paths,
    obj_material_libraries,
    read_lfs_pointer,
    sha256_of,
)
from .refs import FileRef
from .responses import _file_error

log = logging.getLogger(__name__)


class DownloadMixin:
    """Download methods of ``GitHubClient``; they use its ``file_http``, ``media_url``,
    ``_media_host``, ``_quota_refusals``, ``parse_file_ref`` and ``_repository``."""

    def download(
        self,
        asset: Asset,
        destination: Path,
        context: JobContext,
        options: DownloadOptions = DownloadOptions(),
    ) -> DownloadedAsset:
        """Download the file and the files it names into one folder under
        ``destination`` and return the model to import.

        A .gltf's buffers and images must all arrive. An .obj's material libraries
        and their textures are fetched when present, and a missing one is logged. An
        earlier folder of the same file is replaced only after the new one is complete,
        and nothing partial remains when this raises.
        """
        cancel = cancel_check(context)
        file = self.parse_file_ref(asset.asset_id)
        file_format = MODEL_SUFFIXES[file.suffix]
        _check_format_option(options, file_format)
        _check_file_size(asset.download_size, file)
        context.raise_if_cancelled()
        if file.ref is None:
            default_branch = self._repository(file.owner, file.repo, cancel).default_branch
            file = dataclasses.replace(file, ref=default_branch)

        workspace = _Workspace(Path(destination) / folder_name(file))
        workspace.prepare()
        try:
            model = self._fetch_model(asset, file, workspace, context)
            context.raise_if_cancelled()
            model_path = workspace.install(model)
        except BaseException:
            workspace.discard()
            raise
        context.report_progress(1.0, f"{LABEL}: '{asset.name}' downloaded")
        return DownloadedAsset(asset, model_path, workspace.final, file_format)

    def _fetch_model(self, asset: Asset, file: FileRef, workspace: _Workspace, context) -> Path:
        model = workspace.staging / file.name
        context.report_progress(None, f"{LABEL}: downloading '{file.path}' from {file.full_name}")
        label = f"{asset.name} ({file.full_name})"
        try:
            download_file(
                self.file_http,
                self._contents_url(file),
                model,
                context,
                check=FileCheck(kind="any"),
                authenticated=True,
                label=label,
            )
        except MeshportError as error:
            raise _file_error(error, file) from error
        self._finish_file(file, model, context, label)

        if file.suffix == ".gltf":
            self._fetch_includes(asset, file, gltf_include_paths(model, label), workspace, context)
        elif file.suffix == ".obj":
            libraries = self._fetch_includes(
                asset,
                file,
                obj_material_libraries(model, label),
                workspace,
                context,
                required=False,
            )
            textures = []
            for library in libraries:
                folder = posixpath.dirname(library)
                for path in mtl_texture_paths(workspace.staging / library, label):
                    textures.append(checked_relative_path(posixpath.join(folder, path), label))
            self._fetch_includes(asset, file, textures, workspace, context, required=False)
        return model

    def _fetch_includes(
        self,
        asset: Asset,
        file: FileRef,
        relative_paths: list[str],
        workspace: _Workspace,
        context,
        *,
        required: bool = True,
    ) -> list[str]:
        """Download the files at ``relative_paths`` beside the model and return the
        paths that arrived. Without ``required``, a file that is not found is logged
        and skipped."""
        wanted = [path for path in dict.fromkeys(relative_paths) if path]
        if not wanted:
            return []
        items = [
            DownloadRequest(
                self._contents_url(file.sibling(path)),
                workspace.staging / path,
                FileCheck(kind="any"),
                authenticated=True,
                label=f"{asset.name}: {path}",
            )
            for path in wanted
        ]

        context.report_progress(
            None, f"{LABEL}: downloading {len(items)} files that '{file.name}' needs"
        )
        batch = DownloadBatch(
            self.file_http,
            items,
            context,
            max_parallel=self.settings.max_parallel_downloads,
            stop_on_error=required,
        )
        outcomes = batch.run()

        arrived = []
        failures = []
        for path, outcome in zip(wanted, outcomes):
            if outcome.error is None:
                arrived.append(path)
            elif not required and isinstance(outcome.error, NotFoundError):
                log.warning(
                    "platform=%s %s names %r, which is not in %s at %s; importing without it",
                    PLATFORM_ID,
                    file.path,
                    path,
                    file.full_name,
                    file.ref,
                )
            else:
                failures.append((path, outcome.error))

        real = [pair for pair in failures if not isinstance(pair[1], JobCancelledError)]
        if failures:
            path, error = (real or failures)[0]
            raise _file_error(error, file.sibling(path), needed_by=file.name) from error

        for path in arrived:
            label = f"{asset.name}: {path}"
            self._finish_file(file.sibling(path), workspace.staging / path, context, label)
        return arrived

    def _finish_file(self, file: FileRef, local: Path, context, label: str) -> None:
        """Replace a Git LFS pointer at ``local`` with the real file, then check the
        file's kind by its suffix."""
        pointer = read_lfs_pointer(local, label)
        kind = SUFFIX_KINDS.get(local.suffix.lower())
        if pointer is None:
            verify_file(local, FileCheck(kind=kind), label=label)
            return

        url = self.media_file_url(file)
        log.info(
            "platform=%s %s is a Git LFS pointer (sha256 %s, %d bytes); fetching %s",
            PLATFORM_ID,
            file.path,
            pointer.oid,
            pointer.size,
            redact_url(url),
        )
        self._quota_refusals.seen = False
        try:
            download_file(
                self.file_http,
                url,
                local,
                context,
                check=FileCheck(size=pointer.size, kind="any"),
                authenticated=True,
                label=f"{label} (Git LFS)",
            )
        except MeshportError as error:
            raise self._lfs_error(error, file) from error

        # The sha256 is checked first, because its mismatch is the clearer error.
        digest = sha256_of(local)
        if digest != pointer.oid:
            local.unlink(missing_ok=True)
            raise DownloadError(
                f"{LABEL}: sha256 mismatch for the Git LFS file '{file.path}' of "
                f"{file.full_name} (expected {pointer.oid}, got {digest}). Try the "
                "download again.",
                platform=PLATFORM_ID,
            )
        verify_file(local, FileCheck(kind=kind), label=label)

    def _lfs_error(self, error: MeshportError, file: FileRef) -> MeshportError:
        if getattr(self._quota_refusals, "seen", False):
            return NotDownloadableError(
                f"{LABEL}: {file.full_name} is over its Git LFS data quota, so GitHub does "
                f"not serve '{file.path}' until the owner buys more bandwidth or the "
                "monthly quota resets. Try again later or ask the repository's owner.",
                platform=PLATFORM_ID,
                status=error.status,
            )
        if isinstance(error, NotFoundError):
            return NotFoundError(
                f"{LABEL}: the Git LFS object of '{file.path}' in {file.full_name} is "
                f"missing on {self._media_host} (HTTP 404), although the repository has "
                "its pointer. Ask the repository's owner to push it.",
                platform=PLATFORM_ID,
                status=error.status,
            )
        return error

    def _note_quota_refusal(self, response: requests.Response, *args, **kwargs):
        """Mark this thread's transfer when the media host refuses for the LFS quota;
        ``_lfs_error`` reads the mark, because the mapped error lacks the body."""
        if response.status_code >= 400 and urlsplit(response.url).netloc == self._media_host:
            text = _peek_text(response)
            if any(phrase in text.lower() for phrase in QUOTA_PHRASES):
                self._quota_refusals.seen = True
        return response

    def _contents_url(self, file: FileRef) -> str:
        path = f"repos/{file.owner}/{file.repo}/contents/{quote(file.path)}"
        return self.file_http.url(f"{path}?ref={quote(file.ref or '', safe='')}")

    def media_file_url(self, file: FileRef) -> str:
        """Return the URL of a Git LFS file's bytes on the media host."""
        return (
            f"{self.media_url}/media/{file.owner}/{file.repo}/"
            f"{quote(file.ref or '', safe='/')}/{quote(file.path)}"
        )


def _check_format_option(options: DownloadOptions, file_format: str) -> None:
    requested = (options.file_format or "").strip().lower()
    if requested and requested != file_format:
        raise ConfigurationError(
            f"{LABEL}: this asset is one .{file_format} file, so it cannot be downloaded "
            f"as {options.file_format}. Leave the format empty or choose {file_format}.",
            platform=PLATFORM_ID,
        )


def _check_file_size(size: int | None, file: FileRef) -> None:
    if size is not None and size > MAX_FILE_SIZE:
        raise NotDownloadableError(
            f"{LABEL}: '{file.path}' in {file.full_name} has {size / 2**20:.0f} MiB, more "
            "than the 100 MB GitHub's API serves. Download it from its page on github.com "
            "and import the file.",
            platform=PLATFORM_ID,
        )


def _peek_text(response: requests.Response) -> str:
    """Return the start of an error response's body, read from its stream."""
    raw = response.raw
    if raw is None:
        return ""
    try:
        data = raw.read(QUOTA_PEEK_BYTES, decode_content=True)
    except (OSError, ValueError, urllib3.exceptions.HTTPError):
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
