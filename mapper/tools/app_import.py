"""``mapper import users``: what Okta's "Import New Users and Profile Updates" would do.

The app's users (SCIM resources, from files or listed from the app) go through the
ruleset's inbound rules (:meth:`~mapper.runtime.ruleset.Ruleset.inbound`); each is then
matched to the Okta users of an export by Okta's import matching rules and given an
outcome, as Okta's import page would propose it:

- ``new``: no Okta user matches; Okta would create one with every inbound rule's value;
- ``cannot-create``: new, but without a value Okta requires of a new user;
- ``update`` / ``unchanged``: one Okta user matches (or an assignment links it); the PUSH
  rules' values that differ from it are the profile update (``on create`` rules, DONT_PUSH,
  are left out); ``cannot-update``: the update would clear a value Okta requires;
- ``conflict``: several Okta users match the app user, or several app users one Okta user,
  or a new or changed username is another's (Okta's login is unique): an admin resolves it
  by hand in Okta;
- ``skipped``: the app user is inactive, which Okta does not import;
- ``failed``: the record could not be read or mapped.

Matching is exact and case-sensitive, as Okta's: every ``--match`` condition must hold
(``username-or-email`` is one condition). With the app's assignments (Okta's app users),
the report says whether the import safeguard would stop the import. Nothing is sent to
Okta: the outputs are the report, and the Users API bodies or CSV import file of the users
Okta would create.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mapper.core.app_values import bad_value
from mapper.core.plan import InboundRule
from mapper.errors import ProfileError, UsageError
from mapper.runtime.ruleset import Ruleset

#: What Okta requires of a user it creates (its CSV import template's required columns).
OKTA_REQUIRED = ("login", "firstName", "lastName", "email")

#: Okta's default import safeguard: a share of the app's assignments, above a number of them.
SAFEGUARD_PERCENT = 20.0
SAFEGUARD_MIN_ASSIGNMENTS = 100


class Outcome(StrEnum):
    """What Okta's import would do with one app user."""

    NEW = "new"
    CANNOT_CREATE = "cannot-create"
    UPDATE = "update"
    CANNOT_UPDATE = "cannot-update"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    SKIPPED = "skipped"
    FAILED = "failed"


class MatchBy(StrEnum):
    """Okta's import matching rules that are not an attribute of the user's choice."""

    USERNAME = "username"  # the Okta username format: the inbound rule for user.login
    EMAIL = "email"
    USERNAME_OR_EMAIL = "username-or-email"


@dataclass(frozen=True)
class AppUser:
    """One app user as read: where it came from, its id in the app, and the resource (None
    when the record could not be read: PROBLEM says why)."""

    source: str  # file:line, or the app's URL
    app_id: str | None
    resource: dict[str, Any] | None
    problem: str = ""


@dataclass(frozen=True)
class Change:
    """One attribute an import would update: the Okta user's value and the app's."""

    attribute: str
    old: Any
    new: Any


@dataclass
class Decision:
    """One app user's outcome, with what it rests on."""

    user: AppUser
    outcome: Outcome
    profile: dict[str, Any] = field(default_factory=dict)  # the inbound profile, nulls dropped
    okta_ids: list[str] = field(default_factory=list)  # the Okta users it matches
    changes: list[Change] = field(default_factory=list)
    reason: str = ""  # for failed, skipped, conflict and cannot-create: why (never a value)


@dataclass(frozen=True)
class Safeguard:
    """Okta's import safeguard, as the app's assignments let mapper work it out."""

    assignments: int
    unassignments: int  # assigned Okta users the import no longer finds, or finds inactive
    percent: float
    minimum: int

    @property
    def share(self) -> float:
        """The unassignments as a percentage of the assignments."""
        return 100.0 * self.unassignments / self.assignments if self.assignments else 0.0

    @property
    def stops(self) -> bool:
        """Whether the safeguard would stop the import (Okta applies it from MINIMUM assignments)."""
        return self.assignments >= self.minimum and self.share > self.percent


