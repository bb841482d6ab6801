"""The asset cache: finished downloads kept on disk for reuse, indexed in SQLite.

An entry is one folder of files under ``<root>/files/<16 hex digits>``, named by a
hash of its key so that paths stay short (Windows allows 260 characters unless long
paths are enabled). The index, ``<root>/index.sqlite`` in WAL mode, records each
file's size and md5 and a use counter for least-recently-used eviction once the
total passes ``max_bytes``. Several threads and processes may share one cache
folder: every change runs in an immediate SQLite transaction, so writers take turns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .download import md5_of
from .secrets import Secret

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 5 * 2**30
INDEX_NAME = "index.sqlite"
BUSY_TIMEOUT_SECONDS = 30.0
# Staging folders older than this belong to a process that ended without cleaning up.
STALE_STAGING_SECONDS = 24 * 3600

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    digest TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    version TEXT NOT NULL,
    variant TEXT NOT NULL,
    credential TEXT NOT NULL,
    main_file TEXT,
    total_bytes INTEGER NOT NULL,
    token TEXT NOT NULL,
    stored_at REAL NOT NULL,
    last_used REAL NOT NULL,
    use_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_use ON entries (use_seq);
CREATE TABLE IF NOT EXISTS files (
    digest TEXT NOT NULL REFERENCES entries (digest) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    md5 TEXT NOT NULL,
    PRIMARY KEY (digest, path)
);
"""


