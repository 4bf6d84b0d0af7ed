"""What the playground page asks of mapper, without HTTP: check a ruleset as typed (its
diagnostics, its tokens for highlighting, the explain table), render a profile, the PATCH
between two, which rule produced each value, the profiles of an export, and save.

Every answer is plain JSON data built by the same functions as the commands: the
diagnostics are ``mapper check``'s, the highlighting comes from the language's own lexer,
the table from ``mapper explain``, the PATCH from ``Ruleset.patch``. Bounded as the command
line is: a ruleset of at most the loader's size, profiles of at most one record's size.
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapper.core import jsonio
from mapper.core.styles import PatchStyle
from mapper.errors import Diagnostic, MapperError, ProfileError, RulesetError, Severity
from mapper.language.resources import MAX_FILE_BYTES, RULESET_SUFFIX, builtin_path
from mapper.runtime.patch import touched
from mapper.runtime.ruleset import Ruleset, loads

#: The most profiles an export may hold for the picker (a bigger one: the first ones).
MAX_PROFILES = 100_000
#: The most compiled rulesets kept, by text: typing goes back and forth.
_CACHE_SIZE = 16


class SaveRefused(MapperError):
    """A save the playground will not make: the ruleset does not check clean, or the place is wrong."""


@dataclass
class Playground:
    """One playground: the ruleset it was opened on (a file, or a built-in saved elsewhere),
    and the profiles it can pick from."""

    text: str
    path: Path | None  # the file Save writes; None for a built-in (Save asks for a new name)
    name: str  # shown, and used in diagnostics
    base_dir: Path | None
    profiles: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (id, login, user)
    _compiled: OrderedDict[str, Ruleset | RulesetError] = field(default_factory=OrderedDict)
    _checked: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)

    @classmethod
    def open(cls, ruleset: str | None, profiles: list[tuple[str, dict[str, Any]]]) -> Playground:
        """The playground for RULESET (a file, a built-in name, or None: okta-default) and PROFILES
        ((where, document) pairs from an export)."""
        reference = ruleset or "okta-default"
        path = Path(reference)
        builtin = None if path.suffix == RULESET_SUFFIX or path.exists() else builtin_path(reference)
        if builtin is not None:  # edited here, saved as a new file here: `extends` looks here too
            text = builtin.read_text(encoding="utf-8")
            playground = cls(text, None, f"{builtin.stem} (built-in, unsaved)", Path.cwd())
        else:
            from mapper.language.resources import read_ruleset_file

            text = read_ruleset_file(path)
            playground = cls(text, path, str(path), path.parent)
        for where, user in profiles[:MAX_PROFILES]:
            playground.profiles.append(_entry(where, user))
        return playground

    # -- checking ---------------------------------------------------------------------------

    def _key(self, text: str) -> str:
        """What a compiled answer depends on: TEXT, and the ruleset files beside it (a parent it
        extends may change on disk while the page is open)."""
        folder = self.base_dir
        files = sorted(folder.glob(f"*{RULESET_SUFFIX}")) if folder is not None and folder.is_dir() else []
        stamps = []
        for path in files[:1000]:
            try:
                stat = path.stat()
            except OSError:
                continue
            stamps.append(f"{path.name}:{stat.st_mtime_ns}:{stat.st_size}")
        return "\n".join(stamps) + "\0" + text

    def compile(self, text: str) -> Ruleset | RulesetError:
        """TEXT compiled (with its syntax, for explain), or the RulesetError it raises; kept for
        the next call with the same text and the same files beside it."""
        key = self._key(text)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        try:
            result: Ruleset | RulesetError = loads(text, self.name, self.base_dir, cache=False)
        except RulesetError as exc:
            result = exc
        self._compiled[key] = result
        while len(self._compiled) > _CACHE_SIZE:
            self._compiled.popitem(last=False)
        return result

    def check(self, text: str) -> dict[str, Any]:
        """TEXT's diagnostics (as ``mapper check`` words them), its tokens for highlighting, and,
        when it checks, the explain table and diagram."""
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            return {"diagnostics": [_too_large()], "tokens": [], "ok": False}
        key = self._key(text)
        if key in self._checked:  # typing back and forth, and every page load
            self._checked.move_to_end(key)
            self.compile(text)  # kept beside it: the render that follows needs it
            return self._checked[key]
        answer = self._check(text)
        self._checked[key] = answer
        while len(self._checked) > _CACHE_SIZE:
            self._checked.popitem(last=False)
        return answer

    def _check(self, text: str) -> dict[str, Any]:
        result = self.compile(text)
        diagnostics = result.diagnostics if isinstance(result, RulesetError) else result.warnings
        answer: dict[str, Any] = {
            "diagnostics": [_diagnostic(d) for d in diagnostics],
            "tokens": tokens(text),
            "ok": not isinstance(result, RulesetError),
        }
        if isinstance(result, Ruleset):
            from mapper.tools.explain import mermaid, rows

            answer["explain"] = [list(row.cells()) for row in rows(result)]
            answer["mermaid"] = mermaid(result)
        return answer

    # -- rendering --------------------------------------------------------------------------

    def render(self, text: str, profile: str, other: str | None, style: str) -> dict[str, Any]:
        """The resource PROFILE (JSON text) renders to, which rule produced each value, and with
        OTHER (a second profile), the PATCH from PROFILE to OTHER in STYLE and what it touches."""
        result = self.compile(text)
        if isinstance(result, RulesetError):
            return {"error": "the ruleset has errors: see them in the editor"}
        answer: dict[str, Any] = {}
        user, problem = _profile(profile)
        if problem:
            return {"error": problem}
        try:
            resource = result.render(user)
        except ProfileError as exc:
            return {"error": str(exc)}
        answer["resource"] = resource
        answer["provenance"] = provenance(result, resource)
        if other is not None and other.strip():
            new, problem = _profile(other)
            if problem:
                answer["patch_error"] = f"second profile: {problem}"
                return answer
            answer.update(_patch(result, user, new, style, resource))
        return answer

    # -- profiles ---------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[dict[str, str]]:
        """The profiles whose id or login holds QUERY (case-insensitive), at most LIMIT."""
        wanted = query.casefold()
        found = []
        for index, (okta_id, login, _) in enumerate(self.profiles):
            if wanted in okta_id.casefold() or wanted in login.casefold():
                found.append({"index": str(index), "id": okta_id, "login": login})
                if len(found) >= limit:
                    break
        return found

    def profile(self, index: int) -> dict[str, Any]:
        """The profile at INDEX of the export, as it was read."""
        return self.profiles[index][2]

    # -- saving -----------------------------------------------------------------------------

    def save(self, text: str, new_name: str | None = None) -> dict[str, Any]:
        """TEXT formatted (``mapper fmt``) into the file the playground was opened on, all at once,
        only when it checks clean; a built-in is saved as NEW_NAME (a new ``.mapper`` file in the
        folder mapper serve runs in), never over the package's copy."""
        from mapper.language.unparse import format_text
        from mapper.tools.files import write_atomically

        result = self.compile(text)
        if isinstance(result, RulesetError):
            raise SaveRefused(f"not saved: the ruleset has {len(result.errors)} error(s)")
        formatted, _ = format_text(text, self.name)
        assert formatted is not None  # it checked clean, so it parses
        if self.path is None:
            target = _new_file(new_name)
            _create(target, formatted)
            self.path, self.name = target, target.name
        else:
            write_atomically(self.path, formatted)
        self.text = formatted
        return {"saved": str(self.path), "text": formatted}


