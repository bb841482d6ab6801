"""The calls the sidebar's operators and ``bin/meshport`` share: settings, search,
download and import, key checks.

Settings are read on the main thread and handed to workers. Workers do network and
file work only, and the import runs on the main thread inside ``JobRunner.drain``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import bpy

from ..core import policy
from ..core.archives import extract_archive, find_model_file
from ..core.config import (
    PLATFORM_IDS,
    Settings,
    build_platform_settings,
    resolve_local_dir,
    resolve_unity_dir,
)
from ..core.errors import (
    CredentialStoreError,
    ImportFailedError,
    JobCancelledError,
    MeshportError,
    OfflineError,
    UnsupportedFileError,
)
from ..core.formats import ARCHIVE_SUFFIXES, MODEL_SUFFIXES, detect_kind
from ..core.jobs import Job, JobContext, JobRunner, MainThreadCallback
from ..core.models import (
    AccountInfo,
    Asset,
    DownloadedAsset,
    DownloadOptions,
    SearchPage,
    SearchQuery,
)
from ..platforms import registry
from . import assets, paths
from .importer import ImportOptions, ImportResult, import_model, local_asset
from .provenance import platform_label

log = logging.getLogger(__name__)

# Platforms that read local files only, and so work with online access off.
OFFLINE_PLATFORMS = frozenset({"local", "unity"})
ARCHIVE_KINDS = ("zip", "tar", "gzip", "bzip2", "xz")
# An archive is extracted, imported and deleted within one run, so an extraction
# folder this old belongs to a run that ended without cleaning up.
STALE_SCRATCH_SECONDS = 3600.0



def user_data_dir() -> Path:
    """Return the folder for caches, logs and downloads (see ``paths.user_data_dir``)."""
    return paths.user_data_dir()


# ---------------------------------------------------------------- keys


def credential_store():
    """Return this process's ``CredentialStore``, shared with the platform clients'
    token managers. One instance per process matters: without a keyring backend it
    keeps keys in memory for the session."""
    from ..core.credentials import process_store

    return process_store()


def use_credential_store(store) -> None:
    """Replace the process's credential store, for tests with a keyring backend of
    their own. With None, the next use creates the default store again."""
    from ..core.credentials import use_process_store

    use_process_store(store)


def key_platform_ids() -> tuple[str, ...]:
    """Return the ids of platforms that take a key, required or optional."""
    found = []
    for platform_id in registry.available_platform_ids():
        client = _client_class_or_none(platform_id)
        if client is not None and (client.needs_key or client.key_optional):
            found.append(platform_id)
    return tuple(found)


def _client_class_or_none(platform_id: str):
    try:
        return registry.client_class(platform_id)
    except ImportError:
        log.warning("the client for platform %s could not be loaded", platform_id, exc_info=True)
        return None


def _stored_key(platform_id: str, *, allow_environment: bool, strict: bool):
    from ..core.credentials import key_for_platform

    try:
        return key_for_platform(
            platform_id, credential_store(), allow_environment=allow_environment
        )
    except CredentialStoreError as error:
        if strict:
            raise
        log.warning("platform=%s key not read: %s", platform_id, error.message)
        return None


# ---------------------------------------------------------------- settings


def settings_from_preferences(
    context=None, *, platform_id: str | None = None, read_keys: bool = True
) -> Settings:
    """Build ``Settings`` from the add-on preferences, on the main thread.

    Keys come from the keyring only, never from environment variables. With
    ``platform_id`` set, only that platform's key is read, and a keyring failure
    raises ``CredentialStoreError``. Without it, every key platform's key is read and
    a failure is logged. With ``read_keys`` off, no key is read at all, for callers
    that must not wait for the keyring on the main thread.
    """
    context = context or bpy.context
    preferences = paths.addon_preferences(context)
    data_dir = user_data_dir()
    key_platforms = key_platform_ids() if read_keys else ()
    requested_platforms = key_platforms if platform_id is None else (platform_id,)
    platforms = {}
    for listed_id in _all_platform_ids():
        key = None
        if listed_id in key_platforms and listed_id in requested_platforms:
            key = _stored_key(listed_id, allow_environment=False, strict=platform_id is not None)
        platforms[listed_id] = build_platform_settings(
            listed_id,
            url_preference=_preference(preferences, f"{listed_id}_url"),
            key=key,
            rate_per_hour=_preference(preferences, f"{listed_id}_rate_per_hour", None),
        )
    download_folder = _preference(preferences, "download_folder")
    download_dir = data_dir / "downloads"
    if download_folder:
        download_dir = Path(bpy.path.abspath(download_folder))
    return Settings(
        data_dir=data_dir,
        download_dir=download_dir,
        online_access=bool(bpy.app.online_access),
        platforms=platforms,
        local_dir=resolve_local_dir(_preference(preferences, "local_folder")),
        unity_dir=resolve_unity_dir(_preference(preferences, "unity_folder")),
        pack_images=import_options_from_preferences(context).pack_images,
        **_network_preferences(preferences),
    )


def with_stored_keys(settings: Settings) -> Settings:
    """Return ``settings`` with every key platform's key read from the keyring.

    For workers of settings built with ``read_keys=False``: no ``bpy`` is touched,
    and a keyring failure is logged and leaves that platform without a key.
    """
    for platform_id in key_platform_ids():
        if platform_id not in settings.platforms:
            continue
        key = _stored_key(platform_id, allow_environment=False, strict=False)
        if key is not None:
            platform = replace(settings.platform(platform_id), key=key)
            settings = settings.with_platform(platform)
    return settings


def _network_preferences(preferences) -> dict:
    """Return the ``Settings`` fields the Network and Caches preferences set; with
    the add-on not enabled, the ``Settings`` defaults apply."""
    if preferences is None:
        return {}
    from ..core.tls import SYSTEM_TRUST

    ca_bundle = preferences.ca_bundle.strip()
    if ca_bundle and ca_bundle.lower() != SYSTEM_TRUST:
        ca_bundle = bpy.path.abspath(ca_bundle)
    return {
        "retry_budget_seconds": float(preferences.retry_budget_seconds),
        "max_parallel_downloads": int(preferences.max_parallel_downloads),
        "ca_bundle": ca_bundle or None,
        "redis_url": preferences.redis_url.strip() or None,
        "asset_cache_max_bytes": int(preferences.asset_cache_gib * 2**30),
    }


def _preference(preferences, name: str, default=""):
    """Return a preference, or ``default`` when the add-on is not enabled."""
    return getattr(preferences, name, default) if preferences is not None else default


def settings_for_command_line(*, offline: bool) -> Settings:
    """Build ``Settings`` for ``bin/meshport`` from environment variables and the
    keyring. Running the command counts as allowing online access, unless
    ``offline`` is set."""
    data_dir = user_data_dir()
    key_platforms = key_platform_ids()
    platforms = {}
    for platform_id in _all_platform_ids():
        key = None
        if platform_id in key_platforms:
            key = _stored_key(platform_id, allow_environment=True, strict=False)
        platforms[platform_id] = build_platform_settings(platform_id, key=key)
    return Settings(
        data_dir=data_dir,
        download_dir=data_dir / "downloads",
        online_access=not offline,
        platforms=platforms,
        local_dir=resolve_local_dir(),
        unity_dir=resolve_unity_dir(),
    )


def import_options_from_preferences(context=None) -> ImportOptions:
    preferences = paths.addon_preferences(context or bpy.context)
    storage = _preference(preferences, "image_storage", "PACK")
    return ImportOptions(pack_images=storage != "COPY")


def _all_platform_ids() -> tuple[str, ...]:
    return tuple(dict.fromkeys(PLATFORM_IDS + registry.available_platform_ids()))


# ---------------------------------------------------------------- online access


def needs_network(platform_id: str) -> bool:
    return platform_id not in OFFLINE_PLATFORMS


def require_online(settings: Settings, platform_id: str) -> None:
    """Raise ``OfflineError`` before any job starts when online access is off and
    the platform needs the network."""
    if settings.online_access or not needs_network(platform_id):
        return
    label = platform_label(platform_id)
    if paths.addon_preferences() is None:
        # The add-on is not enabled in Blender's preferences, so this is the command line.
        hint = "Run the command without --offline to allow it."
    else:
        hint = (
            'Turn on "Allow Online Access" in Edit > Preferences > System, or search the '
            "local library, which works offline."
        )
    raise OfflineError(
        f"{label}: online access is off, so Meshport sent no request. {hint}",
        platform=platform_id,
    )


# ---------------------------------------------------------------- jobs


def start_search(
    runner: JobRunner,
    settings: Settings,
    platform_id: str,
    query: SearchQuery,
    *,
    on_done: MainThreadCallback | None,
    on_error: MainThreadCallback | None,
    on_progress: MainThreadCallback | None = None,
) -> Job:
    """Search ``platform_id`` on a worker. ``on_done(job, SearchPage)`` runs in
    ``runner.drain``. Raises ``OfflineError`` at once when the network is off."""
    require_online(settings, platform_id)

    def search(context: JobContext) -> SearchPage:
        client = registry.create_client(platform_id, settings)
        try:
            return client.search(query, context)
        finally:
            client.close()

    label = f"{platform_label(platform_id)} search '{query.text}'"
    return runner.submit(
        label,
        search,
        platform=platform_id,
        on_done=on_done,
        on_error=on_error,
        on_progress=on_progress,
    )


def start_import(
    runner: JobRunner,
    settings: Settings,
    platform_id: str,
    asset_id: str,
    *,
    download_options: DownloadOptions = DownloadOptions(),
    import_options: ImportOptions = ImportOptions(),
    on_done: MainThreadCallback | None = None,
    on_error: MainThreadCallback | None = None,
    on_progress: MainThreadCallback | None = None,
    on_import_start: MainThreadCallback | None = None,
) -> Job:
    """Download an asset on a worker, then import it on the main thread.

    The worker fetches the asset's record, then its files from the asset cache,
    downloading them into the cache on a miss (see ``blender.assets``). Assets
    without a version go to ``settings.download_dir/<platform>/``, and local library
    files are imported where they are. Then ``runner.drain`` imports the model
    and calls ``on_done(job, ImportResult)``. ``on_import_start(job, asset)`` runs
    just before the import. A job cancelled after its download finished imports
    nothing. Raises ``OfflineError`` at once when the network is off.
    """
    require_online(settings, platform_id)
    destination = Path(settings.download_dir) / platform_id

    def download(context: JobContext) -> DownloadedAsset:
        client = registry.create_client(platform_id, settings)
        try:
            asset = client.get_asset(asset_id, context)
            policy.check_license(asset.license)
            policy.check_download_size(asset.download_size)
            context.raise_if_cancelled()
            context.report_progress(None, f"Downloading '{asset.name}'")
            return assets.download_through_cache(
                client, settings, asset, destination, context, download_options
            )
        finally:
            client.close()

    def import_downloaded(job: Job, downloaded: DownloadedAsset) -> None:
        if job.context is not None and job.context.cancelled:
            raise JobCancelledError(f"{job.label}: cancelled before the import.")
        if on_import_start is not None:
            on_import_start(job, downloaded.asset)
        try:
            result = import_model(
                downloaded.model_path, import_options, downloaded.asset, root=downloaded.folder
            )
        except MeshportError:
            raise
        except Exception as error:
            # JobRunner passes only MeshportError to on_error, so a bug must become one.
            log.exception("import of %s crashed", downloaded.model_path)
            raise ImportFailedError(
                f"{downloaded.model_path.name}: the import failed unexpectedly "
                f"({type(error).__name__}). The Meshport log has the details."
            ) from error
        if on_done is not None:
            on_done(job, result)

    label = f"{platform_label(platform_id)} import {asset_id}"
    return runner.submit(
        label,
        download,
        platform=platform_id,
        on_done=import_downloaded,
        on_error=on_error,
        on_progress=on_progress,
    )


def start_key_check(
    runner: JobRunner,
    settings: Settings,
    platform_id: str,
    *,
    on_done: MainThreadCallback | None,
    on_error: MainThreadCallback | None,
) -> Job:
    """Validate the platform's configured key on a worker, then call ``on_done(job,
    AccountInfo)``. Raises ``OfflineError`` at once when the network is off."""
    require_online(settings, platform_id)

    def validate(context: JobContext) -> AccountInfo:
        client = registry.create_client(platform_id, settings)
        try:
            return client.validate_key(context)
        finally:
            client.close()

    return runner.submit(
        f"{platform_label(platform_id)} key check",
        validate,
        platform=platform_id,
        on_done=on_done,
        on_error=on_error,
    )


# ---------------------------------------------------------------- local files


def import_file(
    path: Path,
    import_options: ImportOptions = ImportOptions(),
    asset: Asset | None = None,
    *,
    root: Path | None = None,
) -> ImportResult:
    """Import a local GLB, glTF, FBX or OBJ file, or an archive (zip or tar) that
    contains one model at any depth, on the main thread.

    An archive is extracted into a temporary folder under the user data folder. The
    import packs or copies the images, so the folder is removed afterwards. Messages
    about the archive name ``path``, not the temporary folder. ``root`` is the folder
    a model file's references must stay in (default: the file's own folder).
    """
    path = Path(path)
    if path.suffix.lower() in MODEL_SUFFIXES:
        return import_model(path, import_options, asset or local_asset(path), root=root)
    archive_suffix = next(
        (suffix for suffix in ARCHIVE_SUFFIXES if path.name.lower().endswith(suffix)), ""
    )
    if detect_kind(path) not in ARCHIVE_KINDS:
        if archive_suffix:
            kind = "zip" if archive_suffix == ".zip" else "tar"
            raise UnsupportedFileError(
                f"{path}: not a valid {kind} archive. It is damaged, or it is another kind "
                f"of file named {archive_suffix}. Create the archive again, or import the "
                "model file itself."
            )
        return import_model(path, import_options, asset)

    scratch_parent = user_data_dir() / "imports"
    scratch_parent.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(scratch_parent)
    scratch = Path(tempfile.mkdtemp(prefix=f"{path.stem[:40]}-", dir=scratch_parent))
    try:
        folder = scratch / "content"
        extract_archive(path, folder)
        model = find_model_file(folder, label=str(path), container="archive")
        if model.stat().st_size == 0:
            raise UnsupportedFileError(
                f"{path}: its model file '{model.name}' is empty (0 bytes), so there is "
                "nothing to import. Create the archive again from a complete export."
            )
        return import_model(model, import_options, asset or local_asset(path), root=folder)
    finally:
        _remove_folder(scratch)


def remove_stale_scratch(scratch_parent: Path, max_age: float = STALE_SCRATCH_SECONDS) -> None:
    """Delete extraction folders that an earlier run, stopped by a signal or a
    crash, left behind. A folder counts as stale once it is ``max_age`` seconds old."""
    cutoff = time.time() - max_age
    for folder in scratch_parent.iterdir():
        try:
            stale = folder.is_dir() and folder.stat().st_mtime < cutoff
        except OSError:
            continue
        if stale:
            log.info("removing the stale extraction folder %s", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _remove_folder(folder: Path) -> None:
    """Delete ``folder``, finishing the job even when a signal interrupts it."""
    try:
        shutil.rmtree(folder, ignore_errors=True)
    except KeyboardInterrupt:
        shutil.rmtree(folder, ignore_errors=True)
        raise