@dataclass
class Report:
    """Every app user's decision, and what holds for the whole import."""

    decisions: list[Decision]
    match: tuple[str, ...]
    safeguard: Safeguard | None = None
    notes: list[str] = field(default_factory=list)  # about the whole import (a listing that changed...)

    def count(self, outcome: Outcome) -> int:
        """How many app users have OUTCOME."""
        return sum(1 for d in self.decisions if d.outcome is outcome)


# -- matching -------------------------------------------------------------------------------


def match_conditions(values: Iterable[str], ruleset: Ruleset) -> tuple[str, ...]:
    """The --match conditions, checked against what the ruleset's inbound rules set: each a
    MatchBy name or an Okta attribute; a UsageError names what cannot work."""
    conditions = tuple(dict.fromkeys(values)) or (MatchBy.USERNAME.value,)
    attributes = {r.attr for r in ruleset.plan.inbound}
    for condition in conditions:
        needed = {"username": ["login"], "email": ["email"], "username-or-email": ["login", "email"]}.get(
            condition, [condition]
        )
        for name in needed:
            if name not in attributes:
                hint = (
                    " (Okta builds the username from the app's username format: add `user.login <- "
                    "appuser.userName`, or what the app's setting says)"
                    if name == "login"
                    else ""
                )
                raise UsageError(
                    f"import users: --match {condition}: the ruleset has no inbound rule for user.{name}{hint}"
                )
    return conditions


def _okta_value(value: Any) -> Any:
    """An Okta profile value as matching and comparing see it: "" and [] are no value."""
    return None if value == "" or value == [] else value


def _key(value: Any) -> str | None:
    """A value as a dictionary key for exact matching (JSON text keeps 1 and "1" apart)."""
    value = _okta_value(value)
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


class OktaIndex:
    """The Okta users of an export, by the values of the attributes matching reads."""

    def __init__(self, users: Iterable[dict[str, Any]], attributes: Iterable[str]) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.by: dict[str, dict[str, set[str]]] = {name: {} for name in attributes}
        for user in users:
            okta_id, profile = user["id"], user["profile"]
            self.users[okta_id] = profile
            for name, index in self.by.items():
                key = _key(profile.get(name))
                if key is not None:
                    index.setdefault(key, set()).add(okta_id)

    def find(self, profile: dict[str, Any], conditions: tuple[str, ...]) -> set[str]:
        """The Okta users that PROFILE (an inbound profile) matches under every condition."""
        found: set[str] | None = None
        for condition in conditions:
            if condition == MatchBy.USERNAME_OR_EMAIL:
                hits = self._hits("login", profile) | self._hits("email", profile)
            else:
                name = {"username": "login", "email": "email"}.get(condition, condition)
                hits = self._hits(name, profile)
            found = hits if found is None else found & hits
            if not found:
                return set()
        return found or set()

    def _hits(self, name: str, profile: dict[str, Any]) -> set[str]:
        key = _key(profile.get(name))
        return set(self.by[name].get(key, ())) if key is not None else set()


