"""The process-wide rate stores: one per data folder (SQLite) or studio Redis URL."""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from ..config import Settings
from .sqlite_store import SqliteRateStore

log = logging.getLogger(__name__)

RATE_DB_NAME = "ratelimit.sqlite"

# A process normally uses one data folder, so one store. Test runs create many; the
# least recently used store is closed beyond this number to release its file handles.
MAX_OPEN_STORES = 4

_stores: OrderedDict[tuple[str, str], object] = OrderedDict()
_stores_lock = threading.Lock()


def store_for(settings: Settings):
    """Return the process-wide rate store for ``settings``: Redis when a studio URL is
    set, else SQLite in ``data_dir``.

    NOTE: a store closed for exceeding ``MAX_OPEN_STORES`` fails a request that
    fetched it just before. Only a process that uses more than that many data folders
    at once can see this.
    """
    from .. import studio

    url = studio.redis_url(settings)
    key = ("redis", url) if url else ("sqlite", _resolved(str(settings.data_dir)))
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            if url:
                store = studio.RedisRateStore(studio.connect(url))
            else:
                store = SqliteRateStore(Path(settings.data_dir) / RATE_DB_NAME)
            _stores[key] = store
            while len(_stores) > MAX_OPEN_STORES:
                _stores.popitem(last=False)[1].close()
        _stores.move_to_end(key)
        return store


@functools.lru_cache(maxsize=64)
def _resolved(folder: str) -> str:
    return str(Path(folder).resolve())


def close_stores() -> None:
    """Close every rate store of this process, for example when the add-on is disabled."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
