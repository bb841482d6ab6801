"""The audit log: one JSON line per request in ``<data_dir>/logs/audit.jsonl``.

Each line contains the time, platform, method, URL with secrets removed, status,
duration, body size, what the cache did, the attempt number and, for a failure
without a response, the error's class name. The file rotates by size like
``logging.handlers.RotatingFileHandler`` (default 10 MiB, 5 older files kept).
"""

from __future__ import annotations

import functools
import json
import logging
import logging.handlers
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from .config import Settings
from .redact import redact_url

log = logging.getLogger(__name__)

AUDIT_FILE = Path("logs") / "audit.jsonl"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5
# Bytes read per wanted record when reading the end of the file; a line is about 250.
TAIL_BYTES_PER_RECORD = 1024


@dataclass(frozen=True)
class AuditRecord:
    """One request as the audit log stores it. ``url`` must already be redacted."""

    time: str
    platform: str
    method: str
    url: str
    status: int | None
    duration_ms: float
    bytes: int | None
    cache_hit: bool
    cache: str
    attempt: int
    error: str | None = None

    @classmethod
    def build(
        cls,
        *,
        platform: str,
        method: str,
        url: str,
        status: int | None,
        duration_s: float,
        size: int | None,
        cache: str,
        attempt: int,
        error: str | None = None,
    ) -> AuditRecord:
        return cls(
            time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            platform=platform,
            method=method.upper(),
            url=redact_url(url),
            status=status,
            duration_ms=round(duration_s * 1000, 2),
            bytes=size,
            cache_hit=cache == "hit",
            cache=cache,
            attempt=attempt,
            error=error,
        )


class AuditLog:
    """Appends ``AuditRecord`` lines to one file, rotating it by size.

    NOTE: rotation is safe between the threads of one process only. When two
    processes write the same file, a line may be lost at the moment one of them
    rotates it.
    """

    def __init__(
        self,
        path: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backup_count: int = DEFAULT_BACKUP_COUNT,
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, record: AuditRecord) -> None:
        line = json.dumps(asdict(record), separators=(",", ":"))
        entry = logging.LogRecord(__name__, logging.INFO, __file__, 0, line, None, None)
        self._handler.handle(entry)

    def close(self) -> None:
        self._handler.close()


# Beyond this many open logs (test runs use many data folders), the least recently
# used one is closed. A closed log reopens its file on the next write.
MAX_OPEN_LOGS = 4

_logs: OrderedDict[str, AuditLog] = OrderedDict()
_logs_lock = threading.Lock()


def audit_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / AUDIT_FILE


def audit_log_for(settings: Settings) -> AuditLog:
    """Return the process-wide audit log of ``settings.data_dir``."""
    path = audit_path(settings)
    key = _resolved(str(path))
    with _logs_lock:
        audit = _logs.get(key)
        if audit is None:
            audit = AuditLog(path)
            _logs[key] = audit
            while len(_logs) > MAX_OPEN_LOGS:
                _logs.popitem(last=False)[1].close()
        _logs.move_to_end(key)
        return audit


@functools.lru_cache(maxsize=64)
def _resolved(path: str) -> str:
    return str(Path(path).resolve())


def close_logs() -> None:
    with _logs_lock:
        for audit in _logs.values():
            audit.close()
        _logs.clear()


def read_recent(path: Path, limit: int) -> list[dict]:
    """Return up to ``limit`` of the newest records, oldest first, reading the rotated
    files (``audit.jsonl.1`` and so on) when the current one contains fewer."""
    records: list[dict] = []
    index = 0
    while len(records) < limit:
        candidate = path if index == 0 else Path(f"{path}.{index}")
        if not candidate.exists():
            break
        records = _read_tail(candidate, limit - len(records)) + records
        index += 1
    return records[-limit:]


def _read_tail(path: Path, limit: int) -> list[dict]:
    """Parse the last ``limit`` lines of ``path`` without reading all of it."""
    size = path.stat().st_size
    window = limit * TAIL_BYTES_PER_RECORD
    while True:
        start = max(0, size - window)
        with path.open("rb") as stream:
            stream.seek(start)
            lines = stream.read(size - start).splitlines()
        if start > 0:
            lines = lines[1:]  # the first line was cut by the seek
        if len(lines) >= limit or start == 0:
            break
        window *= 2
    records = []
    for line in lines[-limit:]:
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.debug("skipping a damaged audit line in %s", path)
    return records
