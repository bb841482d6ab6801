"""The command line's grammar and import sources, in process (no Blender needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from meshport.cli.arguments import UsageError, parse, split_global_flags
from meshport.cli.sources import FileSource, PlatformSource, parse_source

AVAILABLE = ("sketchfab", "polyhaven", "local")


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "search", "sketchfab", "chair"],
        ["search", "--json", "sketchfab", "chair"],
        ["search", "sketchfab", "chair", "--json"],
    ],
)
def test_json_flag_is_found_anywhere(argv):
    command_line = parse(argv)

    assert command_line.json is True
    assert command_line.arguments.query == "chair"


def test_flags_after_double_dash_are_arguments():
    rest, found = split_global_flags(["search", "sketchfab", "--", "--json"])

    assert found == set()
    assert rest == ["search", "sketchfab", "--", "--json"]


def test_search_options_become_filters():
    from meshport.cli.commands import search_filters

    command_line = parse(
        ["search", "sketchfab", "x", "--category", "music", "--category", "people", "--animated"]
    )

    assert search_filters(command_line.arguments) == {
        "categories": ["music", "people"],
        "animated": True,
    }


def test_invalid_port_is_usage_error():
    with pytest.raises(UsageError, match="not a TCP port"):
        parse(["sandbox", "--port", "70000"])


def test_source_with_platform_prefix():
    source = parse_source("sketchfab:https://sketchfab.com/3d-models/a-b", AVAILABLE)

    assert source == PlatformSource("sketchfab", "https://sketchfab.com/3d-models/a-b")


def test_existing_file_wins_over_prefix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local:box.glb").write_bytes(b"glTF")

    assert parse_source("local:box.glb", AVAILABLE) == FileSource(Path("local:box.glb"))


def test_missing_path_is_a_file_source(tmp_path):
    source = parse_source(str(tmp_path / "nowhere.glb"), AVAILABLE)

    assert source == FileSource(tmp_path / "nowhere.glb")


def test_drive_letter_is_not_a_platform():
    assert isinstance(parse_source("C:\\models\\box.glb", AVAILABLE), FileSource)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nowhere:abc", "is not a platform"),
        ("github:octo/repo", "not available"),
        ("sketchfab:", "names no asset"),
        ("https://sketchfab.com/3d-models/a-b", "without its platform"),
    ],
)
def test_invalid_source_is_usage_error(text, message):
    with pytest.raises(UsageError, match=message):
        parse_source(text, AVAILABLE)
