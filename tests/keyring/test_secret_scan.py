"""The secret scanner finds a planted key in every form it claims to cover."""

import base64
import gzip
from urllib.parse import quote

import pytest
from secret_scan import ExpectedFileMissing, scan_for_secret, text_holds_secret

KEY = "sk-canary/7f3e+9a=Q"


def plant(tmp_path, content: bytes):
    path = tmp_path / "deep" / "folder" / "settings.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00prefix " + content + b" suffix\x00")
    return path


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda key: key.encode(), id="plain"),
        pytest.param(lambda key: key.encode("utf-16-le"), id="utf-16"),
        pytest.param(lambda key: quote(key, safe="").encode(), id="url-encoded"),
        pytest.param(lambda key: key.encode().hex().encode(), id="hex"),
        pytest.param(lambda key: base64.b64encode(key.encode()), id="base64"),
        pytest.param(lambda key: base64.urlsafe_b64encode(key.encode()), id="base64url"),
    ],
)
def test_scan_finds_planted_key(tmp_path, encode):
    path = plant(tmp_path, encode(KEY))
    findings = scan_for_secret([tmp_path], KEY)
    assert {finding.path for finding in findings} == {path}


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_scan_finds_key_inside_longer_base64(tmp_path, offset):
    document = b"x" * offset + b'{"api_key": "' + KEY.encode() + b'", "more": 1}'
    path = plant(tmp_path, base64.b64encode(document))
    assert {finding.path for finding in scan_for_secret([tmp_path], KEY)} == {path}


def test_scan_finds_key_in_gzip_file(tmp_path):
    path = plant(tmp_path, b"")
    path.write_bytes(gzip.compress(b"header " + KEY.encode()))
    assert {finding.path for finding in scan_for_secret([tmp_path], KEY)} == {path}


def test_scan_finds_key_in_multi_frame_zstd_file(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    compressor = zstandard.ZstdCompressor()
    content = b"a" * 5000 + KEY.encode() + b"b" * 5000
    path = plant(tmp_path, b"")
    path.write_bytes(compressor.compress(content[:5005]) + compressor.compress(content[5005:]))
    assert {finding.path for finding in scan_for_secret([tmp_path], KEY)} == {path}


def test_scan_of_clean_files_finds_nothing(tmp_path):
    plant(tmp_path, b"sk-canary/7f3e but not the whole key")
    assert scan_for_secret([tmp_path], KEY) == []


def test_scan_raises_when_expected_file_is_missing(tmp_path):
    plant(tmp_path, b"nothing here")
    with pytest.raises(ExpectedFileMissing, match="userpref.blend"):
        scan_for_secret([tmp_path], KEY, expected=[tmp_path / "config" / "userpref.blend"])


def test_scan_accepts_expected_files_it_read(tmp_path):
    path = plant(tmp_path, b"nothing here")
    assert scan_for_secret([tmp_path], KEY, expected=[path]) == []


def test_captured_output_check_finds_url_encoded_key():
    line = f"GET /v3/me?token={quote(KEY, safe='')} 200"
    assert "url-encoded" in text_holds_secret(line, KEY)
