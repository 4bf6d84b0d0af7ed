"""The body of a PUT built the way Okta builds one: GET the app's user, change what the
ruleset owns, send the whole resource back.

RFC 7644 section 3.5.1 lets a server clear any readWrite attribute a PUT omits, so a
body holding only the ruleset's attributes can wipe what the app keeps (a home email,
groups, attributes set in the app itself). :func:`put_body` starts from the app's
current resource instead and touches only the owned slots: attributes and
sub-attributes the rules set, and the multi-valued entries of the types they name.
Create-only rules are left as the app has them, as in an update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mapper.core.plan import Plan, PlannedRule
from mapper.core.schema import CORE_USER


def put_body(plan: Plan, current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """CURRENT (the app's resource, as GET returns it) with every owned slot set as in DESIRED
    (what the ruleset renders for the user), or removed where DESIRED has no value: a body of
    its own, sharing nothing with either."""
    return json_copy(target(plan, current, desired))  # type: ignore[no-any-return]


def target(plan: Plan, current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """put_body, built without copies: the containers it changes are new (neither argument is
    changed), the rest are CURRENT's own, and the values it sets DESIRED's. What reconcile
    compares, and only reads (put_body copies it whole)."""
    body: dict[str, Any] = dict(current)
    for urn in plan.extensions:
        if isinstance(body.get(urn), dict):
            body[urn] = dict(body[urn])
    slots, groups = _layout(plan)
    for urn, attr, sub in slots:
        _set_slot(body, desired, urn, attr, sub)
    for group in groups:
        _set_entry(body, desired, group)
    for urn in plan.extensions:
        if urn in body and not body[urn]:
            del body[urn]
    # schemas: as the app listed them, less the extensions the ruleset emptied, plus the
    # ones it filled (RFC 7643 section 3: an extension is listed while it has a value).
    listed = list(body.get("schemas") or [CORE_USER])
    body["schemas"] = [s for s in listed if s not in plan.extensions or s in body] + [
        urn for urn in plan.extensions if urn in body and urn not in listed
    ]
    return body


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (objects, arrays, scalars): what copy.deepcopy does for it, five
    times faster (no memo: JSON has no shared or cyclic parts)."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def _container(resource: dict[str, Any], urn: str, create: bool) -> dict[str, Any] | None:
    if urn == CORE_USER:
        return resource
    found = resource.get(urn)
    if isinstance(found, dict):
        return found
    if create:
        resource[urn] = {}
        return resource[urn]  # type: ignore[no-any-return]
    return None


#: Each plan's owned slots, worked out once: (URN, attribute, sub-attribute) of the rules
#: that set a whole attribute or a sub-attribute, in rule order (the order new keys take in
#: a body), and the rules of each multi-valued entry type. Keyed by id, the plan kept alive
#: with its layout so that the id cannot be another plan's.
_LAYOUTS: dict[int, tuple[Plan, tuple[tuple[str, str, str | None], ...], tuple[_Entry, ...]]] = {}


def _layout(plan: Plan) -> tuple[tuple[tuple[str, str, str | None], ...], tuple[_Entry, ...]]:
    cached = _LAYOUTS.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1], cached[2]
    slots: list[tuple[str, str, str | None]] = []
    entries: dict[tuple[str, str, str], list[PlannedRule]] = {}
    for rule in plan.rules:
        t = rule.target
        if t.entry_type is not None:
            entries.setdefault((t.urn, t.attr, t.entry_type), []).append(rule)
        elif not rule.create_only:
            slots.append((t.urn, t.attr, t.sub))
    if len(_LAYOUTS) >= 256:  # a process that loads plans without end keeps only recent ones
        _LAYOUTS.clear()
    groups = tuple(_Entry.of(rules) for rules in entries.values())
    _LAYOUTS[id(plan)] = (plan, tuple(slots), groups)
    return tuple(slots), groups


def _set_slot(body: dict[str, Any], desired: dict[str, Any], urn: str, attr: str, sub: str | None) -> None:
    wanted = desired if urn == CORE_USER else desired.get(urn)
    if not isinstance(wanted, dict):
        wanted = {}
    if sub is None:
        value = wanted.get(attr)
        if value is None:
            target = _container(body, urn, create=False)
            if target is not None:
                target.pop(attr, None)
        else:
            target = _container(body, urn, create=True)
            assert target is not None
            target[attr] = value
        return
    # a sub-attribute of a complex attribute
    value = (wanted.get(attr) or {}).get(sub)
    target = _container(body, urn, create=value is not None)
    if target is None:
        return
    held = target.get(attr)
    complex_value = target[attr] = dict(held) if isinstance(held, dict) else {}
    if value is None:
        complex_value.pop(sub, None)
    else:
        complex_value[sub] = value
    if not complex_value:
        del target[attr]


@dataclass(frozen=True, slots=True)
class _Entry:
    """The rules that write the entries of one type of one multi-valued attribute."""

    urn: str
    attr: str
    entry_type: str
    owned: tuple[str, ...]  # the sub-attributes an update sets (not create-only)
    written: frozenset[str]  # every sub-attribute the rules write
    primary: bool  # a rule marks the entry primary

    @classmethod
    def of(cls, rules: list[PlannedRule]) -> _Entry:
        t = rules[0].target
        assert t.entry_type is not None
        owned = tuple(r.target.sub for r in rules if not r.create_only and r.target.sub is not None)
        written = frozenset(r.target.sub for r in rules if r.target.sub is not None)
        return cls(t.urn, t.attr, t.entry_type, owned, written, any(r.primary for r in rules))


def _set_entry(body: dict[str, Any], desired: dict[str, Any], t: _Entry) -> None:
    """The entries of one type of one multi-valued attribute (T): each owned sub-attribute set
    or removed; create-only ones left as the app has them. An entry left with no value the
    ruleset writes goes (no {type: work} orphan), as patch removes it."""
    owned, written, primary = t.owned, t.written, t.primary
    wanted_all = _container(desired, t.urn, create=False) or {}
    wanted = next(
        (e for e in wanted_all.get(t.attr) or [] if isinstance(e, dict) and e.get("type") == t.entry_type), {}
    )
    values = {sub: wanted[sub] for sub in owned if sub in wanted}
    target = _container(body, t.urn, create=bool(values))
    if target is None:
        return
    held = target.get(t.attr)
    if values and isinstance(held, list) and _already(held, values, t):
        return  # what the rest would build, value for value: the app's own list stays
    entries: list[Any] = [
        dict(e) if isinstance(e, dict) and e.get("type") == t.entry_type else e
        for e in (held if isinstance(held, list) else [])
    ]  # the entries of this type are changed: copies
    mine = [e for e in entries if isinstance(e, dict) and e.get("type") == t.entry_type]
    if not mine and values:
        mine = [{"type": t.entry_type}]
        entries = [*entries, mine[0]]
    for entry in mine:
        for sub in owned:
            if sub in values:
                entry[sub] = values[sub]
            else:
                entry.pop(sub, None)
        if primary and values:
            entry["primary"] = True
    entries = [e for e in entries if e not in mine or any(sub in e for sub in written)]
    if primary and values:  # RFC 7643 section 2.4: one primary at most
        entries = [
            {**e, "primary": False}
            if isinstance(e, dict) and e.get("type") != t.entry_type and e.get("primary")
            else e
            for e in entries
        ]
    if entries:
        target[t.attr] = entries
    else:
        target.pop(t.attr, None)


_SCALARS = (str, bool, int)  # not float: -0.0 == 0.0, which JSON tells apart


def _already(held: list[Any], values: dict[str, Any], t: _Entry) -> bool:
    """Whether HELD (the app's entries) is already what _set_entry would make of it with
    VALUES (not empty): one entry of the type, holding exactly VALUES of the owned
    sub-attributes (strings, booleans or integers of the same class: JSON tells 1 from true
    and 1.0, Python does not),
    primary where a rule marks it and no other entry primary. The common case of an update
    that changes something else: no copies, and reconcile finds the list is the app's own."""
    mine = None
    for entry in held:
        if isinstance(entry, dict) and entry.get("type") == t.entry_type:
            if mine is not None:
                return False
            mine = entry
        elif t.primary and isinstance(entry, dict) and entry.get("primary"):
            return False  # to be demoted
    if mine is None or (t.primary and mine.get("primary") is not True):
        return False
    for sub in t.owned:
        if sub in values:
            value, had = values[sub], mine.get(sub)
            if value.__class__ not in _SCALARS or had.__class__ is not value.__class__ or had != value:
                return False
        elif sub in mine:
            return False
    return True
