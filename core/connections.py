"""The connections each worker thread is using, so that a cancel from another thread
can wake a worker blocked before the response arrives.

A worker waiting for a server that accepted the connection but sends nothing is
blocked in a socket read that only the read timeout ends (30 s by default). requests
offers no handle on that socket, so the transport adapter's connection pools record
which thread took which connection, and ``abort_thread_connections`` shuts those
sockets down. The blocked read then returns at once with an error.
"""

from __future__ import annotations

import logging
import socket
import threading
import weakref

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger(__name__)

# Connection -> id of the thread that took it from its pool. A connection that a
# pool drops without returning it disappears from here with its last reference.
_owners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class _TrackedPool:
    """Records each connection taken from the pool until it is put back."""

    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        with _lock:
            _owners[connection] = threading.get_ident()
        return connection

    def _put_conn(self, conn):
        if conn is not None:
            with _lock:
                _owners.pop(conn, None)
        super()._put_conn(conn)


class TrackedHTTPConnectionPool(_TrackedPool, HTTPConnectionPool):
    pass


class TrackedHTTPSConnectionPool(_TrackedPool, HTTPSConnectionPool):
    pass


POOL_CLASSES = {"http": TrackedHTTPConnectionPool, "https": TrackedHTTPSConnectionPool}


def abort_thread_connections(thread_id: int) -> int:
    """Shut down the sockets of the connections thread ``thread_id`` holds, waking it
    from a blocked connect or read; returns how many were shut down. Runs on the
    cancelling thread."""
    with _lock:
        owned = [connection for connection, owner in _owners.items() if owner == thread_id]
    count = 0
    for connection in owned:
        sock = getattr(connection, "sock", None)
        if sock is None:
            continue
        try:
            sock.shutdown(socket.SHUT_RDWR)
            count += 1
        except OSError:
            pass
    if count:
        log.info("cancel shut down %d connection(s) of thread %d", count, thread_id)
    return count
