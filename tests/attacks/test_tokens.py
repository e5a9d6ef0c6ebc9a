"""Token files (issue 13, item 4): written exclusively, 0600, never through a symlink; refused
when read if they are symlinks, another user's, or readable by others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hermes_agents.errors import HermesError
from hermes_agents.private_files import read_private, write_private


def test_a_written_token_is_private_and_replaces_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite me")
    token = tmp_path / "token"
    token.symlink_to(victim)  # planted by someone hoping we write through it
    write_private(token, "s3cret")
    assert victim.read_text() == "do not overwrite me"
    assert not token.is_symlink()
    assert (token.stat().st_mode & 0o777) == 0o600
    assert read_private(token) == "s3cret"


def test_a_token_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    token.chmod(0o644)
    with pytest.raises(HermesError, match="chmod 600"):
        read_private(token)


def test_a_symlinked_token_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_text("s3cret\n")
    real.chmod(0o600)
    link = tmp_path / "token"
    link.symlink_to(real)
    with pytest.raises(HermesError, match="cannot read"):
        read_private(link)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file of another user")
def test_a_token_of_another_user_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    token.chmod(0o600)
    os.chown(token, 65534, 65534)
    with pytest.raises(HermesError, match="not to you"):
        read_private(token)
