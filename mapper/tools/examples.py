"""Example-based tests that live beside a ruleset: ``NAME.examples.json`` next to
``NAME.mapper``, run by ``mapper test``.

The file holds ``{"ruleset": "NAME.mapper", "examples": [...]}`` (``ruleset``
is optional and relative to the file; by default the ruleset of the same
name). Each example has a ``name``, a ``user`` (an Okta profile or Users API
user) and one expectation:

- ``"resource": {...}``: what ``render(user)`` gives;
- ``"old": {...}`` with ``"operations": [...]``: the Operations of
  ``patch(old, user, style)`` (``"style"`` defaults to ``rfc``);
- ``"error": "..."``: the ProfileError message ``render(user)`` raises.

An example of the inbound direction (app to Okta) has an ``app_user`` (the app's
SCIM resource) instead of a ``user``, and one expectation:

- ``"profile": {...}``: what ``inbound(app_user)`` gives (with ``"update": true``,
  ``inbound(app_user, update=True)``: the attributes an import updates);
- ``"error": "..."``: the ResourceError message it raises.

A rule is covered when some example's expected resource (or expected
operations) has a value for its target; an inbound rule the ruleset declares,
when some example's expected profile has a value for its attribute.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonpatch
import jsonpointer

from mapper.core import jsonio
from mapper.core.plan import TargetSlot
from mapper.core.schema import CORE_USER
from mapper.core.styles import PatchStyle
from mapper.errors import Diagnostic, ExitCode, MapperError, ProfileError, RulesetError
from mapper.language.resources import RULESET_SUFFIX, files_in, rulesets_in
from mapper.runtime.ruleset import Ruleset, load
from mapper.tools.files import write_atomically

EXAMPLES_SUFFIX = ".examples.json"


class ExampleFileError(MapperError):
    """An examples file that cannot be read or has the wrong shape."""

    exit_code = ExitCode.USAGE  # an unreadable file


@dataclass
class Outcome:
    """One example's result: its name, whether it passed, and how it differed from what was expected."""

    name: str
    passed: bool
    details: list[str] = field(default_factory=list)


@dataclass
class FileReport:
    """One examples file's run: the ruleset, each example's outcome, the rules no example covers,
    and what --update wrote."""

    path: Path
    ruleset: Ruleset
    outcomes: list[Outcome]
    uncovered: list[str]
    written: list[str] = field(default_factory=list)  # expectations --update wrote

    @property
    def failed(self) -> list[Outcome]:
        """The outcomes of the examples that failed."""
        return [o for o in self.outcomes if not o.passed]


def examples_for(ruleset_path: Path) -> Path:
    """The examples file beside the ruleset RULESET_PATH: NAME.examples.json for NAME.mapper."""
    return ruleset_path.with_name(ruleset_path.name[: -len(RULESET_SUFFIX)] + EXAMPLES_SUFFIX)


