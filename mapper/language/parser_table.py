"""The LALR parser as data: built ahead of time from the grammar, loaded from JSON.

Building the strict LALR parser takes a few hundred milliseconds, so it used
to be cached as a pickle in the user's cache folder; a pickle is code, and any
file mapper reads could be planted. Now the parse table is generated once, by
the developers, into ``grammar/mapper.lark.json`` next to the grammar and
shipped with the package. At run time mapper reads that JSON (plain data: Lark
rebuilds only its own rule and terminal classes from it) and checks that it was
built from the grammar it ships; nothing executable is ever read from a file.

Regenerate after changing the grammar (a test fails until you do)::

    python -m mapper.language.parser_build
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from lark import Lark

from mapper.language.resources import grammar_path, grammar_text, parser_table_path

#: Lark's options for the mapper grammar; the table records them.
OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "lexer": "basic",
    "propagate_positions": True,
    "maybe_placeholders": False,
    "start": ["start", "statement"],
}

FORMAT = "mapper-parser-table/1"
_INT_KEYS = "#int-keys"  # JSON object keys are strings; Lark's tables are keyed by integers


def grammar_digest(text: str) -> str:
    """The SHA-256 of the grammar TEXT, in hex: what a table records of the grammar it was built from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dumps(table: dict[str, Any]) -> str:
    """TABLE as the JSON file holds it: keys sorted, no spaces, a newline at the end."""
    return json.dumps(table, sort_keys=True, separators=(",", ":")) + "\n"


@cache
def parser() -> Lark:
    """The LALR parser, loaded once per process from the parse table shipped with
    the package (data, never a pickle)."""
    return load_parser()


def load_parser() -> Lark:
    """The parser from the shipped table; refuses a table built from another grammar."""
    table = json.loads(parser_table_path().read_text(encoding="utf-8"), object_hook=_from_json)
    if table.get("format") != FORMAT or table.get("grammar_sha256") != grammar_digest(grammar_text()):
        raise RuntimeError(
            f"{parser_table_path()} was not built from {grammar_path()}; "
            "regenerate it with `python -m mapper.language.parser_build`"
        )
    try:
        loaded: Lark = Lark._load_from_dict(table["data"], table["memo"])  # type: ignore[no-untyped-call]
        return loaded
    except Exception:  # a Lark release that serialises its tables differently
        # Build the same parser from the packaged grammar, in memory: slower, never cached.
        return Lark(grammar_text(), **OPTIONS)


def to_json(value: Any) -> Any:
    """VALUE (Lark's serialised parser) as JSON data: integer-keyed dicts as marked pair lists,
    tuples as lists; a TypeError for anything else."""
    if isinstance(value, dict):
        if value and all(isinstance(k, int) for k in value):
            return {_INT_KEYS: [[k, to_json(v)] for k, v in value.items()]}
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a parser table key that is neither a string nor an integer")
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a parser table value of type {type(value).__name__}")


def _from_json(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _INT_KEYS in obj:
        return {int(k): v for k, v in obj[_INT_KEYS]}
    return obj
