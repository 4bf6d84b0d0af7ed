"""The compile cache: the checked plan of each ruleset loaded, kept on disk, so that
loading a ruleset that has not changed needs neither the parser nor the checker.

What is stored is data, never code or pickles: the plan as JSON (see
:mod:`mapper.compiler.plan_codec`, which type-checks every value on the way back), and the
code generator writes the Python from it afresh. An entry is used only when:

- the folder is the user's own and nobody else can write to it (POSIX: owned by
  this user, no group or other write bit); otherwise the cache is refused and
  every load compiles, as with ``MAPPER_NO_CACHE=1``;
- the file is a regular file owned by this user, not a symlink or a FIFO, and its
  HMAC-SHA256 under this machine's cache key matches its content: an entry this machine
  did not write (copied from elsewhere, restored by CI, committed to a repository,
  edited and re-hashed) or a corrupt or truncated one is ignored and rewritten;
- it was written for the same ruleset text, name and folder, by the same mapper
  installation (version and the package's files), for the same key (a foreign
  file under that name is ignored);
- every file the ruleset extends is still the one `extends` would find, with the
  same content.

Anything else is a miss, never an error: the ruleset is compiled as if there were
no cache. The folder is ``$MAPPER_CACHE_DIR``, else ``$XDG_CACHE_HOME/mapper``,
else ``~/.cache/mapper``; it holds at most MAX_ENTRIES files.

The key is 32 random bytes in ``cache-key`` of the user's configuration folder
(``$MAPPER_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/mapper``, else ``~/.config/mapper``),
created on the first store with mode 0600, never inside the cache folder: restoring or
copying a cache folder never brings the key with it. A key file that is not a private
regular file of this user, or not 32 bytes, turns the cache off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

from mapper.compiler import plan_codec
from mapper.core.plan import Plan
from mapper.errors import Diagnostic
from mapper.language.resources import Dependency, find_parent

#: The first bytes of every cache file, then the format, then the HMAC-SHA256 of the rest.
MAGIC = b"mapper-plan-cache"
#: Files beyond this count are removed, oldest first, when a new one is written.
MAX_ENTRIES = 256
#: A cache file larger than this is not read (the largest ruleset's plan is a few MB).
MAX_FILE_BYTES = 64 * 1024 * 1024


def enabled() -> bool:
    """Whether the compile cache is in use: MAPPER_NO_CACHE unset, empty or 0."""
    return os.environ.get("MAPPER_NO_CACHE", "") in ("", "0")


def lookup(text: str, name: str, base_dir: Path | None) -> tuple[Plan, tuple[Diagnostic, ...]] | None:
    """The cached plan and warnings for ruleset TEXT, or None."""
    try:
        folder = _folder(create=False)
        if folder is None:
            return None
        secret = _secret(folder, create=False)
        if secret is None:
            return None
        key = _key(text, name, base_dir)
        data = _read(folder / f"{key[:40]}.json", secret)
        if data is None or data.get("key") != key or not _dependencies_unchanged(data.get("extends")):
            return None
        return plan_codec.read_plan(data.get("plan")), plan_codec.read_diagnostics(data.get("warnings"))
    except Exception:  # a cache must never make a load fail
        return None


def store(
    text: str,
    name: str,
    base_dir: Path | None,
    plan: Plan,
    warnings: tuple[Diagnostic, ...],
    dependencies: list[Dependency],
) -> None:
    """Keep PLAN for the next load of TEXT (silently skipped when the folder is unusable)."""
    try:
        folder = _folder(create=True)
        if folder is None:
            return
        secret = _secret(folder, create=True)
        if secret is None:
            return
        key = _key(text, name, base_dir)
        data = {
            "key": key,
            "extends": [_dump_dependency(d) for d in dependencies],
            "plan": plan_codec.dump_plan(plan),
            "warnings": plan_codec.dump_diagnostics(warnings),
        }
        body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        _write(folder, f"{key[:40]}.json", _header(body, secret) + body)
        _prune(folder)
    except (OSError, ValueError, TypeError, RecursionError):
        return  # a full disk or an odd plan: the next load compiles again


# -- the folder ------------------------------------------------------------------------------


def folder_path() -> Path:
    """The cache folder: $MAPPER_CACHE_DIR, else $XDG_CACHE_HOME/mapper when absolute, else
    mapper/Cache in %LOCALAPPDATA% on Windows, else ~/.cache/mapper."""
    configured = os.environ.get("MAPPER_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "mapper"
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        if local:
            return Path(local) / "mapper" / "Cache"
    return Path.home() / ".cache" / "mapper"


def _folder(create: bool) -> Path | None:
    """The cache folder when it is safe to use, else None."""
    path = folder_path()
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        info = path.stat()
    except OSError:
        return None
    return path if stat.S_ISDIR(info.st_mode) and _private(info) else None


def _private(info: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else (always true where there are no modes)."""
    if not hasattr(os, "getuid"):
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


# -- keys --------------------------------------------------------------------------------------