def discover(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """The examples files PATHS name (files, rulesets' examples, folders searched
    recursively), and the rulesets in those folders that have no examples file."""
    found: list[Path] = []
    lonely: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(files_in(path, EXAMPLES_SUFFIX))
            lonely.extend(r for r in rulesets_in(path) if not examples_for(r).is_file())
        elif path.name.endswith(RULESET_SUFFIX):
            examples = examples_for(path)
            if not examples.is_file():
                raise ExampleFileError(f"{path}: no examples file {examples.name} beside it")
            found.append(examples)
        elif path.name.endswith(EXAMPLES_SUFFIX) and path.is_file():
            found.append(path)
        elif not path.exists():
            raise ExampleFileError(f"{path}: no such file or folder")
        else:
            raise ExampleFileError(
                f"{path}: not a ruleset ({RULESET_SUFFIX}) or examples file ({EXAMPLES_SUFFIX})"
            )
    return found, lonely


def _read(path: Path, update: bool = False) -> dict[str, Any]:
    try:
        data = jsonio.parse(path.read_bytes(), str(path))
    except OSError as exc:
        raise ExampleFileError(f"{path}: {exc.strerror or 'cannot be read'}") from None
    except jsonio.JsonInputError as exc:
        raise ExampleFileError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise ExampleFileError(f'{path}: expected an object with an "examples" array')
    for index, example in enumerate(data["examples"]):
        _check_example(path, index, example, update)
    return data


def _check_example(path: Path, index: int, example: object, update: bool = False) -> None:
    where = f"{path}: example {index + 1}"
    if not isinstance(example, dict) or not isinstance(example.get("name"), str):
        raise ExampleFileError(f'{where}: expected an object with a "name"')
    where = f"{path}: example {example['name']!r}"
    inbound = "app_user" in example
    if inbound == ("user" in example):
        raise ExampleFileError(f'{where}: give a "user" (Okta to the app) or an "app_user" (the app to Okta)')
    keys = _EXPECTATIONS[inbound]
    expectations = [k for k in keys if k in example]
    if (
        len(expectations) > 1
        or (not expectations and not update)
        or any(k in example for k in _EXPECTATIONS[not inbound] if k != "error")
    ):
        hint = "" if expectations else " (or run `mapper test --update` to write what the ruleset gives)"
        choices = ", ".join(f'"{k}"' for k in keys)
        raise ExampleFileError(f"{where}: give exactly one of {choices}{hint}")
    if not isinstance(example.get("update", False), bool):
        raise ExampleFileError(f'{where}: "update" is true or false')
    if "operations" in example and "old" not in example:
        raise ExampleFileError(f'{where}: "operations" needs an "old" user')
    if example.get("style", "rfc") not in {style.value for style in PatchStyle}:
        raise ExampleFileError(f"{where}: style must be one of rfc, no-path, whole-multivalued")


#: The expectations an example may state: of the way to the app, and of the inbound direction.
_EXPECTATIONS = {False: ("resource", "operations", "error"), True: ("profile", "error")}
_ALL_EXPECTATIONS = ("resource", "operations", "profile", "error")


def run_file(path: Path, update: bool = False, refresh: frozenset[str] = frozenset()) -> FileReport:
    """Run one examples file. Raises ExampleFileError or RulesetError for files that cannot run.

    With UPDATE, examples without an expectation (and those named in REFRESH) get the
    ruleset's current output as their expectation, and the file is rewritten.
    """
    data = _read(path, update or bool(refresh))
    ruleset_name = data.get("ruleset") or path.name[: -len(EXAMPLES_SUFFIX)] + RULESET_SUFFIX
    ruleset = load(path.parent / ruleset_name)
    written = [_write_expectation(ruleset, e) for e in data["examples"] if _wants_update(e, update, refresh)]
    if written:
        write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    outcomes = [_run(ruleset, example) for example in data["examples"]]
    covered: set[str] = set()
    for example in data["examples"]:
        covered |= _covered(ruleset, example)
    # Inherited rules are the parent's to cover, in the parent's examples; a rule this
    # ruleset overrides is its own.
    uncovered = [r.target for r in ruleset.rules if r.origin == ruleset.name and r.target not in covered]
    uncovered += [
        f"user.{r.attr}"
        for r in ruleset.plan.inbound
        if r.derived_from is None and r.origin == ruleset.name and f"user.{r.attr}" not in covered
    ]
    return FileReport(path, ruleset, outcomes, uncovered, written)


def _wants_update(example: dict[str, Any], update: bool, refresh: frozenset[str]) -> bool:
    missing = not any(k in example for k in _ALL_EXPECTATIONS)
    return (update and missing) or example["name"] in refresh


def _write_expectation(ruleset: Ruleset, example: dict[str, Any]) -> str:
    """Sets EXAMPLE's expectation to what RULESET gives now; says what was written."""
    before = {k: example.pop(k) for k in _ALL_EXPECTATIONS if k in example}
    try:
        if "app_user" in example:
            example["profile"] = ruleset.inbound(example["app_user"], update=example.get("update", False))
        elif "old" in example:
            style = example.get("style", "rfc")
            request = ruleset.patch(example["old"], example["user"], style)
            example["operations"] = request["Operations"] if request else []
        else:
            example["resource"] = ruleset.render(example["user"])
    except ProfileError as exc:
        example["error"] = str(exc)
    ((key, value),) = ((k, example[k]) for k in _ALL_EXPECTATIONS if k in example)
    changes = difference(before[key], value) if key in before else []
    what = f"{example['name']!r}: {key} " + ("written" if not before else "refreshed")
    return what + "".join(f"\n    {line}" for line in changes)


def _run(ruleset: Ruleset, example: dict[str, Any]) -> Outcome:
    name = example["name"]
    try:
        if "app_user" in example:
            actual: Any = ruleset.inbound(example["app_user"], update=example.get("update", False))
            expected = example.get("profile")
        elif "operations" in example:
            request = ruleset.patch(example["old"], example["user"], example.get("style", "rfc"))
            actual = request["Operations"] if request else []
            expected = example["operations"]
        else:
            actual = ruleset.render(example["user"])
            expected = example.get("resource")
    except ProfileError as exc:
        if "error" in example:
            if str(exc) == example["error"]:
                return Outcome(name, True)
            return Outcome(name, False, [f"expected error: {example['error']}", f"actual error:   {exc}"])
        return Outcome(name, False, [f"unexpected error: {exc}"])
    if "error" in example:
        return Outcome(name, False, [f"expected error: {example['error']}", "but it succeeded"])
    if actual == expected:
        return Outcome(name, True)
    return Outcome(name, False, difference(expected, actual))


def difference(expected: Any, actual: Any) -> list[str]:
    """What differs, one line per JSON Patch operation from EXPECTED to ACTUAL."""
    lines = []
    for op in jsonpatch.make_patch(expected, actual).patch:
        path = op["path"] or "/"
        if op["op"] == "add":
            lines.append(f"+ {path}: {json.dumps(op['value'], ensure_ascii=False)} (not expected)")
        elif op["op"] == "remove":
            was = jsonpointer.resolve_pointer(expected, op["path"])
            lines.append(f"- {path}: {json.dumps(was, ensure_ascii=False)} (expected, missing)")
        elif op["op"] == "replace":
            was = jsonpointer.resolve_pointer(expected, op["path"])
            lines.append(
                f"~ {path}: expected {json.dumps(was, ensure_ascii=False)}, got {json.dumps(op['value'], ensure_ascii=False)}"
            )
        else:  # move / copy
            lines.append(f"~ {op['op']} {op.get('from')} -> {path}")
    return lines


def slot_value(resource: dict[str, Any], slot: TargetSlot) -> Any:
    """The value a rendered resource holds at SLOT, or None."""
    container = resource if slot.urn == CORE_USER else resource.get(slot.urn, {})
    value = container.get(slot.attr) if isinstance(container, dict) else None
    if slot.entry_type is not None:
        entries = [e for e in value or () if isinstance(e, dict) and e.get("type") == slot.entry_type]
        return entries[0].get(slot.sub) if entries else None
    if slot.sub is not None:
        return value.get(slot.sub) if isinstance(value, dict) else None
    return value


def _covered(ruleset: Ruleset, example: dict[str, Any]) -> set[str]:
    covered = set()
    if isinstance(example.get("profile"), dict):
        covered |= {f"user.{k}" for k, v in example["profile"].items() if v is not None}
    if isinstance(example.get("resource"), dict):
        for rule in ruleset.plan.rules:
            if slot_value(example["resource"], rule.target) is not None:
                covered.add(rule.target.path)
    for op in example.get("operations") or ():
        if not isinstance(op, dict):
            continue
        for rule in ruleset.plan.rules:
            if _op_covers(op, rule.target):
                covered.add(rule.target.path)
    return covered


def _op_covers(op: dict[str, Any], slot: TargetSlot) -> bool:
    """Whether a PATCH operation sets, changes or removes the value at SLOT."""
    path = op.get("path")
    if path is None:  # no-path replace: keys are paths
        return isinstance(op.get("value"), dict) and slot.path in op["value"]
    if path == slot.path:
        return True
    if slot.entry_type is None or slot.sub is None:
        return False
    if path == slot.attr_path.entry.text():  # the whole entry removed: emails[type eq "work"]
        return True
    entries = op.get("value") if path == slot.attr_path.attribute.text() else None
    return isinstance(entries, list) and any(
        isinstance(e, dict) and e.get("type") == slot.entry_type and slot.sub in e for e in entries
    )


@dataclass
class RunOutcome:
    """What ``mapper test`` prints and the exit code it ends with."""

    output: str
    exit_code: ExitCode


def run(
    paths: list[Path],
    strict: bool,
    update: bool = False,
    refresh: frozenset[str] = frozenset(),
    warn: Callable[[tuple[Diagnostic, ...]], None] | None = None,
) -> RunOutcome:
    """Run every examples file PATHS name; a report for people and the exit code.

    Exit code: 2 when a file or ruleset cannot run; else 1 when an example fails or, with
    STRICT, a rule has no example or a ruleset no examples file; else 0. WARN receives
    each ruleset's warnings, once.
    """
    lines: list[str] = []
    try:
        files, lonely = discover(paths)
    except ExampleFileError as exc:
        return RunOutcome(f"mapper: {exc}\n", ExitCode.USAGE)
    if not files and not lonely:
        where = ", ".join(str(p) for p in paths)
        return RunOutcome(
            f"mapper: no rulesets and no examples files (*{EXAMPLES_SUFFIX}) in {where}: name the files "
            f"or folders that hold them (mapper test PATH...), or write NAME{EXAMPLES_SUFFIX} beside "
            "NAME.mapper (the README's mapper test)\n",
            ExitCode.USAGE,
        )
    label = "FAILED" if strict else "warning:"
    broken = failed = passed = uncovered = 0
    for ruleset_path in lonely:
        lines.append(f"{label} {ruleset_path}: no examples file ({examples_for(ruleset_path).name})")
    for path in files:
        try:
            report = run_file(path, update, refresh)
        except ExampleFileError as exc:
            lines.append(f"mapper: {exc}")
            broken += 1
            continue
        except RulesetError as exc:
            lines.extend(d.format() for d in exc.diagnostics if d.is_error)
            broken += 1
            continue
        if warn is not None:
            warn(report.ruleset.warnings)
        lines.extend(f"updated {path}: {what}" for what in report.written)
        for outcome in report.failed:
            lines.append(f"FAILED {path}: {outcome.name}")
            lines.extend(f"    {detail}" for detail in outcome.details)
        failed += len(report.failed)
        passed += len(report.outcomes) - len(report.failed)
        if report.uncovered:
            lines.append(f"{label} {path}: no example covers {', '.join(report.uncovered)}")
            uncovered += len(report.uncovered)
        status = "all passed" if not report.failed else f"{len(report.failed)} failed"
        lines.append(f"{path}: {_count(len(report.outcomes), 'example')}, {status}")
    summary = f"{_count(passed + failed, 'example')}: {passed} passed, {failed} failed"
    if uncovered:
        summary += f"; {_count(uncovered, 'rule')} without an example"
    if lonely:
        summary += f"; {_count(len(lonely), 'ruleset')} without examples"
    if broken:
        summary += f"; {_count(broken, 'file')} could not run"
    lines.append(summary)
    failing = failed or (strict and (uncovered or lonely))
    code = ExitCode.USAGE if broken else ExitCode.FAILED if failing else ExitCode.OK
    return RunOutcome("\n".join(lines) + "\n", code)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
