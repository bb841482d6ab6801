"""The studio policy: role assignment, each check, reloading, and failing closed on
a broken file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from meshport.core import errors, policy
from meshport.core.policy import Identity

from support import REPO_ROOT

POLICY = """\
default_role = "artist"

[users]
Alice = "lead"

[groups]
contractors = "contractor"
pipeline = "lead"

[roles.lead]
allow_key_changes = true

[roles.artist]
allow_key_changes = false
platforms = ["sketchfab", "polyhaven", "local"]
licenses = ["cc0", "cc-by"]
max_download_bytes = 1_000_000

[roles.contractor]
allow_key_changes = ["github"]
platforms = ["polyhaven"]
licenses = ["CC0"]
"""

ARTIST = Identity("bob", ("staff",))
LEAD = Identity("alice", ("staff",))
CONTRACTOR = Identity("carol", ("staff", "contractors", "pipeline"))


@pytest.fixture
def studio_policy(tmp_path) -> policy.Policy:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return policy.load_policy(path)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def _invalid_message(tmp_path: Path, text: str) -> str:
    with pytest.raises(errors.PolicyError) as caught:
        policy.load_policy(_write(tmp_path, text))
    return caught.value.message


@pytest.mark.parametrize(
    ("identity", "role", "source"),
    [
        (LEAD, "lead", "user 'alice'"),
        (Identity("ALICE", ("contractors",)), "lead", "user 'ALICE'"),
        (CONTRACTOR, "contractor", "group 'contractors'"),
        (Identity("dave", ("pipeline",)), "lead", "group 'pipeline'"),
        (ARTIST, "artist", "default_role"),
    ],
)
def test_policy_assigns_role(studio_policy, identity, role, source):
    assignment = studio_policy.assignment(identity)

    assert assignment.role.name == role
    assert assignment.source == source


def test_policy_blocks_user_without_role(tmp_path):
    text = POLICY.replace('default_role = "artist"\n', "")
    without_default = policy.load_policy(_write(tmp_path, text))

    with pytest.raises(errors.PolicyError) as caught:
        policy.check_platform("polyhaven", policy=without_default, identity=ARTIST)

    assert "user 'bob'" in caught.value.message
    assert "default_role" in caught.value.message


def test_check_platform_allows_listed(studio_policy):
    policy.check_platform("sketchfab", policy=studio_policy, identity=ARTIST)


def test_check_platform_blocks_unlisted(studio_policy):
    with pytest.raises(errors.PolicyError) as caught:
        policy.check_platform("github", policy=studio_policy, identity=ARTIST)

    message = caught.value.message
    assert caught.value.kind == "policy"
    assert "blocked github" in message
    assert "role 'artist' (default_role)" in message
    assert "local, polyhaven, sketchfab" in message
    assert str(studio_policy.path) in message


def test_check_platform_role_without_list_allows_all(studio_policy):
    policy.check_platform("mixamo", policy=studio_policy, identity=LEAD)


@pytest.mark.parametrize(
    "license_name", ["CC Attribution", "cc-by", "CC-BY-4.0", "CC0 Public Domain", "cc0"]
)
def test_check_license_accepts_spellings(studio_policy, license_name):
    policy.check_license(license_name, policy=studio_policy, identity=ARTIST)


def test_check_license_blocks_unlisted(studio_policy):
    with pytest.raises(errors.PolicyError) as caught:
        policy.check_license("CC Attribution-NonCommercial", policy=studio_policy, identity=ARTIST)

    assert "'CC Attribution-NonCommercial'" in caught.value.message
    assert "cc0, cc-by" in caught.value.message


def test_check_license_blocks_unknown_license(studio_policy):
    with pytest.raises(errors.PolicyError) as caught:
        policy.check_license("", policy=studio_policy, identity=ARTIST)

    assert "unknown licence" in caught.value.message


def test_check_license_wildcard_allows_any(tmp_path):
    text = POLICY.replace('licenses = ["CC0"]', 'licenses = ["*"]')
    wildcard = policy.load_policy(_write(tmp_path, text))

    policy.check_license("Editorial", policy=wildcard, identity=CONTRACTOR)


def test_check_download_size_at_limit_passes(studio_policy):
    policy.check_download_size(1_000_000, policy=studio_policy, identity=ARTIST)


def test_check_download_size_over_limit_blocked(studio_policy):
    with pytest.raises(errors.PolicyError) as caught:
        policy.check_download_size(1_000_001, policy=studio_policy, identity=ARTIST)

    assert "1,000,001 bytes" in caught.value.message
    assert "at most 1.0 MB (1,000,000 bytes)" in caught.value.message


def test_check_download_size_unknown_passes(studio_policy):
    policy.check_download_size(None, policy=studio_policy, identity=ARTIST)


def test_download_limit_of_role(studio_policy):
    assert policy.download_limit(policy=studio_policy, identity=ARTIST) == 1_000_000
    assert policy.download_limit(policy=studio_policy, identity=LEAD) is None


def test_check_key_change_blocked_for_role(studio_policy):
    with pytest.raises(errors.PolicyError) as caught:
        policy.check_key_change("sketchfab", policy=studio_policy, identity=ARTIST)

    assert "changing the sketchfab key" in caught.value.message
    assert caught.value.platform == "sketchfab"


def test_check_key_change_platform_list(studio_policy):
    policy.check_key_change("github", policy=studio_policy, identity=CONTRACTOR)

    with pytest.raises(errors.PolicyError):
        policy.check_key_change("sketchfab", policy=studio_policy, identity=CONTRACTOR)


def test_check_key_change_allowed_for_lead(studio_policy):
    policy.check_key_change("sketchfab", policy=studio_policy, identity=LEAD)


def test_no_policy_file_restricts_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(policy, "default_policy_path", lambda: tmp_path / "absent.toml")

    assert policy.active_policy() is policy.UNRESTRICTED
    policy.check_platform("fab", identity=ARTIST)
    policy.check_download_size(10**12, identity=ARTIST)
    policy.check_key_change("sketchfab", identity=ARTIST)


def test_policy_variable_names_file(monkeypatch, tmp_path):
    monkeypatch.setenv(policy.POLICY_VARIABLE, str(_write(tmp_path, POLICY)))

    with pytest.raises(errors.PolicyError):
        policy.check_platform("github", identity=ARTIST)


def test_policy_variable_missing_file_fails_closed(monkeypatch, tmp_path):
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv(policy.POLICY_VARIABLE, str(missing))

    with pytest.raises(errors.PolicyError) as caught:
        policy.check_platform("polyhaven", identity=ARTIST)

    assert str(missing) in caught.value.message
    assert policy.POLICY_VARIABLE in caught.value.message


def test_policy_reloads_changed_file(monkeypatch, tmp_path):
    path = _write(tmp_path, POLICY)
    monkeypatch.setenv(policy.POLICY_VARIABLE, str(path))
    policy.check_platform("sketchfab", identity=ARTIST)

    path.write_text(POLICY.replace('"sketchfab", ', ""))
    os.utime(path, ns=(1, 1))

    with pytest.raises(errors.PolicyError):
        policy.check_platform("sketchfab", identity=ARTIST)


def test_malformed_toml_names_file_and_line(tmp_path):
    text = POLICY.replace("max_download_bytes = 1_000_000", "max_download_bytes = = 5")

    message = _invalid_message(tmp_path, text)

    assert str(tmp_path / "policy.toml") in message
    assert "line 17" in message
    assert "blocks platform use, downloads and key changes" in message


def test_malformed_policy_fails_closed_in_checks(monkeypatch, tmp_path):
    path = _write(tmp_path, "[roles.artist\n")
    monkeypatch.setenv(policy.POLICY_VARIABLE, str(path))

    for check, value in (
        (policy.check_platform, "local"),
        (policy.check_license, "cc0"),
        (policy.check_download_size, 1),
        (policy.check_key_change, "local"),
    ):
        with pytest.raises(errors.PolicyError) as caught:
            check(value, identity=LEAD)
        assert "line 1" in caught.value.message


@pytest.mark.parametrize(
    ("replace", "by", "line", "words"),
    [
        ('platforms = ["sketchfab"', 'platfroms = ["sketchfab"', 15, "unknown key 'platfroms'"),
        ('"polyhaven", "local"]', '"polyhaven", "lokal"]', 15, "unknown platform 'lokal'"),
        ('Alice = "lead"', 'Alice = "leed"', 4, "users.Alice must name a role"),
        ("max_download_bytes = 1_000_000", 'max_download_bytes = "1 MB"', 17, "whole number"),
        ("allow_key_changes = false", 'allow_key_changes = "no"', 14, "true, false or a list"),
        ('default_role = "artist"', 'default_role = "nobody"', 1, "undefined role 'nobody'"),
        ("[users]", 'mode = "strict"\n[users]', 3, "unknown key 'mode'"),
    ],
)
def test_invalid_policy_names_line(tmp_path, replace, by, line, words):
    message = _invalid_message(tmp_path, POLICY.replace(replace, by, 1))

    assert f"line {line}:" in message
    assert words in message


def test_default_role_below_table_is_rejected(tmp_path):
    text = POLICY.replace('default_role = "artist"\n', "") + "\n[groups.extra]\n"
    text = text.replace('pipeline = "lead"\n', 'pipeline = "lead"\ndefault_role = "artist"\n')

    message = _invalid_message(tmp_path, text)

    assert "move it above the first [table] line" in message
    assert "line 8:" in message


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("Linux", "/etc/meshport/policy.toml"),
        ("FreeBSD", "/etc/meshport/policy.toml"),
        ("Darwin", "/Library/Application Support/Meshport/policy.toml"),
    ],
)
def test_default_policy_path_per_system(system, expected):
    assert policy.default_policy_path(system) == Path(expected)


def test_default_policy_path_windows_uses_program_data(monkeypatch):
    monkeypatch.setenv("ProgramData", "D:/ProgramData")

    path = policy.default_policy_path("Windows")

    assert path == Path("D:/ProgramData") / "Meshport" / "policy.toml"


def test_current_identity_ignores_user_variable(monkeypatch):
    import pwd

    monkeypatch.setenv("USER", "alice-impostor")
    monkeypatch.setenv("LOGNAME", "alice-impostor")

    identity = policy.current_identity()

    assert identity.user == pwd.getpwuid(os.getuid()).pw_name
    assert identity.groups


def test_describe_names_role_and_file(studio_policy):
    line = policy.describe(policy=studio_policy, identity=CONTRACTOR)

    assert line == f"Studio policy {studio_policy.path}: role 'contractor' (group 'contractors')."


def test_documented_example_policy_is_valid(tmp_path):
    document = (REPO_ROOT / "docs" / "policy.md").read_text()
    example = re.search(r"```toml\n(.*?)```", document, re.DOTALL).group(1)

    documented = policy.load_policy(_write(tmp_path, example))

    assert set(documented.roles) == {"lead", "artist", "contractor", "readonly"}
    assert documented.assignment(Identity("x", ("contractors",))).role.name == "contractor"
