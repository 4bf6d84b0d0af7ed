"""The semantic difference between two versions of a ruleset, as Markdown for a pull request.

Rules are matched by target: added, removed, and changed (expression,
options, or where the rule comes from, so inherited changes show); inbound
rules (app to Okta, derived ones included) by Okta attribute. Declared
extension schemas are compared attribute by attribute. Given sample profiles,
each rendered resource is compared too, as JSON Patch operations.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch
import jsonpointer

from mapper.core import jsonio
from mapper.core.plan import InboundRule, PlannedRule
from mapper.errors import ExitCode, MapperError, ProfileError
from mapper.language.unparse import rule_tail
from mapper.markup import md_code, md_text
from mapper.runtime.ruleset import Ruleset, load, loads


class ReviewError(MapperError):
    """A version that cannot be read (a missing file, an unknown git revision)."""

    exit_code = ExitCode.USAGE  # an unreadable file


def load_version(reference: str) -> Ruleset:
    """A ruleset from a file, a built-in name, or a git revision of a file (``main:rulesets/x.mapper``).

    Rulesets at a git revision resolve ``extends`` from the working tree and the
    built-ins, not from that revision.
    """
    path = Path(reference)
    if ":" in reference and not path.exists() and not reference.startswith(("/", ".")):
        revision, _, file = reference.partition(":")
        if revision.startswith("-"):
            # git would read it as an option (`--output=FILE` writes a file).
            raise ReviewError(f"{reference}: a revision cannot start with '-'")
        # git is the tool a reviewer already uses; the revision and path are data, not shell,
        # and --end-of-options keeps git from reading them as options.
        command = ["git", "show", "--end-of-options", f"{revision}:{file}"]
        try:
            shown = subprocess.run(command, capture_output=True, check=False, timeout=60)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReviewError(f"{reference}: cannot run git ({exc})") from None
        if shown.returncode != 0:
            message = shown.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ReviewError(f"{reference}: {message[-1] if message else 'git show failed'}")
        try:
            text = shown.stdout.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReviewError(f"{reference}: not UTF-8 text (byte {exc.start})") from None
        return loads(text, reference, Path(file).parent, cache=False)  # the review reads syntax
    return load(reference, cache=False)


@dataclass(frozen=True)
class RuleChange:
    """How the rule for one target differs between two versions (added, removed or changed): its text
    before and after, and where it comes from."""

    target: str
    kind: str  # "added" | "removed" | "changed"
    before: str
    after: str
    notes: tuple[str, ...] = ()


def describe_rule(rule: PlannedRule) -> str:
    """The rule after its arrow, in canonical form: expression and options."""
    if rule.node is None:
        raise ValueError("review needs the rules' syntax: load the ruleset with cache=False")
    return rule_tail(rule.node)[0]


def rule_changes(old: Ruleset, new: Ruleset) -> list[RuleChange]:
    """The rules that differ from OLD to NEW, by target path: added and changed ones in NEW's order,
    then removed ones in OLD's; a rule that moved to another ruleset counts as changed."""
    before = {r.target.path: r for r in old.plan.rules}
    after = {r.target.path: r for r in new.plan.rules}
    changes: list[RuleChange] = []
    for path, rule in after.items():
        if path not in before:
            changes.append(RuleChange(path, "added", "", describe_rule(rule), _origin_note(new, rule)))
            continue
        was = before[path]
        notes = []
        if was.origin != rule.origin:
            notes.append(f"now from {rule.origin} (was {was.origin})")
        if describe_rule(was) != describe_rule(rule) or notes:
            changes.append(
                RuleChange(
                    path,
                    "changed",
                    describe_rule(was),
                    describe_rule(rule),
                    (*notes, *_origin_note(new, rule)),
                )
            )
    for path, rule in before.items():
        if path not in after:
            changes.append(RuleChange(path, "removed", describe_rule(rule), "", _origin_note(old, rule)))
    return changes


def describe_inbound(rule: InboundRule) -> str:
    """An inbound rule after its arrow, in canonical form (a derived one as derivation wrote it)."""
    if rule.derived_from is not None:
        return rule.expression + (" on create" if rule.create_only else "")
    if rule.node is None:
        raise ValueError("review needs the rules' syntax: load the ruleset with cache=False")
    return rule_tail(rule.node)[0]


