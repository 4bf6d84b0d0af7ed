"""Where the grammar and the built-in rulesets live.

The top-level ``grammar/`` and ``rulesets/`` folders are the sources of truth.
The wheel carries copies under ``mapper/_data/``; a source checkout or an
editable install reads the top-level folders directly.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

RULESET_SUFFIX = ".mapper"

_PACKAGE = Path(__file__).resolve().parent


@cache
def _data_dir(kind: str) -> Path:
    for candidate in (_PACKAGE / "_data" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mapper is installed without its {kind}/ folder")


def grammar_path() -> Path:
    return _data_dir("grammar") / "mapper.lark"


def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


def parser_table_path() -> Path:
    """The parse table generated from the grammar (see :mod:`mapper.parser_table`)."""
    return _data_dir("grammar") / "mapper.lark.json"


def builtin_path(name: str) -> Path | None:
    """The file of the built-in ruleset NAME, or None when there is none."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = _data_dir("rulesets") / f"{name}{RULESET_SUFFIX}"
    return path if path.is_file() else None


def builtin_names() -> list[str]:
    return sorted(p.stem for p in _data_dir("rulesets").glob(f"*{RULESET_SUFFIX}"))


def rulesets_in(folder: Path) -> list[Path]:
    """The ruleset files in FOLDER and its subfolders, sorted."""
    return sorted(p for p in folder.rglob(f"*{RULESET_SUFFIX}") if p.is_file())