def _key(text: str, name: str, base_dir: Path | None) -> str:
    """What the plan depends on besides the files it extends: the text, the name it is
    reported under, the folder `extends` looks in first, and mapper itself."""
    folder = None if base_dir is None else str(base_dir.resolve())
    material = json.dumps([installation(), name, folder, text], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


@cache
def installation() -> str:
    """This mapper: its version, the cache format, and the name, size and modification time
    of each file of the package (so an edited checkout never reuses an older compiler's plans)."""
    from mapper import __version__

    package = Path(__file__).resolve().parent.parent  # the whole mapper package
    entries = [__version__, str(plan_codec.FORMAT)]
    stack = [package]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as scan:
            for entry in sorted(scan, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(Path(entry.path))
                elif entry.name.endswith((".py", ".json", ".lark", ".mapper")):
                    info = entry.stat()
                    entries.append(f"{entry.path}:{info.st_size}:{info.st_mtime_ns}")
    grammar = package.parent / "grammar"  # a source checkout reads the top-level folder
    if grammar.is_dir():
        for file in sorted(grammar.iterdir()):
            info = file.stat()
            entries.append(f"{file}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode("utf-8", "surrogateescape")).hexdigest()


def _dump_dependency(d: Dependency) -> list[Any]:
    base = None if d.base_dir is None else str(d.base_dir)
    return [d.name, base, d.current, str(d.found), _digest(d.text.encode("utf-8", "surrogatepass"))]


def _dependencies_unchanged(data: object) -> bool:
    """Whether every `extends` would find the same file today, with the same content."""
    if not isinstance(data, list):
        return False
    for item in data:
        name, base, current, found, digest = item
        parent = find_parent(name, None if base is None else Path(base), current)
        if parent is None or str(parent) != found:
            return False
        if _digest(parent.read_bytes()) != digest:
            return False
    return True


# -- the key ----------------------------------------------------------------------------------

#: The size of the cache key, in bytes.
KEY_BYTES = 32
_secrets: dict[Path, bytes] = {}


def key_path() -> Path:
    """Where this user's cache key lives: a configuration folder, never the cache's."""
    configured = os.environ.get("MAPPER_CONFIG_DIR")
    if configured:
        return Path(configured) / "cache-key"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "mapper" / "cache-key"
    if sys.platform == "win32":
        roaming = os.environ.get("APPDATA")
        if roaming:
            return Path(roaming) / "mapper" / "cache-key"
    return Path.home() / ".config" / "mapper" / "cache-key"


def _secret(folder: Path, create: bool) -> bytes | None:
    """This machine's cache key (made on the first store when CREATE), or None when there is
    none or it cannot be trusted: then nothing is read from or written to the cache."""
    path = key_path()
    if path in _secrets:
        return _secrets[path]
    if path.resolve().is_relative_to(folder.resolve()):
        return None  # a key kept with the entries would travel with them
    secret = _read_key(path)
    if secret is None and create and not path.exists() and not path.is_symlink():
        import secrets  # only once per machine

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        )
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(KEY_BYTES))
        secret = _read_key(path)
    if secret is not None:
        _secrets[path] = secret
    return secret


def _read_key(path: Path) -> bytes | None:
    data = _read_private(path, KEY_BYTES, strict=True)
    return data if data is not None and len(data) == KEY_BYTES else None


def _read_private(path: Path, limit: int, strict: bool = False) -> bytes | None:
    """PATH's bytes when it is a regular file of this user (STRICT: readable by nobody else)
    of at most LIMIT bytes, not a symlink; else None. O_NONBLOCK: a FIFO must not hang us."""
    flags = (
        os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        private = _private(info) and not (strict and hasattr(os, "getuid") and info.st_mode & 0o077)
        if not stat.S_ISREG(info.st_mode) or not private or info.st_size > limit:
            return None
        return file.read(limit + 1)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- files -------------------------------------------------------------------------------------


def _header(body: bytes, secret: bytes) -> bytes:
    mac = hmac.new(secret, MAGIC + b"%d" % plan_codec.FORMAT + body, hashlib.sha256).hexdigest()
    return MAGIC + b" %d " % plan_codec.FORMAT + mac.encode() + b"\n"


def _read(path: Path, secret: bytes) -> dict[str, Any] | None:
    content = _read_private(path, MAX_FILE_BYTES)
    if content is None:
        return None
    header, _, body = content.partition(b"\n")
    if not hmac.compare_digest(header, _header(body, secret)[:-1]):
        return None  # not written here with this key, another format, or corrupt or truncated
    data = json.loads(body)
    return data if isinstance(data, dict) else None


def _write(folder: Path, name: str, content: bytes) -> None:
    import tempfile  # only on a miss: 3 ms of start-up

    fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        os.replace(temp, folder / name)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _prune(folder: Path) -> None:
    """Keep the newest MAX_ENTRIES files; remove what an interrupted write left an hour ago."""
    with os.scandir(folder) as scan:
        found = [e for e in scan if e.name.endswith(".json") and e.is_file(follow_symlinks=False)]
    stale = time.time() - 3600
    for entry in found:
        if entry.name.startswith(".tmp-") and entry.stat().st_mtime < stale:
            Path(entry.path).unlink(missing_ok=True)
    entries = [e for e in found if not e.name.startswith(".")]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for entry in entries[: len(entries) - MAX_ENTRIES]:
        Path(entry.path).unlink(missing_ok=True)