_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}\.mapper")


def _new_file(name: str | None) -> Path:
    """The new ruleset file a built-in is saved as: a plain file name (letters, digits, ``_``,
    ``-`` and ``.``, at most 100 characters) ending in .mapper, in the current folder."""
    if not name or not _FILE_NAME.fullmatch(name):
        raise SaveRefused(
            f"a built-in ruleset is saved as a new file: name it NAME{RULESET_SUFFIX} (letters, digits, _ - .; "
            "no folder)"
        )
    target = Path.cwd() / name
    if target.is_symlink() or target.exists():
        raise SaveRefused(f"not saved: {name} exists already (saving never replaces another file)")
    return target


def _create(target: Path, text: str) -> None:
    """TEXT as the new file TARGET, all at once, never over anything there: written beside it,
    then linked in (a link fails on any name that exists, a dangling symbolic link included)."""
    import os
    import tempfile

    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".mapper-serve-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise SaveRefused(
                f"not saved: {target.name} exists already (saving never replaces another file)"
            ) from None
    finally:
        os.unlink(temporary)


def _entry(where: str, user: object) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(user, dict):
        return where, "", {}
    inner = user.get("profile")
    profile: dict[str, Any] = inner if isinstance(inner, dict) else user
    okta_id, login = user.get("id"), profile.get("login")
    return (
        okta_id if isinstance(okta_id, str) else where,
        login if isinstance(login, str) else "",
        user,
    )


