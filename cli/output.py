"""The command line's output: text for people, one JSON document with ``--json``.

``Console`` owns the process's real standard output and standard error. Blender and
its importers print progress to file descriptor 1 and their own tracebacks to
descriptor 2, from C and from Python. ``Console.capture_stray_output`` points both
descriptors at the log file, so the terminal gets only Meshport's own output and a
JSON document stays parseable.

Names and messages can come from servers and files, so every text line passes
through ``printable`` and cannot move the cursor, recolour the terminal or start a
line of its own. JSON output needs no such step, because ``json.dumps`` escapes
control characters and, with its default ``ensure_ascii``, every non-ASCII one.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

PROGRAM = "meshport"

# Characters a terminal acts on instead of showing: C0 and C1 controls and DEL, the
# Unicode line and paragraph separators, and the bidirectional overrides and isolates,
# which reorder the text shown after them.
_CONTROL_CODES = [
    *range(0x20),
    *range(0x7F, 0xA0),
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_SHORT_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_ESCAPES = {
    code: _SHORT_ESCAPES.get(code, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in _CONTROL_CODES
}


def printable(text: str) -> str:
    """Return ``text`` with each control character written as a Python escape
    (``\\n``, ``\\x1b``, ``\\u202e``), so it prints on one line as it is."""
    return text.translate(_ESCAPES)


class Console:
    def __init__(self, json_mode: bool = False):
        self.json_mode = json_mode
        self.stdout: TextIO = sys.stdout
        self.stderr: TextIO = sys.stderr

    def capture_stray_output(self, log_file: Path) -> None:
        """Keep private copies of standard output and standard error for Meshport,
        then send whatever else writes to descriptors 1 and 2 into ``log_file``."""
        sys.stdout.flush()
        sys.stderr.flush()
        self.stdout = _private_copy(1)
        self.stderr = _private_copy(2)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as handle:
            os.dup2(handle.fileno(), 1)
            os.dup2(handle.fileno(), 2)

    def line(self, text: str = "") -> None:
        """Print a line for people; suppressed in JSON mode."""
        if not self.json_mode:
            print(printable(text), file=self.stdout, flush=True)

    def document(self, data: dict) -> None:
        print(json.dumps(data, indent=2, default=str), file=self.stdout, flush=True)

    def json_line(self, data: dict) -> None:
        """Print one compact JSON object on its own line (a stream of events)."""
        print(json.dumps(data, default=str), file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """Print a progress or status message on standard error."""
        print(f"{PROGRAM}: {printable(text)}", file=self.stderr, flush=True)

    def error(self, kind: str, message: str, choices: list[dict] | None = None) -> None:
        """Report a failure: on standard error, and as ``{"error": ...}`` in JSON mode.

        ``choices`` are the sources the user may pick from (``source`` and ``model``
        each): one indented line each after the message, and a list in the JSON.
        """
        print(f"{PROGRAM}: error: {printable(message)}", file=self.stderr, flush=True)
        for choice in choices or ():
            line = f"  {choice['source']}  ({choice['model']})"
            print(printable(line), file=self.stderr, flush=True)
        if self.json_mode:
            error = {"kind": kind, "message": message}
            if choices:
                error["choices"] = choices
            self.document({"error": error})


def _private_copy(descriptor: int) -> TextIO:
    # Names read from tar archives may contain lone surrogates, which UTF-8 cannot encode.
    return os.fdopen(
        os.dup(descriptor), "w", buffering=1, encoding="utf-8", errors="backslashreplace"
    )


# Search results


def asset_record(asset) -> dict:
    """Return the JSON form of a ``core.models.Asset``."""
    return {
        "id": asset.asset_id,
        "ref": f"{asset.platform}:{asset.asset_id}",
        "platform": asset.platform,
        "name": asset.name,
        "author": asset.author,
        "license": asset.license,
        "license_url": asset.license_url,
        "url": asset.url,
        "download_size": asset.download_size,
        "face_count": asset.face_count,
        "animated": asset.animated,
        "formats": list(asset.formats),
        "thumbnail_url": asset.thumbnail_url,
        "version": asset.version,
    }


def search_notices(page, platform_notice: str) -> list[str]:
    """Return the notices to show with a page: the page's own (such as a listing cut
    short), then the platform's (such as Poly Haven's attribution line)."""
    return [text.strip() for text in (page.notice, platform_notice) if text and text.strip()]


def search_document(platform_id: str, query: str, page, notices: list[str]) -> dict:
    return {
        "platform": platform_id,
        "query": query,
        "results": [asset_record(asset) for asset in page.results],
        "next_page_token": page.next_page,
        "notice": " ".join(notices),
    }


def print_search(console: Console, platform_id: str, page, notices: list[str]) -> None:
    """Print the results as a table on standard output, then the notices on standard
    error, so a script reading the table does not get them."""
    if page.results:
        _print_results(console, page)
    else:
        console.line(f"No results on {platform_id}.")
    for notice in notices:
        console.note(f"note: {notice}")


def _print_results(console: Console, page) -> None:
    rows = [
        (
            printable(f"{asset.platform}:{asset.asset_id}"),
            printable(asset.name),
            printable(asset.author or "-"),
            printable(asset.license or "-"),
            human_size(asset.download_size),
            "-" if asset.face_count is None else str(asset.face_count),
        )
        for asset in page.results
    ]
    header = ("SOURCE", "NAME", "AUTHOR", "LICENCE", "SIZE", "FACES")
    for row in table([header, *rows]):
        console.line(row)
    if page.next_page:
        console.line()
        console.line(f"More results: add --page-token {shlex.quote(page.next_page)}")


def table(rows: list[tuple[str, ...]], max_width: int = 40) -> list[str]:
    """Format rows as left-aligned columns, cutting cells longer than ``max_width``
    except in the first column, which contains the value to copy."""
    cells = [[row[0], *(_cut(cell, max_width) for cell in row[1:])] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(cells[0]))]
    lines = []
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join(padded).rstrip())
    return lines


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# Import results

RESULT_LISTS = ("objects", "meshes", "armatures", "actions", "images")


def import_document(out: Path, results: list) -> dict:
    """Return the JSON form of an import run: every list merged over all sources,
    the credits lines, and each source's own record under ``imports``."""
    document: dict = {"out": str(out)}
    for name in RESULT_LISTS:
        document[name] = [item for result in results for item in getattr(result, name)]
    document["credits"] = [result.credits_line for result in results if result.credits_line]
    document["imports"] = [import_record(result) for result in results]
    return document


def import_record(result) -> dict:
    if hasattr(result, "to_dict"):
        return result.to_dict()
    record = {name: list(getattr(result, name)) for name in RESULT_LISTS}
    record.update(collection=result.collection_name, credits_line=result.credits_line)
    return record


def print_import(console: Console, result) -> None:
    asset = getattr(result, "asset", None)
    title = f'"{asset.name}" ({asset.platform})' if asset is not None else result.collection_name
    console.line(f'Imported {title} into the collection "{result.collection_name}"')
    for name in RESULT_LISTS:
        items = list(getattr(result, name))
        console.line(f"  {name + ':':11} {', '.join(items) if items else '-'}")
    if asset is not None:
        console.line(f"  {'licence:':11} {asset.license or 'not stated'}")
    if result.credits_line:
        console.line(f"  {'credits:':11} {result.credits_line}")
