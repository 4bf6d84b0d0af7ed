"""The requests that take an app from one Okta export to the next: ``mapper plan``.

Users are matched by their Okta id. A user only in the new export is created; a
user in both gets a PATCH when something the ruleset maps changed, nothing when
not; a user who is gone from the new export, or became DEPROVISIONED, is
deactivated (never deleted, as Okta does). The old export is indexed by id in a
temporary SQLite file, so memory stays flat however large the exports are; the
new one is streamed.

The plan names each user by Okta id: the app's own resource id is the gateway's to
look up (``{id}`` in the PATCH path stands for it).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapper.errors import ProfileError
from mapper.runtime.patch import touched
from mapper.runtime.ruleset import Ruleset
from mapper.tools import jsonio
from mapper.tools.bulk import Failure, Record


@dataclass
class Summary:
    kinds: Counter[str] = field(default_factory=Counter)  # create, update, deactivate, unchanged, failed
    attributes: Counter[str] = field(default_factory=Counter)  # SCIM attribute -> users updated


def _user(record: Record) -> tuple[str, dict[str, Any]] | Failure:
    try:
        document = jsonio.parse(record.data, record.source, first_line=record.line)
    except jsonio.JsonInputError as exc:
        return Failure(record.source, record.line, None, "invalid-json", exc.reason)
    okta_id = document.get("id") if isinstance(document, dict) else None
    if not isinstance(okta_id, str) or not okta_id:
        return Failure(
            record.source, record.line, None, "no-id", "a plan needs Okta Users API users, with their id"
        )
    return okta_id, document


def plan(
    ruleset: Ruleset, old: Iterable[Record], new: Iterable[Record], style: str, summary: Summary
) -> Iterator[dict[str, Any] | Failure]:
    """Each request the app needs ({"okta_id", "method", "path", "body"}), or a Failure."""
    with tempfile.TemporaryDirectory(prefix="mapper-plan-") as folder:
        db = sqlite3.connect(str(Path(folder) / "old.sqlite"))
        try:
            db.execute("CREATE TABLE old (id TEXT PRIMARY KEY, data BLOB, seen INTEGER DEFAULT 0)")
            for record in old:
                parsed = _user(record)
                if isinstance(parsed, Failure):
                    summary.kinds["failed"] += 1
                    yield parsed
                    continue
                try:
                    db.execute("INSERT INTO old (id, data) VALUES (?, ?)", (parsed[0], record.data))
                except sqlite3.IntegrityError:
                    summary.kinds["failed"] += 1
                    yield _twice(record, parsed[0])
            for record in new:
                parsed = _user(record)
                if isinstance(parsed, Failure):
                    summary.kinds["failed"] += 1
                    yield parsed
                    continue
                okta_id, user = parsed
                row = db.execute("SELECT data, seen FROM old WHERE id = ?", (okta_id,)).fetchone()
                if row is not None and row[1]:
                    summary.kinds["failed"] += 1
                    yield _twice(record, okta_id)
                    continue
                if row is not None:
                    db.execute("UPDATE old SET seen = 1 WHERE id = ?", (okta_id,))
                try:
                    yield from _requests(ruleset, okta_id, row, user, style, summary)
                except ProfileError as exc:
                    summary.kinds["failed"] += 1
                    yield Failure(record.source, record.line, okta_id, "profile", str(exc), exc.value)
            for okta_id, data in db.execute("SELECT id, data FROM old WHERE seen = 0 ORDER BY rowid"):
                if _status(jsonio.parse(data, "old")) != "DEPROVISIONED":
                    summary.kinds["deactivate"] += 1
                    yield _request(okta_id, "PATCH", ruleset.deactivate())
        finally:
            db.close()


def _twice(record: Record, okta_id: str) -> Failure:
    return Failure(record.source, record.line, okta_id, "duplicate-id", "this Okta id is in the export twice")


def _status(user: Any) -> Any:
    return user.get("status") if isinstance(user, dict) else None


def _request(okta_id: str, method: str, body: dict[str, Any]) -> dict[str, Any]:
    path = "/Users" if method == "POST" else "/Users/{id}"
    return {"okta_id": okta_id, "method": method, "path": path, "body": body}


def _requests(
    ruleset: Ruleset,
    okta_id: str,
    row: tuple[bytes, int] | None,
    user: dict[str, Any],
    style: str,
    summary: Summary,
) -> Iterator[dict[str, Any]]:
    deprovisioned = _status(user) == "DEPROVISIONED"
    if row is None:
        if deprovisioned:  # never provisioned, and not to be
            summary.kinds["unchanged"] += 1
            return
        summary.kinds["create"] += 1
        yield _request(okta_id, "POST", ruleset.create(user))
        return
    old = jsonio.parse(row[0], "old")
    if deprovisioned and _status(old) != "DEPROVISIONED":
        summary.kinds["deactivate"] += 1
        yield _request(okta_id, "PATCH", ruleset.deactivate())
        return
    message = ruleset.patch(old, user, style)
    if message is None:
        summary.kinds["unchanged"] += 1
        return
    summary.kinds["update"] += 1
    for attribute in touched(message):
        summary.attributes[attribute] += 1
    yield _request(okta_id, "PATCH", message)
