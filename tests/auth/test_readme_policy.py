"""The policy example in the README is a valid policy."""

import re

from meshport.core.policy import parse_policy
from support import REPO_ROOT


def test_readme_policy_example_parses():
    readme = REPO_ROOT / "README.md"
    blocks = re.findall(r"```toml\n(.*?)```", readme.read_text(), re.S)
    assert len(blocks) == 1
    policy = parse_policy(blocks[0], readme)
    assert set(policy.roles) == {"lead", "artist", "contractor"}
