"""The studio policy is enforced where clients are made, not only in the UI."""

import getpass

import pytest

from meshport.core.errors import PolicyError
from meshport.platforms import registry


@pytest.fixture
def policy_for_this_user(tmp_path, monkeypatch):
    def write(role_body: str):
        path = tmp_path / "policy.toml"
        path.write_text(
            f'[users]\n"{getpass.getuser()}" = "limited"\n\n[roles.limited]\n{role_body}\n'
        )
        monkeypatch.setenv("MESHPORT_POLICY", str(path))
        return path

    return write


def test_blocked_platform_gets_no_client(policy_for_this_user, make_settings):
    policy_for_this_user('platforms = ["polyhaven", "local"]')
    with pytest.raises(PolicyError, match="sketchfab"):
        registry.create_client("sketchfab", make_settings())


def test_allowed_platform_gets_a_client(policy_for_this_user, make_settings):
    policy_for_this_user('platforms = ["polyhaven", "local"]')
    client = registry.create_client("polyhaven", make_settings())
    assert client.platform_id == "polyhaven"


def test_missing_named_policy_blocks_everything(tmp_path, monkeypatch, make_settings):
    monkeypatch.setenv("MESHPORT_POLICY", str(tmp_path / "absent.toml"))
    with pytest.raises(PolicyError, match="does not exist"):
        registry.create_client("local", make_settings())
