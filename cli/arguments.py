"""The command line's grammar: subcommands, options and usage errors.

``--json`` and ``--offline`` may appear anywhere before a ``--``. They are taken out
of the argument list before argparse parses it, so ``meshport --json search ...`` and
``meshport search ... --json`` mean the same.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

PROGRAM = "meshport"
GLOBAL_FLAGS = ("--json", "--offline")

DESCRIPTION = """\
Search 3D-asset platforms and import models into a .blend file with Blender's own
importers, the same code the Meshport sidebar runs.

exit status: 0 success, 1 failure, 2 bad usage (including an invalid option value).
"""

IMPORT_SOURCES = """\
SOURCE is PLATFORM:ID, where ID is an asset id or a pasted model URL
(sketchfab:<uid or https://sketchfab.com/3d-models/...>, polyhaven:<asset id>,
local:<name>), or the path of a local GLB, glTF, FBX or OBJ file, of a folder or a
zip that contains one model at any depth, or of a .unitypackage file (add ::GUID to
pick one of its models). Several sources go into the same .blend file.
"""


class UsageError(Exception):
    """The command line cannot be run as written (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises ``UsageError`` instead of exiting, so the caller
    can report the error as JSON when ``--json`` was given."""

    def error(self, message: str):
        raise UsageError(f"{message}. Run '{self.prog} --help' for the usage.")


@dataclass(frozen=True)
class CommandLine:
    arguments: argparse.Namespace
    json: bool
    offline: bool


def split_global_flags(argv: list[str]) -> tuple[list[str], set[str]]:
    """Remove ``--json`` and ``--offline`` from ``argv`` wherever they stand before
    ``--``; return the rest and the flags found."""
    rest: list[str] = []
    found: set[str] = set()
    for index, token in enumerate(argv):
        if token == "--":
            rest += argv[index:]
            break
        if token in GLOBAL_FLAGS:
            found.add(token)
        else:
            rest.append(token)
    return rest, found


def parse(argv: list[str]) -> CommandLine:
    """Parse ``argv`` (without the program name). Raises ``UsageError``."""
    rest, flags = split_global_flags(argv)
    arguments = build_parser().parse_args(rest)
    if arguments.command is None:
        raise UsageError(f"a command is required. Run '{PROGRAM} --help' for the usage.")
    return CommandLine(arguments, json="--json" in flags, offline="--offline" in flags)


def build_parser() -> Parser:
    parser = Parser(
        prog=PROGRAM,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _add_search(commands)
    _add_import(commands)
    _add_sandbox(commands)
    _add_status(commands)
    return parser


def _add_global_flags(parser: argparse.ArgumentParser) -> None:
    # Listed for --help only: split_global_flags removes them before parsing.
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (accepted anywhere)"
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="forbid network access; the local platform and file imports still work "
        "(accepted anywhere)",
    )


def _add_search(commands) -> None:
    search = commands.add_parser(
        "search",
        help="search a platform and list results with their ids",
        description="Search PLATFORM for QUERY and list one page of results.",
    )
    search.add_argument("platform", metavar="PLATFORM", help=_platform_list())
    search.add_argument("query", metavar="QUERY", nargs="?", default="", help="search words")
    search.add_argument(
        "--category",
        action="append",
        dest="categories",
        metavar="SLUG",
        help="keep results in this category, e.g. furniture-home (repeatable)",
    )
    search.add_argument(
        "--license",
        action="append",
        dest="licenses",
        metavar="SLUG",
        help="keep results under this licence, e.g. cc0 or by (repeatable)",
    )
    search.add_argument(
        "--animated", action="store_true", default=None, help="keep animated models only"
    )
    search.add_argument(
        "--rigged", action="store_true", default=None, help="keep rigged models only"
    )
    search.add_argument(
        "--staff-picked", action="store_true", default=None, help="keep staff picks only"
    )
    search.add_argument("--pbr-type", metavar="TYPE", help="metalness, specular, true or false")
    search.add_argument("--min-faces", type=_count, metavar="N", help="at least N faces")
    search.add_argument("--max-faces", type=_count, metavar="N", help="at most N faces")
    search.add_argument(
        "--sort-by",
        metavar="FIELD",
        help="likeCount, viewCount or publishedAt; prefix - to reverse",
    )
    search.add_argument(
        "--author",
        action="append",
        dest="authors",
        metavar="NAME",
        help="Poly Haven: keep assets by this author (repeatable)",
    )
    search.add_argument(
        "--repo",
        metavar="OWNER/NAME",
        help="GitHub: list the model files of this repository (works without a token)",
    )
    search.add_argument(
        "--ref", metavar="REF", help="GitHub: the branch, tag or commit to list with --repo"
    )
    search.add_argument(
        "--format",
        dest="file_format",
        metavar="FORMAT",
        help="GitHub: keep files of this format (glb, gltf, fbx or obj)",
    )
    search.add_argument(
        "--count", type=_positive, default=24, metavar="N", help="results per page (default 24)"
    )
    search.add_argument(
        "--page-token", metavar="TOKEN", help="the next-page token a previous search printed"
    )


def _add_import(commands) -> None:
    importing = commands.add_parser(
        "import",
        help="download and import models into a .blend file",
        description="Import SOURCE into a new .blend file.\n\n" + IMPORT_SOURCES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importing.add_argument("sources", metavar="SOURCE", nargs="+", help="what to import")
    importing.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="FILE.blend",
        help="the .blend file to write, in an existing folder",
    )
    importing.add_argument(
        "--format",
        dest="file_format",
        metavar="FORMAT",
        help="download format, e.g. glb, gltf, fbx",
    )
    importing.add_argument(
        "--resolution", metavar="RES", help="texture resolution where offered, e.g. 1k or 2k"
    )


def _add_sandbox(commands) -> None:
    sandbox = commands.add_parser(
        "sandbox",
        help="serve a sample library in the Sketchfab and Poly Haven protocols",
        description="Serve a sample library on 127.0.0.1 in the Sketchfab v3 and Poly Haven "
        "protocols, print the variables that point Meshport at it, and log each request "
        "until interrupted (Ctrl+C).",
    )
    sandbox.add_argument(
        "--port", type=_port, default=0, metavar="N", help="TCP port (default: a free one)"
    )


def _add_status(commands) -> None:
    commands.add_parser(
        "status",
        help="show each platform's settings and health",
        description="Show each platform's base URL, where its key comes from, and the "
        "request health recorded so far.",
    )


def _platform_list() -> str:
    """Return the registered platform ids as "a, b or c"."""
    from ..platforms import registry

    ids = registry.available_platform_ids()
    return ids[0] if len(ids) == 1 else f"{', '.join(ids[:-1])} or {ids[-1]}"


def _count(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is negative; use 0 or more")
    return value


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is below 1; use 1 or more")
    return value


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a TCP port; use 0 to 65535")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
