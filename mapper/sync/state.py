"""What the app was last sent, per Okta user: an SQLite file.

One row per Okta id: the app's id for the user, the resource the app holds as far as
mapper knows (what it was last sent, on top of what the app answered), whether the user
is active there, the hash of the ruleset that rendered it, and ``pending`` while a request
is on its way. A row is written only after the app acknowledged the request; ``pending``
is committed before the request goes, so a run that was killed leaves a mark, and the
next run reads the app (GET, or a search for a create) instead of trusting the row.

The file is data owed to the user: it is locked while a run uses it (one sync per state),
its schema version is SQLite's ``user_version``, and every earlier schema is upgraded by
numbered migrations, each in one transaction, when the file is opened.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from mapper.errors import ExitCode, MapperError
from mapper.sync.ids import id_problem

#: The schema this mapper writes. 1-3 are the schemas of earlier releases, which kept the
#: version in the meta table (as "1") and left user_version at 0; 4 moved it to user_version.
SCHEMA_VERSION = 4

_USERS_V1 = """
    CREATE TABLE users (
        okta_id  TEXT PRIMARY KEY,
        app_id   TEXT,
        resource TEXT,
        active   INTEGER NOT NULL DEFAULT 1,
        ruleset  TEXT NOT NULL DEFAULT '',
        pending  INTEGER NOT NULL DEFAULT 0,
        seen     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS users_app_id ON users (app_id);
"""

#: Migration N takes a file from schema N-1 to schema N.
MIGRATIONS: dict[int, str] = {
    1: _USERS_V1,
    2: "ALTER TABLE users ADD COLUMN profile TEXT;",  # the Okta user the resource was rendered from
    3: "ALTER TABLE users ADD COLUMN match TEXT;",  # the --match value of a create in doubt
    4: (
        # An inactive Okta user looked for in the app by --match and not found there: not
        # looked for again until the user is active (then created) or gone.
        "ALTER TABLE users ADD COLUMN absent INTEGER NOT NULL DEFAULT 0;"
        "DELETE FROM meta WHERE key = 'version';"
    ),
}

_COLUMNS = "okta_id, app_id, resource, active, ruleset, pending, profile, match, absent, seen"


class StateError(MapperError):
    """A state file that cannot be used for this sync (a configuration problem: exit 2)."""

    exit_code = ExitCode.USAGE


class StateLocked(MapperError):
    """Another run holds the state file (a guard: exit 4)."""

    exit_code = ExitCode.GUARD


class Row(NamedTuple):
    """What the state knows of one Okta user: the app user provisioned for them, as the app last
    acknowledged it, and whether a request is in doubt (PENDING).

    A named tuple: one is made for every user a sync or a plan decides (a frozen dataclass
    took five times as long to make)."""

    okta_id: str
    app_id: str | None
    resource: dict[str, Any] | None
    active: bool
    ruleset: str
    pending: bool
    profile: dict[str, Any] | None = None  # the Okta user the resource was rendered from
    match: str | None = None  # the --match value of a create in doubt
    absent: bool = False  # inactive, looked for in the app, not there
    seen: int = 0  # the last run whose export listed the user


class State:
    """The state in PATH, locked for this process (``:memory:`` for none kept).

    READONLY: what a dry run or a saved plan reads: the file is locked shared (a sync
    running on it is refused, as it is refused while a dry run reads) and copied to a
    temporary file, which is migrated and written instead; the user's file is never
    changed. A file that does not exist yet reads as an empty state.
    """

    def __init__(self, path: Path | str, base_url: str, match: str, readonly: bool = False) -> None:
        self.path = str(path)
        self.base_url = base_url.rstrip("/")
        # One connection; worker threads read (owner) while the main thread writes.
        self.lock = threading.RLock()
        self.claims: dict[str, str] = {}  # app ids and match values claimed in this run
        self._lock_fd: int | None = None
        self._scratch: str | None = None
        # A file this open created: removed again on close if no user was ever recorded in it
        # (a run refused before its first request leaves nothing behind to trip the next one).
        self.created = not readonly and self.path != ":memory:" and not os.path.lexists(self.path)
        try:
            if self.path == ":memory:":
                self.db = _connect(":memory:")
            else:
                self._take_lock(readonly)
                self.db = _connect(self._copy() if readonly else self.path)
            self._execute("PRAGMA journal_mode=WAL")
            self._execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a killed process
            self._migrate()
            self._claim(match)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StateError(f"{self.path}: not a mapper state file ({exc})") from None
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- opening

    def _take_lock(self, shared: bool) -> None:
        """An OS lock on the state file itself, released when the process ends however it ends."""
        if os.path.islink(self.path):
            raise StateError(f"{self.path}: is a symbolic link; give the state file's own path")
        flags = os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT
        try:
            fd = os.open(self.path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            if shared:
                return  # nothing to lock: an empty state
            raise StateError(f"{self.path}: its folder does not exist") from None
        except OSError as exc:
            raise StateError(f"{self.path}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StateError(f"{self.path}: not a regular file")
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise StateLocked(
                    f"{self.path}: another mapper sync is using this state file; wait for it to end"
                ) from None
            raise
        self._lock_fd = fd

    def _copy(self) -> str:
        """A private copy of the state to read and scribble on (a dry run, a saved plan)."""
        folder = tempfile.mkdtemp(prefix="mapper-state-")
        self._scratch = folder
        copy = str(Path(folder) / "state.sqlite")
        if self._lock_fd is not None:
            source = sqlite3.connect(Path(self.path).resolve().as_uri() + "?mode=ro", uri=True)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
        return copy

    def _migrate(self) -> None:
        """Bring the file to SCHEMA_VERSION, each step in one transaction; refuse a newer one."""
        version = self._execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: written by a newer mapper (state schema {version}; this mapper "
                f"reads up to {SCHEMA_VERSION}): upgrade mapper"
            )
        if version == 0:
            version = self._legacy_version()
        with self.lock:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[step].split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute(f"PRAGMA user_version = {int(step)}")
                    self.db.execute("COMMIT")
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise

    def _legacy_version(self) -> int:
        """The schema of a file from before user_version: 0 for a new file, else 1-3 by its columns."""
        tables = {r[0] for r in self._execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return 0
        if "users" not in tables or "meta" not in tables:
            raise StateError(f"{self.path}: an SQLite file, but not a mapper state file")
        found = self._execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        if found is None or found[0] != "1":
            raise StateError(f"{self.path}: an unknown state format ({found[0] if found else 'none'})")
        columns = {r[1] for r in self._execute("PRAGMA table_info(users)")}
        return 3 if "match" in columns else 2 if "profile" in columns else 1

    def _claim(self, match: str) -> None:
        """A state file belongs to one app: using it for another would deactivate its users."""
        meta = dict(
            self._execute("SELECT key, value FROM meta WHERE key IN ('base_url', 'match')").fetchall()
        )
        if not meta:
            self._executemany(
                "INSERT INTO meta VALUES (?, ?)", [("base_url", self.base_url), ("match", match)]
            )
            return
        if meta.get("base_url") != self.base_url:
            empty = self._execute("SELECT count(*) FROM users").fetchone()[0] == 0
            hint = " (it holds no users: delete it to start over)" if empty else ""
            raise StateError(
                f"{self.path}: the state of {meta.get('base_url')}, not {self.base_url}: use another --state{hint}"
            )
        if meta.get("match") != match:
            self._execute("INSERT OR REPLACE INTO meta VALUES ('match', ?)", (match,))

    def close(self) -> None:
        """Close the database and release the lock; remove a file this open created if it never held a
        user, and a read-only copy."""
        db = getattr(self, "db", None)
        unused = False
        if db is not None:
            if self.created:
                try:
                    unused = db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
                except sqlite3.Error:
                    unused = True
            db.close()
        if unused:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path + suffix)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def _execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.db.execute(sql, parameters)

    def _executemany(self, sql: str, parameters: Any) -> sqlite3.Cursor:
        with self.lock:
            return self.db.executemany(sql, parameters)

    # ---------------------------------------------------------------- rows

    def get(self, okta_id: str) -> Row | None:
        """The row of OKTA_ID, or None when the state does not know the user."""
        query = f"SELECT {_COLUMNS} FROM users WHERE okta_id = ?"  # noqa: S608 - our own column list
        found = self._execute(query, (okta_id,)).fetchone()
        return _row(found) if found else None

    def owner(self, app_id: str) -> str | None:
        """The Okta user the app user APP_ID was provisioned for, if any."""
        found = self._execute("SELECT okta_id FROM users WHERE app_id = ?", (app_id,)).fetchone()
        return found[0] if found else None

    def claim(self, key: str, okta_id: str) -> str | None:
        """Take KEY (an app id, or a ``match:`` value) for OKTA_ID in this run, atomically across
        the run's threads; the Okta id that holds it already (in the state or in this run), or
        None when the claim was taken."""
        with self.lock:
            holder = self.claims.get(key)
            if holder is None and not key.startswith("match:"):
                holder = self.owner(key)
            if holder is not None and holder != okta_id:
                return holder
            self.claims[key] = okta_id
            return None

    def mark_pending(self, okta_id: str, run: int, match: str | None = None) -> None:
        """Committed before a request for the user goes out (see the module docstring); MATCH
        is what a create is searched by, should the user leave the export before it is known.
        A row whose create is still in doubt keeps the value that create carried until the
        engine has looked for it (then :meth:`carried` writes the new one, before its POST)."""
        self._execute(
            "INSERT INTO users (okta_id, pending, seen, match) VALUES (?, 1, ?, ?) "
            "ON CONFLICT(okta_id) DO UPDATE SET pending = 1, seen = excluded.seen, "
            "match = CASE WHEN pending = 1 AND app_id IS NULL AND match IS NOT NULL THEN match "
            "ELSE coalesce(excluded.match, match) END",
            (okta_id, run, match),
        )

    def carried(self, okta_id: str, match: str) -> None:
        """The value the create about to be sent carries (an earlier create's value looked for
        and ruled out): committed before the POST, as mark_pending is."""
        self._execute("UPDATE users SET match = ? WHERE okta_id = ?", (match, okta_id))

    def lost(self, okta_id: str, match: str) -> None:
        """A POST carrying MATCH is about to create the user again, whose row holds the id of an
        account the app answered 404 for (no app user found by MATCH): the row becomes a pending
        create's, with no app id and MATCH. Committed before the POST, as mark_pending is: a
        create in doubt is then looked for by that value, and one refused for good leaves no
        row (the next run creates the user, instead of finding it in line with an account
        that is gone). A row with no app id, a create's already, is left as it is."""
        self._execute(
            "UPDATE users SET app_id = NULL, resource = NULL, profile = NULL, active = 1, absent = 0, "
            "pending = 1, match = ? WHERE okta_id = ? AND app_id IS NOT NULL",
            (match, okta_id),
        )

    def mark_seen(self, okta_ids: Iterable[str], run: int) -> None:
        """Users the export lists that need nothing: one transaction for the lot."""
        with self.lock:
            outer = self.db.in_transaction
            if not outer:
                self.db.execute("BEGIN")
            self.db.executemany("UPDATE users SET seen = ? WHERE okta_id = ?", [(run, i) for i in okta_ids])
            if not outer:
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
        absent: bool = False,
    ) -> None:
        """What the app now holds, after it acknowledged the request (PROFILE: the Okta user it
        was rendered from, kept when None). ABSENT: looked for and not found (no app id)."""
        self._execute(
            "INSERT INTO users (okta_id, app_id, resource, active, ruleset, pending, seen, profile, absent) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) "
            "ON CONFLICT(okta_id) DO UPDATE SET app_id = excluded.app_id, resource = excluded.resource, "
            "active = excluded.active, ruleset = excluded.ruleset, pending = 0, seen = excluded.seen, "
            "profile = coalesce(excluded.profile, profile), absent = excluded.absent",
            (okta_id, app_id, _json(resource), int(active), ruleset, run, _json(profile), int(absent)),
        )

    def settle(self, okta_id: str) -> None:
        """A request that failed for good: the row is as before (the next run tries again). A
        user the app holds nothing of (a create or a lookup refused, a conflict) leaves no row:
        a pending row without an app id would be searched for, and deactivated, once the user
        leaves the export."""
        with self.lock:
            self.db.execute(
                "UPDATE users SET pending = 0 WHERE okta_id = ? AND app_id IS NOT NULL", (okta_id,)
            )
            self.db.execute(
                "DELETE FROM users WHERE okta_id = ? AND app_id IS NULL AND absent = 0", (okta_id,)
            )
            self.db.execute(
                "UPDATE users SET pending = 0, match = NULL WHERE okta_id = ? AND app_id IS NULL", (okta_id,)
            )

    def forget(self, okta_id: str) -> None:
        """Remove the row of OKTA_ID."""
        self._execute("DELETE FROM users WHERE okta_id = ?", (okta_id,))

    def not_seen(self, run: int) -> Iterator[Row]:
        """Users the app holds (or may hold) that this run's export did not list."""
        query = f"SELECT {_COLUMNS} FROM users WHERE seen != ? ORDER BY okta_id"  # noqa: S608 - our own columns
        rows = self._execute(query, (run,)).fetchall()
        for found in rows:
            yield _row(found)

    def size(self) -> int:
        """How many Okta users the state holds (none before a first sync)."""
        found = self._execute("SELECT count(*) FROM users").fetchone()
        return int(found[0])

    def active_count(self) -> int:
        """Users the app holds active, as far as the state knows."""
        found = self._execute("SELECT count(*) FROM users WHERE app_id IS NOT NULL AND active = 1").fetchone()
        return int(found[0])

    def meta(self, key: str) -> str | None:
        """The state's value for KEY (the base URL, --match, the last run, the last plan applied), or None."""
        found = self._execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(found[0]) if found else None

    def set_meta(self, key: str, value: str) -> None:
        """Set the state's value for KEY to VALUE."""
        self._execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def next_run(self) -> int:
        """The number of a new run, one past the last, recorded as the last."""
        found = self._execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
        run = int(found[0]) + 1 if found and str(found[0]).isdecimal() else 1
        self._execute("INSERT OR REPLACE INTO meta VALUES ('run', ?)", (str(run),))
        return run

    def fingerprint(self) -> str:
        """A hash of everything the state holds: any run that wrote to it changes it."""
        digest = hashlib.sha256()
        with self.lock:
            for key, value in self.db.execute("SELECT key, value FROM meta ORDER BY key"):
                digest.update(json.dumps([key, value]).encode())
            query = f"SELECT {_COLUMNS} FROM users ORDER BY okta_id"  # noqa: S608 - our own column list
            for found in self.db.execute(query):
                digest.update(json.dumps(found, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()


def _connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def _row(found: tuple[Any, ...]) -> Row:
    """A row read from the file, each column checked: a damaged or hand-edited row is a
    StateError naming the Okta user, never a crash or a request built from it."""
    okta_id, app_id, resource, active, ruleset, pending, profile, match, absent, seen = found
    problem = (
        "the Okta id is not text" if not isinstance(okta_id, str)
        else f"the app id is unusable: {id_problem(app_id)}" if app_id is not None and id_problem(app_id)
        else "the ruleset hash is not text" if not isinstance(ruleset, str)
        else "the --match value is not text" if match is not None and not isinstance(match, str)
        else "a flag or the run counter is not a number"
        if not all(isinstance(v, int) for v in (active, pending, absent, seen))
        else None
    )  # fmt: skip
    try:
        objects = [_object(resource), _object(profile)]
    except ValueError as exc:
        problem = problem or str(exc)
    if problem:
        shown = okta_id if isinstance(okta_id, str) and okta_id.isprintable() and len(okta_id) < 100 else "?"
        raise StateError(
            f"the state's row for {shown} is damaged ({problem}): restore the file from a backup, or move "
            "it aside and sync again (a first sync finds the app's users by --match)"
        )
    return Row(okta_id, app_id, objects[0], bool(active), ruleset, bool(pending), objects[1],
               match, bool(absent), int(seen))  # fmt: skip


def _object(text: object) -> dict[str, Any] | None:
    """A JSON object column (or NULL); ValueError when it is anything else."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise ValueError("a JSON column is not text")
    try:
        if _digits(text) >= 19 and _LONG_NUMBER.search(
            text
        ):  # orjson would read it as a float: json is exact
            raise orjson.JSONDecodeError("a long number", text, 0)
        value = orjson.loads(text)  # the common case, several times faster
    except orjson.JSONDecodeError:
        try:  # what orjson refuses and json reads (NaN, lone surrogates, long integers)
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("a JSON column cannot be read") from None
    if not isinstance(value, dict):
        raise ValueError("a JSON column is not an object")
    return value


def _json(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    try:
        data = orjson.dumps(value)  # the common case, several times faster
    except TypeError:  # what orjson refuses and json writes (integers past 64 bits, lone surrogates)
        return json.dumps(value, ensure_ascii=False)
    if (
        b"null" in data and orjson.loads(data) != value
    ):  # NaN or an infinity (an export's 1e400), written null
        return json.dumps(value, ensure_ascii=False)
    return data.decode()


#: Nineteen digits in a row: an integer orjson would read as a float (past 64 bits).
_LONG_NUMBER = re.compile(r"[0-9]{19}")


def _digits(text: str) -> int:
    """How many digits TEXT holds: fewer than 19, and no number in it can be long (a fast test)."""
    return sum(map(text.count, "0123456789"))