def _profile(text: str) -> tuple[Any, str]:
    """The profile JSON TEXT holds, or why it cannot be read (jsonio's words, no value)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > jsonio.MAX_RECORD_BYTES:
        return None, "the profile is larger than a record may be"
    try:
        return jsonio.parse(data, "profile"), ""
    except jsonio.JsonInputError as exc:
        return None, str(exc)


def _patch(ruleset: Ruleset, old: Any, new: Any, style: str, current: dict[str, Any]) -> dict[str, Any]:
    try:
        if style == "put":
            body = ruleset.put({**current, "id": "app-id"}, new)
            return {"patch": {"method": "PUT", "body": body}, "touched": []}
        message = ruleset.patch(old, new, PatchStyle(style))
    except ProfileError as exc:
        return {"patch_error": f"second profile: {exc}"}
    except ValueError:
        return {"patch_error": f"unknown style {style!r}"}
    if message is None:
        return {"patch": None, "touched": []}
    return {"patch": {"method": "PATCH", "body": message}, "touched": sorted(touched(message))}


def provenance(ruleset: Ruleset, resource: dict[str, Any]) -> list[dict[str, Any]]:
    """For each value of RESOURCE a rule wrote: the SCIM path, the value and the rule (its text
    and line)."""
    from mapper.tools.examples import slot_value

    out = []
    for rule in ruleset.plan.rules:
        value = slot_value(resource, rule.target)
        if value is not None:
            out.append(
                {"path": rule.target.path, "value": value, "rule": rule.text, "line": rule.span.line,
                 "file": rule.span.file}
            )  # fmt: skip
    return out


def _diagnostic(d: Diagnostic) -> dict[str, Any]:
    span = d.span
    return {
        "severity": d.severity.value,
        "message": d.message,
        "hint": d.hint or "",
        "file": span.file if span else None,
        "line": span.line if span else None,
        "col": span.col if span else None,
        "end_line": span.end_line if span else None,
        "end_col": span.end_col if span else None,
        "text": d.format(),
    }


def _too_large() -> dict[str, Any]:
    message = f"the ruleset is larger than {MAX_FILE_BYTES:,} bytes"
    return {"severity": Severity.ERROR.value, "message": message, "hint": "", "file": None, "line": None,
            "col": None, "end_line": None, "end_col": None, "text": message}  # fmt: skip


#: The language's terminals, by the class the page colours them with.
_KINDS = {
    "COMMENT": "comment", "STRING": "string", "NUMBER": "number", "URN": "schema", "APP_PATH": "app",
    "NAME": "name", "_ARROW": "arrow", "MULTI": "punct",
}  # fmt: skip


def tokens(text: str) -> list[list[Any]]:
    """TEXT's tokens as the language's own lexer reads them: [line, column, length, kind] (a
    keyword's kind is "keyword", an operator's "operator"); lexing stops at the first
    character no token starts with, and the rest is shown plain."""
    from lark.exceptions import UnexpectedCharacters

    from mapper.language.parser_table import parser

    out: list[list[Any]] = []
    try:
        for tok in parser().lex(text, dont_ignore=True):
            if tok.type in ("WS", "NEWLINE"):
                continue
            kind = _KINDS.get(tok.type)
            if kind is None:
                kind = "keyword" if str(tok).isalpha() else "operator"
            out.append([tok.line, tok.column, len(tok), kind])
    except UnexpectedCharacters:
        pass
    return out


def read_profiles(names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The users of an export (JSON Lines, a JSON array, or a folder of JSON files) for the picker,
    with where each was read; records that are not objects are left out."""
    from mapper.tools.bulk import block_records, blocks, expand

    found: list[tuple[str, dict[str, Any]]] = []
    for name in expand(names):
        with open(name, "rb") as stream:
            for block in blocks(name, stream, name.endswith((".jsonl", ".ndjson"))):
                for record in block_records(block):
                    try:
                        document = record.parse()
                    except jsonio.JsonInputError:
                        continue
                    members = document if isinstance(document, list) else [document]
                    found.extend(
                        (f"{record.source}:{record.line}", m) for m in members if isinstance(m, dict)
                    )
                    if len(found) >= MAX_PROFILES:
                        return found
    return found


def _finite(value: Any) -> bool:
    """Whether VALUE holds no infinite number (1e400 reads as one), which JSON cannot carry back."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def dumps(data: Any) -> bytes:
    """DATA as the JSON the page reads (non-ASCII kept, no NaN)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