def inbound_changes(old: Ruleset, new: Ruleset) -> list[RuleChange]:
    """The inbound rules (app to Okta) that differ from OLD to NEW, by Okta attribute, derived ones
    included: what an import would set differently. A rule that turns from derived to declared
    (or back) counts as changed, with a note, even when it reads the same."""
    before = {r.attr: r for r in old.plan.inbound}
    after = {r.attr: r for r in new.plan.inbound}
    changes: list[RuleChange] = []
    for attr, rule in after.items():
        target = f"user.{attr}"
        notes = _inbound_notes(new, rule)
        if attr not in before:
            changes.append(RuleChange(target, "added", "", describe_inbound(rule), notes))
            continue
        was = before[attr]
        kind_changed = (was.derived_from is None) != (rule.derived_from is None)
        if kind_changed:
            notes = (f"now {'derived' if rule.derived_from is not None else 'declared'}", *notes)
        if describe_inbound(was) != describe_inbound(rule) or kind_changed:
            changes.append(
                RuleChange(target, "changed", describe_inbound(was), describe_inbound(rule), notes)
            )
    for attr, rule in before.items():
        if attr not in after:
            changes.append(
                RuleChange(f"user.{attr}", "removed", describe_inbound(rule), "", _inbound_notes(old, rule))
            )
    return changes


def _inbound_notes(ruleset: Ruleset, rule: InboundRule) -> tuple[str, ...]:
    if rule.derived_from is not None:
        return (f"derived from {ruleset.plan.rules[rule.derived_from].target.path}",)
    return (f"inherited from {rule.origin}",) if rule.origin != ruleset.name else ()


def _origin_note(ruleset: Ruleset, rule: PlannedRule) -> tuple[str, ...]:
    return (f"inherited from {rule.origin}",) if rule.origin != ruleset.name else ()


def schema_changes(old: Ruleset, new: Ruleset) -> list[str]:
    """Markdown list items for the extension schemas that OLD or NEW writes and not both, and for
    attributes of one written by both that were added, removed or retyped."""
    lines = []
    for urn in sorted(set(old.plan.schemas) | set(new.plan.schemas)):
        a, b = old.plan.schemas.get(urn), new.plan.schemas.get(urn)
        if a is None:
            lines.append(f"- now writes {md_code(urn)}")
        elif b is None:
            lines.append(f"- no longer writes {md_code(urn)}")
        else:
            for name in sorted(set(a.attributes) | set(b.attributes)):
                x, y = a.attributes.get(name), b.attributes.get(name)
                if x is None:
                    lines.append(f"- {md_code(urn)}: attribute {md_code(name)} added")
                elif y is None:
                    lines.append(f"- {md_code(urn)}: attribute {md_code(name)} removed")
                elif (x.type, x.multi) != (y.type, y.multi):
                    lines.append(
                        f"- {md_code(urn)}: {md_code(name)} was {x.type}{'[]' * x.multi}, is {y.type}{'[]' * y.multi}"
                    )
    return lines


def _render(ruleset: Ruleset, user: Any) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return ruleset.render(user), None
    except ProfileError as exc:
        return None, str(exc)


def export_impact(old: Ruleset, new: Ruleset, export: Path, jobs: int = 1) -> list[str]:
    """Markdown for how a whole export (JSON Lines) changes: users per SCIM attribute, with a
    few Okta ids each, and the users one version renders and the other refuses (read in JOBS
    processes: mapper.tools.impact)."""
    from mapper.tools.impact import export_impact as measure

    try:
        impact = measure(old, new, export, jobs)
    except OSError as exc:
        raise ReviewError(f"{export}: {exc.strerror or 'cannot be read'}") from None

    def shown(labels: list[Any], in_table: bool = False) -> str:
        return ", ".join(md_code(f"line {x}" if isinstance(x, int) else x, in_table=in_table) for x in labels)

    lines = [
        f"### Impact on {md_code(export.name)} ({impact.changed:,} of {impact.total:,} users change)",
        "",
    ]
    if impact.attributes:
        lines += ["| SCIM attribute | users | for example |", "|---|---|---|"]
        for attribute, users in impact.attributes.most_common():
            lines.append(
                f"| {md_code(attribute, in_table=True)} | {users:,} | {shown(impact.samples[attribute], True)} |"
            )
        lines.append("")
    for what, users in impact.refused.items():
        samples = impact.refused_samples[what]
        more = ", ..." if users > len(samples) else ""
        lines += [f"{_users(users)} {'is' if users == 1 else 'are'} {what} (for example {shown(samples)}{more}); "
                  "`mapper render` with that version on the export says why.", ""]  # fmt: skip
    if impact.unreadable:
        listed = ", ".join(map(str, impact.unreadable_lines))
        more = ", ..." if impact.unreadable > len(impact.unreadable_lines) else ""
        lines += [f"{_users(impact.unreadable)} could not be read (line {listed}{more}); "
                  "`mapper render` on the export names each reason.", ""]  # fmt: skip
    return lines


def _users(count: int) -> str:
    return f"{count:,} user" if count == 1 else f"{count:,} users"


