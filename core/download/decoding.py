"""Decoding of a body the server sent with a Content-Encoding although the request
asked for identity."""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

from ..errors import DownloadError
from ..formats import MAGIC
from ..redact import redact_url
from .checks import verify_file
from .transfer import CHUNK_SIZE, Transfer, write_chunk

log = logging.getLogger(__name__)

# Decoding a body the server compressed although asked for identity stops beyond this
# many times its compressed size when the platform gave no size, against gzip bombs.
# NOTE: a guess; legitimate glTF JSON rarely compresses better than 50:1.
MAX_DECODED_RATIO = 200


def keep_decoded_or_raw(transfer: Transfer, decoded: Path) -> None:
    """Leave in ``transfer.part`` the body as the server meant it.

    By HTTP semantics the decoded bytes are the file. Some servers wrongly label a stored
    .gz file with ``Content-Encoding: gzip``, so when the decoded bytes fail the
    checks and the bytes as sent pass them, those are kept instead.
    """
    check, label = transfer.check, transfer.label
    try:
        _decode_file(transfer.part, decoded, transfer.encoding, check.size, label)
        verify_file(decoded, check, label=label, url=transfer.url)
    except DownloadError as decoded_error:
        decoded.unlink(missing_ok=True)
        verifiable = check.size is not None or check.md5 is not None
        if not (verifiable or check.kind in MAGIC or check.kind == "gltf"):
            raise  # nothing could confirm the bytes as sent either
        try:
            verify_file(transfer.part, check, label=label, url=transfer.url)
        except DownloadError:
            raise decoded_error from None
        log.warning(
            "download url=%s: kept the %s bytes as sent, because only they pass the checks",
            redact_url(transfer.url),
            transfer.encoding,
        )
        return
    os.replace(decoded, transfer.part)


def _decode_file(
    source: Path, target: Path, encoding: str, size: int | None, label: str
):
    limit = size if size is not None else source.stat().st_size * MAX_DECODED_RATIO
    decompressor = zlib.decompressobj(
        32 + zlib.MAX_WBITS
    )  # detects gzip and zlib headers
    written = 0
    with open(source, "rb") as reader, open(target, "wb") as writer:
        try:
            for block in iter(lambda: reader.read(CHUNK_SIZE), b""):
                data = decompressor.decompress(block, CHUNK_SIZE)
                while True:
                    written += len(data)
                    if written > limit:
                        raise DownloadError(
                            f"{label}: the {encoding}-encoded body decodes to more than "
                            f"{limit} bytes, more than expected. Try the download again."
                        )
                    write_chunk(writer, data, target, label)
                    if not decompressor.unconsumed_tail:
                        break
                    data = decompressor.decompress(
                        decompressor.unconsumed_tail, CHUNK_SIZE
                    )
                if decompressor.eof:
                    break
        except zlib.error as error:
            raise DownloadError(
                f"{label}: the server declared Content-Encoding {encoding}, but the body "
                f"is not valid {encoding} data ({error}). Try the download again."
            ) from error
    if not decompressor.eof:
        raise DownloadError(
            f"{label}: the {encoding}-encoded body ends early. Try the download again."
        )