@dataclass(frozen=True)
class CacheKey:
    """The identity of one cached download.

    ``version`` changes whenever the platform's files change: Sketchfab's
    ``updatedAt``, Poly Haven's ``files_hash``, a git blob sha, or
    ``local_file_version`` of a local file. ``variant`` is the format and
    resolution chosen, such as ``"gltf-1k"``. ``credential`` is
    ``Secret.fingerprint()`` of the key for files that belong to one user, else "".
    """

    platform: str
    asset_id: str
    version: str
    variant: str = ""
    credential: str = ""

    def digest(self) -> str:
        """Return 16 hex digits of a SHA-256 over every field, the entry's folder name."""
        fields = [
            self.platform,
            self.asset_id,
            self.version,
            self.variant,
            self.credential,
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CachedFile:
    path: str  # relative to the entry folder, with forward slashes
    size: int
    md5: str


@dataclass(frozen=True)
class CacheEntry:
    key: CacheKey
    folder: Path
    main_file: Path | None
    files: tuple[CachedFile, ...]

    @property
    def size(self) -> int:
        return sum(item.size for item in self.files)


def local_file_version(path: Path) -> str:
    """Return a version for a local file: its size and modification time in ns."""
    status = path.stat()
    return f"{status.st_size}-{status.st_mtime_ns}"


def credential_fingerprint(secret: Secret | None) -> str:
    """Return the ``CacheKey.credential`` for files that belong to ``secret``'s user."""
    return secret.fingerprint() if secret else ""


class AssetCache:
    """Finished downloads under ``root``, at most ``max_bytes`` in total."""

    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.index_path = self.root / INDEX_NAME
        self._files_dir = self.root / "files"
        self._tmp_dir = self.root / "tmp"
        self._key_locks: dict[str, threading.Lock] = {}
        self._key_locks_guard = threading.Lock()
        self._files_dir.mkdir(parents=True, exist_ok=True)
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
        self._remove_leftovers()

    def lookup(self, key: CacheKey, *, verify_md5: bool = True) -> CacheEntry | None:
        """Return the entry for ``key`` after checking its files, or None.

        Every file must exist with its recorded size, and with ``verify_md5`` its
        recorded md5. A damaged entry is deleted, logged and reported as a miss.
        """
        digest = key.digest()
        with self._connect() as db:
            db.execute("BEGIN")  # one snapshot for both reads
            row = db.execute(
                "SELECT main_file, token FROM entries WHERE digest = ?", (digest,)
            ).fetchone()
            files = _file_rows(db, digest)
            db.execute("COMMIT")
        if row is None:
            return None

        entry = self._entry(key, row[0], files)
        problem = _find_problem(entry, verify_md5)
        if problem is not None:
            log.warning(
                "asset cache: removing damaged entry platform=%s asset=%s folder=%s: %s",
                key.platform,
                key.asset_id,
                entry.folder.name,
                problem,
            )
            self._remove_digest(digest, token=row[1])
            return None

        with self._transaction() as db:
            db.execute(
                "UPDATE entries SET use_seq = ?, last_used = ? WHERE digest = ?",
                (_next_use(db), time.time(), digest),
            )
        return entry

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """Yield a new empty folder on the cache's file system for a download to
        fill; whatever is still in it afterwards is deleted."""
        folder = self._tmp_dir / f"stage-{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def store(
        self,
        key: CacheKey,
        source: Path,
        *,
        main_file: str | None = None,
        md5s: Mapping[str, str] | None = None,
    ) -> CacheEntry:
        """Move ``source`` (a file, or a folder of files) into the cache under ``key``
        and return the entry. ``source`` is gone afterwards.

        ``main_file`` is the path, relative to the folder, of the file to import; for
        a single file it defaults to that file. ``md5s`` maps relative paths to md5s
        the caller already checked; the other files are hashed here. When a sound
        entry for ``key`` already exists, as after two concurrent downloads of one
        asset, it is kept and ``source`` is deleted. Storing evicts the least
        recently used entries until the total fits ``max_bytes``. An entry larger
        than ``max_bytes`` on its own is still kept, until the next store evicts it.
        """
        source = Path(source)
        if source.is_file():
            main_file = main_file or source.name
        files = _describe(source, md5s or {})
        digest = key.digest()
        trash: list[Path] = []
        with self._transaction() as db:
            existing = self._sound_existing(db, key)
            if existing is not None:
                trash.append(self._to_trash(source))
            else:
                trash += self._drop(db, digest)
                self._move_into_place(source, self._folder(digest))
                self._insert(db, key, digest, main_file, files)
                trash += self._evict(db, keep=digest)
        self._empty_trash(trash)
        if existing is not None:
            log.info(
                "asset cache: kept the entry stored first for asset=%s", key.asset_id
            )
            return existing
        return self._entry(key, main_file, files)

    def fetch(
        self, key: CacheKey, download: Callable[[Path], str | None]
    ) -> CacheEntry:
        """Return the entry for ``key``, calling ``download(folder)`` on a miss.

        ``download`` fills the empty ``folder`` and returns the relative path of the
        main file (or None). Threads of one process fetching the same key wait for
        each other, so the asset is downloaded once.
        """
        with self._lock_for(key.digest()):
            entry = self.lookup(key)
            if entry is not None:
                return entry
            with self.staging() as folder:
                main_file = download(folder)
                return self.store(key, folder, main_file=main_file)

    def remove(self, key: CacheKey) -> bool:
        """Delete the entry for ``key``; returns whether there was one."""
        return self._remove_digest(key.digest())

    def size(self) -> int:
        """Return the total size in bytes of every entry, from the index."""
        with self._connect() as db:
            return db.execute(
                "SELECT COALESCE(SUM(total_bytes), 0) FROM entries"
            ).fetchone()[0]

    def clear(self) -> None:
        """Delete every entry and its files."""
        with self._transaction() as db:
            db.execute("DELETE FROM entries")
            trash = [self._to_trash(self._files_dir)]
            self._files_dir.mkdir()
        self._empty_trash(trash)
        log.info("asset cache: cleared %s", self.root)

    # Index and folders

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(
            self.index_path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            db.execute("PRAGMA foreign_keys = ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside ``BEGIN IMMEDIATE``, which takes the write lock
        at once, so two writers never both read and then race to write."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _folder(self, digest: str) -> Path:
        return self._files_dir / digest

    def _entry(self, key: CacheKey, main_file: str | None, files) -> CacheEntry:
        folder = self._folder(key.digest())
        main_path = folder / main_file if main_file else None
        return CacheEntry(key, folder, main_path, tuple(files))

    def _sound_existing(
        self, db: sqlite3.Connection, key: CacheKey
    ) -> CacheEntry | None:
        row = db.execute(
            "SELECT main_file FROM entries WHERE digest = ?", (key.digest(),)
        ).fetchone()
        if row is None:
            return None
        entry = self._entry(key, row[0], _file_rows(db, key.digest()))
        return entry if _find_problem(entry, verify_md5=False) is None else None

    def _insert(self, db, key: CacheKey, digest: str, main_file, files) -> None:
        now = time.time()
        db.execute(
            "INSERT INTO entries (digest, platform, asset_id, version, variant, credential,"
            " main_file, total_bytes, token, stored_at, last_used, use_seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                digest,
                key.platform,
                key.asset_id,
                key.version,
                key.variant,
                key.credential,
                main_file,
                sum(item.size for item in files),
                uuid.uuid4().hex,
                now,
                now,
                _next_use(db),
            ),
        )
        db.executemany(
            "INSERT INTO files (digest, path, size, md5) VALUES (?, ?, ?, ?)",
            [(digest, item.path, item.size, item.md5) for item in files],
        )

    def _drop(self, db: sqlite3.Connection, digest: str) -> list[Path]:
        """Delete the index rows of ``digest`` and move its folder, if any, to the trash."""
        db.execute("DELETE FROM entries WHERE digest = ?", (digest,))
        folder = self._folder(digest)
        return [self._to_trash(folder)] if folder.exists() else []

    def _evict(self, db: sqlite3.Connection, keep: str) -> list[Path]:
        total = db.execute(
            "SELECT COALESCE(SUM(total_bytes), 0) FROM entries"
        ).fetchone()[0]
        rows = db.execute(
            "SELECT digest, asset_id, total_bytes FROM entries WHERE digest != ? ORDER BY use_seq",
            (keep,),
        ).fetchall()
        trash: list[Path] = []
        for digest, asset_id, size in rows:
            if total <= self.max_bytes:
                break
            log.info("asset cache: evicting asset=%s bytes=%d", asset_id, size)
            trash += self._drop(db, digest)
            total -= size
        if total > self.max_bytes:
            log.warning(
                "asset cache: the newest entry alone (%d bytes) exceeds the cap of %d bytes",
                total,
                self.max_bytes,
            )
        return trash

    def _remove_digest(self, digest: str, token: str | None = None) -> bool:
        """Delete an entry; with ``token``, only if it was not stored anew meanwhile."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT token FROM entries WHERE digest = ?", (digest,)
            ).fetchone()
            if row is None or (token is not None and row[0] != token):
                return False
            trash = self._drop(db, digest)
        self._empty_trash(trash)
        return True

    def _move_into_place(self, source: Path, target: Path) -> None:
        if source.is_file():
            target.mkdir(parents=True)
            shutil.move(source, target / source.name)
        else:
            shutil.move(source, target)

    def _to_trash(self, path: Path) -> Path:
        trash = self._tmp_dir / f"trash-{uuid.uuid4().hex[:12]}"
        if path.exists():
            os.replace(path, trash)
        return trash

    @staticmethod
    def _empty_trash(paths: list[Path]) -> None:
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _lock_for(self, digest: str) -> threading.Lock:
        with self._key_locks_guard:
            return self._key_locks.setdefault(digest, threading.Lock())

    def _remove_leftovers(self) -> None:
        """Delete trash and staging folders that an ended process left behind."""
        cutoff = time.time() - STALE_STAGING_SECONDS
        for path in self._tmp_dir.iterdir():
            stale = path.name.startswith("stage-") and path.stat().st_mtime < cutoff
            if path.name.startswith("trash-") or stale:
                self._empty_trash([path])


def _next_use(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COALESCE(MAX(use_seq), 0) + 1 FROM entries").fetchone()[0]


def _file_rows(db: sqlite3.Connection, digest: str) -> list[CachedFile]:
    rows = db.execute(
        "SELECT path, size, md5 FROM files WHERE digest = ? ORDER BY path", (digest,)
    ).fetchall()
    return [CachedFile(*row) for row in rows]


def _describe(source: Path, md5s: Mapping[str, str]) -> list[CachedFile]:
    if source.is_file():
        paths = {source.name: source}
    else:
        paths = {
            path.relative_to(source).as_posix(): path
            for path in sorted(source.rglob("*"))
            if path.is_file()
        }
    return [
        CachedFile(relative, path.stat().st_size, md5s.get(relative) or md5_of(path))
        for relative, path in paths.items()
    ]


def _find_problem(entry: CacheEntry, verify_md5: bool) -> str | None:
    """Return what is wrong with the entry's files, or None when all are sound."""
    if not entry.files:
        return "the entry has no files"
    for item in entry.files:
        path = entry.folder / item.path
        if not path.is_file():
            return f"{item.path} is missing"
        size = path.stat().st_size
        if size != item.size:
            return f"{item.path} has {size} bytes instead of {item.size}"
        if verify_md5 and md5_of(path) != item.md5:
            return f"{item.path} fails its md5 check"
    return None
