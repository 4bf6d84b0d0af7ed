"""Writing files that people keep in git: all at once, keeping what the file was."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write TEXT to PATH all at once (a crash leaves the old file, never half a new one).

    A symbolic link is followed: its target is formatted and the link stays. The
    file keeps its mode and owner; a read-only file is refused, not overwritten.
    """
    target = Path(os.path.realpath(path))
    info = target.stat()
    if not info.st_mode & 0o222:
        raise OSError(errno.EACCES, "it is read-only")
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary, stat.S_IMODE(info.st_mode))
        if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(temporary, info.st_uid, info.st_gid)
            except PermissionError:
                raise OSError(
                    errno.EPERM, "it belongs to another user, and would not keep its owner"
                ) from None
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_file(path: Path, text: str) -> None:
    """Write TEXT to PATH all at once: through write_atomically when PATH exists, else a
    temporary file beside it, renamed (a failed run leaves nothing half-written)."""
    if path.exists():
        write_atomically(path, text)
        return
    fd, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_private(path: Path, text: str) -> None:
    """Write TEXT to PATH all at once, readable by its owner only (0600): a file that holds
    personal data (a saved sync plan). A file already there is replaced, its mode not kept."""
    fd, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
