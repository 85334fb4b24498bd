"""The policy file: sections or the contract's flat names; unknown keys refused; hash = version."""
from __future__ import annotations

from pathlib import Path

import pytest

from processor.domain.policy import Policy, PolicyError, load_policy


def test_default_file_is_the_default_policy() -> None:
    assert load_policy() == Policy()
    assert load_policy().version == Policy().version


@pytest.mark.parametrize("text", ["promise_tolerance_days = 10\n", "[promises]\ntolerance_days = 10\n",
                                  "[promises]\npromise_tolerance_days = 10\n"])
def test_tolerance_can_be_set_by_either_name(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    policy = load_policy(path)
    assert policy.promise_tolerance_days == 10
    assert policy.version != Policy().version


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[promises]\ntolerence_days = 10\n")
    with pytest.raises(PolicyError, match="tolerence_days"):
        load_policy(path)
