"""What the app was last sent, per Okta user: an SQLite file.

One row per Okta id: the app's id for the user, the resource the app holds as far as
mapper knows (what it was last sent, on top of what the app answered), whether the user
is active there, the hash of the ruleset that rendered it, and ``pending`` while a request
is on its way. A row is written only after the app acknowledged the request; ``pending``
is committed before the request goes, so a run that was killed leaves a mark, and the
next run reads the app (GET, or a search for a create) instead of trusting the row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


class StateError(Exception):
    """A state file that cannot be used for this sync."""


@dataclass(frozen=True)
class Row:
    okta_id: str
    app_id: str | None
    resource: dict[str, Any] | None
    active: bool
    ruleset: str
    pending: bool
    profile: dict[str, Any] | None = None  # the Okta user the resource was rendered from
    match: str | None = None  # the --match value of a create in doubt


class State:
    def __init__(self, path: Path | str, base_url: str, match: str, readonly: bool = False) -> None:
        """The state in PATH (``:memory:`` for none kept). READONLY: opened for reading only,
        as the dry run does; the file must exist."""
        self.path = str(path)
        # One connection; worker threads read (owner) while the main thread writes.
        self.lock = threading.RLock()
        try:
            if readonly:
                uri = Path(self.path).resolve().as_uri() + "?mode=ro"
                self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._execute("PRAGMA journal_mode=WAL")
                self._execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a killed process
                self._create()
            self._claim(base_url, match, readonly)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: not a mapper state file ({exc})") from None

    def _create(self) -> None:
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS users (
                okta_id  TEXT PRIMARY KEY,
                app_id   TEXT,
                resource TEXT,
                profile  TEXT,
                match    TEXT,  -- the --match value a create in doubt is searched by
                active   INTEGER NOT NULL DEFAULT 1,
                ruleset  TEXT NOT NULL DEFAULT '',
                pending  INTEGER NOT NULL DEFAULT 0,
                seen     INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS users_app_id ON users (app_id);
            """
        )

    def _claim(self, base_url: str, match: str, readonly: bool) -> None:
        """A state file belongs to one app: using it for another would deactivate its users."""
        meta = dict(self._execute("SELECT key, value FROM meta").fetchall())
        wanted = {"version": str(SCHEMA_VERSION), "base_url": base_url.rstrip("/"), "match": match}
        if not meta:
            if not readonly:
                self._executemany("INSERT INTO meta VALUES (?, ?)", wanted.items())
            return
        if meta.get("version") != wanted["version"]:
            raise StateError(
                f"{self.path}: state format {meta.get('version')}, this mapper writes {SCHEMA_VERSION}"
            )
        if meta.get("base_url") != wanted["base_url"]:
            raise StateError(
                f"{self.path}: the state of {meta.get('base_url')}, not {wanted['base_url']}: use another --state"
            )
        if meta.get("match") != match and not readonly:
            self._execute("UPDATE meta SET value = ? WHERE key = 'match'", (match,))

    def close(self) -> None:
        self.db.close()

    def _execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.db.execute(sql, parameters)

    def _executemany(self, sql: str, parameters: Any) -> sqlite3.Cursor:
        with self.lock:
            return self.db.executemany(sql, parameters)

    # ---------------------------------------------------------------- rows

    def get(self, okta_id: str) -> Row | None:
        found = self._execute(
            "SELECT okta_id, app_id, resource, active, ruleset, pending, profile, match FROM users WHERE okta_id = ?",
            (okta_id,),
        ).fetchone()
        return _row(found) if found else None

    def owner(self, app_id: str) -> str | None:
        """The Okta user the app user APP_ID was provisioned for, if any."""
        with self.lock:
            found = self._execute("SELECT okta_id FROM users WHERE app_id = ?", (app_id,)).fetchone()
        return found[0] if found else None

    def mark_pending(self, okta_id: str, run: int, match: str | None = None) -> None:
        """Committed before a request for the user goes out (see the module docstring); MATCH
        is what a create is searched by, should the user leave the export before it is known."""
        self._execute(
            "INSERT INTO users (okta_id, pending, seen, match) VALUES (?, 1, ?, ?) "
            "ON CONFLICT(okta_id) DO UPDATE SET pending = 1, seen = excluded.seen, "
            "match = coalesce(excluded.match, match)",
            (okta_id, run, match),
        )

    def mark_seen(self, okta_ids: list[str], run: int) -> None:
        """Users the export lists that need nothing: one transaction for the lot."""
        with self.lock:
            self.db.execute("BEGIN")
            self.db.executemany("UPDATE users SET seen = ? WHERE okta_id = ?", [(run, i) for i in okta_ids])
            self.db.execute("COMMIT")

    def acknowledged(
        self,
        okta_id: str,
        app_id: str | None,
        resource: dict[str, Any] | None,
        active: bool,
        ruleset: str,
        run: int,
        profile: dict[str, Any] | None = None,
    ) -> None:
        """What the app now holds, after it acknowledged the request (PROFILE: the Okta user it
        was rendered from, kept when None)."""
        self._execute(
            "INSERT INTO users (okta_id, app_id, resource, active, ruleset, pending, seen, profile) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT(okta_id) DO UPDATE SET app_id = excluded.app_id, resource = excluded.resource, "
            "active = excluded.active, ruleset = excluded.ruleset, pending = 0, seen = excluded.seen, "
            "profile = coalesce(excluded.profile, profile)",
            (okta_id, app_id, _json(resource), int(active), ruleset, run, _json(profile)),
        )

    def settle(self, okta_id: str) -> None:
        """A request that failed for good: the row is as before (the next run tries again)."""
        self._execute("UPDATE users SET pending = 0 WHERE okta_id = ? AND app_id IS NOT NULL", (okta_id,))

    def forget(self, okta_id: str) -> None:
        self._execute("DELETE FROM users WHERE okta_id = ?", (okta_id,))

    def not_seen(self, run: int) -> Iterator[Row]:
        """Users the app holds (or may hold) that this run's export did not list."""
        rows = self._execute(
            "SELECT okta_id, app_id, resource, active, ruleset, pending, profile, match FROM users WHERE seen != ? "
            "ORDER BY okta_id",
            (run,),
        ).fetchall()
        for found in rows:
            yield _row(found)

    def next_run(self) -> int:
        found = self._execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
        run = int(found[0]) + 1 if found else 1
        self._execute("INSERT OR REPLACE INTO meta VALUES ('run', ?)", (str(run),))
        return run


def _row(found: tuple[Any, ...]) -> Row:
    okta_id, app_id, resource, active, ruleset, pending, profile, match = found
    return Row(
        okta_id,
        app_id,
        json.loads(resource) if resource else None,
        bool(active),
        ruleset,
        bool(pending),
        json.loads(profile) if profile else None,
        match,
    )


def _json(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value is not None else None
