"""Builds ``grammar/mapper.lark.json`` from ``grammar/mapper.lark``: run after changing the grammar.

    python -m mapper.language.parser_build

Development only: the build needs interegular (``strict=True``), which the
runtime does not.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from lark import Lark

from mapper.language.parser_table import FORMAT, OPTIONS, dumps, grammar_digest, to_json
from mapper.language.resources import grammar_text, parser_table_path


def build_table(text: str) -> dict[str, Any]:
    """The serialised parser for grammar TEXT. ``strict=True`` proves the lexer has
    no ambiguous terminals (it needs interegular, a development dependency)."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    lark = Lark(text, strict=True, **OPTIONS)
    data, memo = _canonical(*lark.memo_serialize([TerminalDef, Rule]))
    return {
        "format": FORMAT,
        "grammar_sha256": grammar_digest(text),
        "data": to_json(data),
        "memo": to_json(memo),
    }


def _canonical(data: dict[str, Any], memo: dict[int, Any]) -> tuple[dict[str, Any], dict[int, Any]]:
    """The same parser, numbered the same way on every build.

    Lark numbers parser states, tokens and memoised rules and terminals in an
    order that varies from run to run (it walks sets). Rename them all from
    their content: memo entries in the order of their JSON text, tokens by
    name, states breadth first from the start states; keep lists that Lark
    treats as sets in that order too. The table then changes exactly when the
    grammar does, and a test can compare it byte for byte.
    """
    order = sorted(memo, key=lambda i: json.dumps(memo[i], sort_keys=True))
    new_id = {old: new for new, old in enumerate(order)}

    def renumber(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"@"}:
                return {"@": new_id[value["@"]]}
            return {k: renumber(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [renumber(v) for v in value]
        return value

    memo = {new_id[old]: memo[old] for old in order}
    data = renumber(data)
    frontend = data["parser"]
    frontend["lexer_conf"]["terminals"].sort(key=lambda ref: ref["@"])
    frontend["parser_conf"]["rules"].sort(key=lambda ref: ref["@"])
    data["rules"].sort(key=lambda ref: ref["@"])

    table = frontend["parser"]
    names: dict[int, str] = table["tokens"]
    token_id = {name: i for i, name in enumerate(sorted(names.values()))}
    states: dict[int, dict[int, Any]] = table["states"]
    state_id: dict[int, int] = {}
    queue = [table["start_states"][start] for start in sorted(table["start_states"])]
    while queue:
        state = queue.pop(0)
        if state in state_id:
            continue
        state_id[state] = len(state_id)
        for token in sorted(states[state], key=lambda t: names[t]):
            action, argument = states[state][token]
            if action == 0:  # shift: ARGUMENT is the next state
                queue.append(argument)
    table["states"] = {
        state_id[state]: {
            token_id[names[token]]: [action, state_id[argument] if action == 0 else argument]
            for token, (action, argument) in sorted(states[state].items(), key=lambda item: names[item[0]])
        }
        for state in sorted(states, key=lambda s: state_id[s])
    }
    table["tokens"] = {i: name for name, i in token_id.items()}
    table["start_states"] = {k: state_id[v] for k, v in sorted(table["start_states"].items())}
    table["end_states"] = {k: state_id[v] for k, v in sorted(table["end_states"].items())}
    return data, memo


def main() -> None:
    """Write the parse table built from the grammar next to it: ``python -m mapper.language.parser_build``."""
    parser_table_path().write_text(dumps(build_table(grammar_text())), encoding="utf-8")
    print(f"wrote {parser_table_path()}", file=sys.stderr)


if __name__ == "__main__":
    main()
