"""Message templates from config/, rendered in the member's language."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from config import CONFIG_DIR


@lru_cache(maxsize=4)
def load(path: Path = CONFIG_DIR / "messages.toml") -> dict[str, dict[str, str]]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def render(key: str, language: str = "en", **values) -> str:
    table = load()
    template = table.get(language, {}).get(key) or table["en"][key]
    return template.format(**values)