def _attributes(conditions: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for condition in conditions:
        names.update({"username": ["login"], "email": ["email"], "username-or-email": ["login", "email"]}
                     .get(condition, [condition]))  # fmt: skip
    return names


# -- deciding -------------------------------------------------------------------------------


def decide(
    ruleset: Ruleset,
    app_users: Iterable[AppUser],
    okta_users: Iterable[dict[str, Any]] | None,
    conditions: tuple[str, ...],
    assignments: Iterable[dict[str, Any]] = (),
) -> Report:
    """Each app user's outcome: mapped by RULESET's inbound rules, matched to OKTA_USERS (an
    export's Users API objects, each with ``id`` and ``profile``; None: Okta has no users to
    match, every app user is new) under CONDITIONS. An app user an assignment already links to
    an Okta user (ASSIGNMENTS: Okta's app users) is that user's, as Okta keeps the link; the
    matching rules find the others."""
    index = OktaIndex(okta_users or (), _attributes(conditions) | {"login"})
    links = Links(assignments)
    push = [r for r in ruleset.plan.inbound if not r.create_only]
    decisions: list[Decision] = []
    seen: dict[str, AppUser] = {}  # app id -> where it was first read
    for user in app_users:
        first = seen.get(user.app_id) if user.app_id is not None else None
        if first is not None:
            reason = f"the app id {user.app_id} is read twice (first at {first.source})"
            decisions.append(Decision(user, Outcome.FAILED, reason=reason))
            continue
        if user.app_id is not None:
            seen[user.app_id] = user
        decisions.append(_decide_one(ruleset, user, index, conditions, push, links))
    _conflicts(decisions, index)
    return Report(decisions, conditions)


class Links:
    """The links assignments hold: an app user's id (``externalId``) or user name
    (``credentials.userName``) to the Okta user assigned it."""

    def __init__(self, assignments: Iterable[dict[str, Any]]) -> None:
        self.by_id: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        for assignment in assignments:
            okta_id = assignment.get("id")
            if not isinstance(okta_id, str):
                continue
            external = assignment.get("externalId")
            credentials = assignment.get("credentials")
            name = credentials.get("userName") if isinstance(credentials, dict) else None
            if isinstance(external, str) and external:
                self.by_id.setdefault(external, okta_id)
            elif isinstance(name, str) and name:
                self.by_name.setdefault(name, okta_id)

    def okta_id(self, user: AppUser) -> str | None:
        """The Okta user an assignment links USER to, if any."""
        if user.app_id is not None and user.app_id in self.by_id:
            return self.by_id[user.app_id]
        name = (user.resource or {}).get("userName")
        return self.by_name.get(name) if isinstance(name, str) else None


def _decide_one(
    ruleset: Ruleset,
    user: AppUser,
    index: OktaIndex,
    conditions: tuple[str, ...],
    push: list[InboundRule],
    links: Links,
) -> Decision:
    if user.resource is None:
        return Decision(user, Outcome.FAILED, reason=user.problem)
    try:
        mapped = ruleset.inbound(user.resource)
    except ProfileError as exc:
        return Decision(user, Outcome.FAILED, reason=str(exc))
    profile = {k: v for k, v in mapped.items() if v is not None}
    active = user.resource.get("active")
    if active is not None and active.__class__ is not bool:
        return Decision(user, Outcome.FAILED, reason=str(bad_value("active", "a boolean", active)))
    if active is False:
        return Decision(user, Outcome.SKIPPED, profile, reason="inactive in the app: Okta does not import it")
    linked = links.okta_id(user)
    if linked is not None and linked not in index.users:
        reason = f"linked to Okta user {linked} by its assignment, which the Okta export does not hold"
        return Decision(user, Outcome.CONFLICT, profile, [linked], reason=reason)
    found = [linked] if linked is not None else sorted(index.find(profile, conditions))
    if len(found) > 1:
        return Decision(user, Outcome.CONFLICT, profile, found, reason=f"{len(found)} Okta users match it")
    if not found:
        missing = [name for name in OKTA_REQUIRED if name not in profile]
        if missing:
            reason = "no value for " + ", ".join(f"user.{m}" for m in missing) + ", which Okta requires"
            return Decision(user, Outcome.CANNOT_CREATE, profile, reason=reason)
        return Decision(user, Outcome.NEW, profile)
    okta_profile = index.users[found[0]]
    changes = [
        Change(rule.attr, _okta_value(okta_profile.get(rule.attr)), mapped[rule.attr])
        for rule in push
        if _okta_value(okta_profile.get(rule.attr)) != _okta_value(mapped[rule.attr])
    ]
    cleared = [c.attribute for c in changes if c.attribute in OKTA_REQUIRED and c.new is None]
    if cleared:
        reason = "would clear " + ", ".join(f"user.{c}" for c in cleared) + ", which Okta requires"
        return Decision(user, Outcome.CANNOT_UPDATE, profile, found, changes, reason)
    return Decision(user, Outcome.UPDATE if changes else Outcome.UNCHANGED, profile, found, changes)


def _conflicts(decisions: list[Decision], index: OktaIndex) -> None:
    """What Okta's import flags across users: one Okta user matched by several app users, and a
    username (Okta's login is unique) that a new or updated user would share with another."""
    claimed: dict[str, list[Decision]] = {}
    for decision in decisions:
        if decision.outcome in (Outcome.UPDATE, Outcome.UNCHANGED, Outcome.CANNOT_UPDATE):
            claimed.setdefault(decision.okta_ids[0], []).append(decision)
    for okta_id, rivals in claimed.items():
        if len(rivals) > 1:  # one Okta user, several app users: Okta asks an admin
            for decision in rivals:
                decision.outcome, decision.changes = Outcome.CONFLICT, []
                decision.reason = f"{len(rivals)} app users match Okta user {okta_id}"
    logins: dict[str, list[Decision]] = {}
    for decision in decisions:
        login = decision.profile.get("login")
        becomes = decision.outcome is Outcome.NEW or (
            decision.outcome is Outcome.UPDATE and any(c.attribute == "login" for c in decision.changes)
        )
        if not becomes or not isinstance(login, str):
            continue
        holders = index.by["login"].get(_key(login) or "", set()) - set(decision.okta_ids)
        if holders:
            decision.outcome, decision.changes = Outcome.CONFLICT, []
            decision.reason = f"its username is Okta user {sorted(holders)[0]}'s (conflicts: login)"
            continue
        logins.setdefault(login, []).append(decision)
    for rivals in logins.values():
        if len(rivals) > 1:
            for decision in rivals:
                decision.outcome, decision.changes = Outcome.CONFLICT, []
                decision.reason = f"{len(rivals)} app users would have one username (conflicts: login)"


def safeguard(
    report: Report, assignments: Iterable[dict[str, Any]], percent: float, minimum: int
) -> Safeguard:
    """Okta's import safeguard for REPORT: an assignment (an Okta app user) whose app account the
    import no longer lists, or lists inactive, is an unassignment. An app user is found by the
    assignment's ``externalId`` (the app's id), else by its ``credentials.userName``."""
    by_id = {d.user.app_id: d for d in report.decisions if d.user.app_id is not None}
    by_name = {}
    for decision in report.decisions:
        name = (decision.user.resource or {}).get("userName")
        if isinstance(name, str):
            by_name[name] = decision
    total = unassigned = 0
    for assignment in assignments:
        total += 1
        external = assignment.get("externalId")
        credentials = assignment.get("credentials")
        name = credentials.get("userName") if isinstance(credentials, dict) else None
        found = by_id.get(external) if isinstance(external, str) and external else None
        if found is None and isinstance(name, str):
            found = by_name.get(name)
        if found is None or found.outcome is Outcome.SKIPPED:
            unassigned += 1
    return Safeguard(total, unassigned, percent, minimum)


# -- writing --------------------------------------------------------------------------------


def creations(report: Report) -> Iterator[Decision]:
    """The decisions whose app users Okta would create."""
    return (d for d in report.decisions if d.outcome is Outcome.NEW)


def users_api_bodies(report: Report) -> Iterator[str]:
    """A ``POST /api/v1/users`` body per user Okta would create, as JSON Lines text."""
    for decision in creations(report):
        yield json.dumps({"profile": decision.profile}, ensure_ascii=False) + "\n"


def csv_import(report: Report, ruleset: Ruleset) -> tuple[str, list[str]]:
    """Okta's CSV import file of the users Okta would create (a column per Okta attribute the
    inbound rules set, the required ones first), and the attributes left out (arrays, which
    one CSV cell cannot hold unambiguously)."""
    columns = list(OKTA_REQUIRED)
    left_out = []
    for rule in ruleset.plan.inbound:
        if rule.type.multi:
            left_out.append(rule.attr)
        elif rule.attr not in columns:
            columns.append(rule.attr)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for decision in creations(report):
        row = []
        for name in columns:
            value = decision.profile.get(name)
            row.append("" if value is None else _cell(value))
        writer.writerow(row)
    return out.getvalue(), left_out


def _cell(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


# -- the report -----------------------------------------------------------------------------


def summary_line(report: Report) -> str:
    """One line: how many app users, and how many of each outcome."""
    counts = ", ".join(f"{report.count(o)} {o.value}" for o in Outcome)
    return f"{len(report.decisions)} app user{'' if len(report.decisions) == 1 else 's'}: {counts}"


def safeguard_line(guard: Safeguard | None) -> str:
    """What the import safeguard would do, in a sentence."""
    if guard is None:
        return "import safeguard: not worked out (give the app's assignments with --assignments)"
    verdict = "Okta would stop the import" if guard.stops else "the import goes on"
    return (
        f"import safeguard: {guard.unassignments} of {guard.assignments} assignments would go "
        f"({guard.share:.1f}%; Okta stops past {guard.percent:g}% from {guard.minimum} assignments): {verdict}"
    )


def table(report: Report, show_values: bool) -> str:
    """The report for people: a summary, a row per app user (outcome, app id, Okta ids, what
    changes or why), and the safeguard. Values only with SHOW_VALUES (they are personal data);
    every text from the app or the export is shown escaped."""
    from mapper.markup import visible

    rows = [("outcome", "app user", "Okta user", "detail")]
    for decision in report.decisions:
        who = visible(decision.user.app_id or decision.user.source)
        detail = decision.reason
        if decision.changes:
            detail = ", ".join(_change_text(c, show_values) for c in decision.changes)
        elif decision.outcome is Outcome.NEW and show_values:
            detail = f"login {_shown(decision.profile.get('login'))}"
        rows.append((decision.outcome.value, who, visible(", ".join(decision.okta_ids)), visible(detail)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"mapper import users: {summary_line(report)}", f"matched by: {' and '.join(report.match)}"]
    lines += [f"note: {visible(note)}" for note in report.notes]
    lines.append("")
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3]
        )
    lines += ["", safeguard_line(report.safeguard)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _change_text(change: Change, show_values: bool) -> str:
    if not show_values:
        return change.attribute
    return f"{change.attribute}: {_shown(change.old)} -> {_shown(change.new)}"


def _shown(value: Any) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def as_json(report: Report, show_values: bool) -> dict[str, Any]:
    """The report as JSON data: counts, the safeguard, notes, and a record per app user
    (attribute names changed; their values and the profiles only with SHOW_VALUES)."""
    guard = report.safeguard
    users = []
    for decision in report.decisions:
        record: dict[str, Any] = {
            "source": decision.user.source,
            "app_id": decision.user.app_id,
            "outcome": decision.outcome.value,
            "okta_ids": decision.okta_ids,
            "changes": [
                {"attribute": c.attribute, "old": c.old, "new": c.new} if show_values else c.attribute
                for c in decision.changes
            ],
            "reason": decision.reason or None,
        }
        if show_values and decision.outcome in (Outcome.NEW, Outcome.CANNOT_CREATE):
            record["profile"] = decision.profile
        users.append(record)
    return {
        "match": list(report.match),
        "counts": {o.value: report.count(o) for o in Outcome},
        "safeguard": None
        if guard is None
        else {
            "assignments": guard.assignments,
            "unassignments": guard.unassignments,
            "percent": guard.percent,
            "minimum": guard.minimum,
            "stops": guard.stops,
        },
        "notes": report.notes,
        "users": users,
    }
