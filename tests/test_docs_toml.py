"""Every TOML block in the docs and the integration guides is a config file Hermes accepts
(prewarm adapters and their options included), so none of them drifts from the parser."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from hermes_agents.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    path
    for pattern in ("README.md", "docs/**/*.md", "integrations/*/README.md")
    for path in ROOT.glob(pattern)
    if "```toml" in path.read_text(encoding="utf-8")
)
BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)


def test_the_pages_with_toml_are_found() -> None:
    names = {str(path.relative_to(ROOT)) for path in PAGES}
    assert {"docs/configuration.md", "integrations/llamacpp/README.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_toml_block_is_a_valid_config(page: Path) -> None:
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks
    for number, block in enumerate(blocks, 1):
        data = tomllib.loads(block)
        parse_config(data, Path(f"{page.name} block {number}"))