def profile_effects(old: Ruleset, new: Ruleset, folder: Path) -> list[tuple[str, list[str]]]:
    """For each sample profile in FOLDER, how its resource changes (empty: unchanged)."""
    if not folder.is_dir():
        raise ReviewError(f"{folder}: not a folder of profiles")
    effects = []
    for path in sorted(folder.glob("*.json")):
        try:
            user = jsonio.parse(path.read_bytes(), str(path))
        except OSError as exc:
            raise ReviewError(f"{path}: {exc.strerror or 'cannot be read'}") from None
        except jsonio.JsonInputError as exc:
            raise ReviewError(str(exc)) from None
        (before, old_error), (after, new_error) = _render(old, user), _render(new, user)
        lines: list[str] = []
        if old_error or new_error:
            if old_error != new_error:
                lines.append(f"- before: {old_error or 'renders'}; after: {new_error or 'renders'}")
        else:
            assert before is not None and after is not None
            for op in jsonpatch.make_patch(before, after).patch:
                lines.append("- " + _describe_op(op, before))
        effects.append((path.name, lines))
    return effects


def _describe_op(op: dict[str, Any], before: dict[str, Any]) -> str:
    path = md_code(op["path"])
    if op["op"] == "add":
        return f"{path} added: {_json(op['value'])}"
    if op["op"] == "remove":
        was = jsonpointer.resolve_pointer(before, op["path"])
        return f"{path} removed (was {_json(was)})"
    if op["op"] == "replace":
        was = jsonpointer.resolve_pointer(before, op["path"])
        return f"{path}: {_json(was)} → {_json(op['value'])}"
    return f"{md_code(op['op'])} {md_code(str(op.get('from')))} → {path}"


def _json(value: Any) -> str:
    return md_code(json.dumps(value, ensure_ascii=False))


def _cell(text: str) -> str:
    return md_code(text, in_table=True) if text else ""


def review(old_ref: str, new_ref: str, profiles: Path | None = None, jobs: int = 1) -> str:
    """The Markdown review of the change from OLD_REF to NEW_REF."""
    return review_versions(load_version(old_ref), load_version(new_ref), old_ref, new_ref, profiles, jobs)


def review_versions(
    old: Ruleset, new: Ruleset, old_ref: str, new_ref: str, profiles: Path | None = None, jobs: int = 1
) -> str:
    """The Markdown review of two loaded versions, named OLD_REF and NEW_REF (a whole export of
    PROFILES read in JOBS processes)."""
    changes = rule_changes(old, new)
    inbound = inbound_changes(old, new)
    schemas = schema_changes(old, new)
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ("added", "removed", "changed")}
    lines = [f"## Ruleset review: {md_code(old_ref)} → {md_code(new_ref)}", ""]
    summary = ", ".join(f"{n} rule{'s' if n != 1 else ''} {kind}" for kind, n in counts.items())
    if inbound:
        summary += "; inbound: " + ", ".join(
            f"{n} {kind}"
            for kind in ("added", "removed", "changed")
            if (n := sum(c.kind == kind for c in inbound))
        )
    lines.append(f"{summary}; {len(new.rules)} rules in all.")
    if old.name != new.name:
        lines.append(f"The ruleset is renamed from {md_code(old.name)} to {md_code(new.name)}.")
    lines.append("")
    if changes:
        lines += ["| | SCIM target | before | after | notes |", "|---|---|---|---|---|"]
        marks = {"added": "added", "removed": "removed", "changed": "changed"}
        for c in changes:
            lines.append(
                f"| {marks[c.kind]} | {_cell(c.target)} | {_cell(c.before)} | {_cell(c.after)} | {md_text('; '.join(c.notes))} |"
            )
        lines.append("")
    else:
        lines += ["No rule changed.", ""]
    if inbound:
        lines += [
            "### Inbound (app to Okta)",
            "",
            "| | Okta attribute | before | after | notes |",
            "|---|---|---|---|---|",
        ]
        for c in inbound:
            lines.append(
                f"| {c.kind} | {_cell(c.target)} | {_cell(c.before)} | {_cell(c.after)} | {md_text('; '.join(c.notes))} |"
            )
        lines.append("")
    if schemas:
        lines += ["### Schemas", "", *schemas, ""]
    if profiles is not None and profiles.suffix in (".jsonl", ".ndjson"):
        lines += export_impact(old, new, profiles, jobs)
    elif profiles is not None:
        effects = profile_effects(old, new, profiles)
        changed = [e for e in effects if e[1]]
        lines += [f"### Sample users ({len(changed)} of {len(effects)} change)", ""]
        for name, ops in effects:
            if ops:
                lines += [f"**{md_text(name)}**", "", *ops, ""]
        if not changed:
            lines += ["No sample user's resource changes.", ""]
    return "\n".join(lines).rstrip() + "\n"
