"""Writing output files: all at once, keeping what the file was, and never replacing what
is not a regular file.

Every command's output paths are checked before any work (:func:`output_problem`: a
missing folder, a folder, an input named as output: exit 2), and written through one of
the writers here. A regular file (or a new one) is written to a temporary file beside it
and renamed over it at the end, so a failed run leaves the old file, never half a new one.
Anything else (a FIFO, a character device such as ``/dev/null``, ``/dev/stdout``, any
path under ``/dev`` or ``/proc``) is written in place, all at once at the end: replacing
it would take it away from whoever reads it. A write that fails is an OutputError (exit 3).
:func:`written_behind` hands a long output's writes to a thread, to overlap the work.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from mapper.errors import ExitCode, MapperError


class OutputError(MapperError):
    """An output that could not be written (exit 3)."""

    exit_code = ExitCode.OUTPUT


def in_place(path: Path) -> bool:
    """Whether PATH is written where it is, not replaced: it exists and is not a regular file
    (a FIFO, a device), or it lies under /dev or /proc (``/dev/stdout`` leads to the file or
    pipe the shell opened, which a rename would take away from it)."""
    if os.path.abspath(path).startswith(("/dev/", "/proc/")):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def output_problem(path: Path, inputs: Iterable[str | Path] = ()) -> str | None:
    """Why PATH cannot be written as an output (None when it can), checked before any work:
    its folder is missing or not writable, it is a folder, or it is one of INPUTS."""
    if path.is_dir():
        return "is a folder"
    if in_place(path):
        if path.exists() and not os.access(path, os.W_OK):
            return "not writable"
        return None
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return "not writable"
    if not os.access(folder, os.W_OK | os.X_OK):  # replaced through a temporary file beside it
        return f"the folder {folder} is not writable"
    target = os.path.realpath(path)
    for name in inputs:
        if str(name) != "-" and os.path.exists(name) and os.path.realpath(name) == target:
            return f"the same file as the input {name}"
    return None


class _Writer:
    """What an output's writes go through: a failed write is an OutputError naming PATH."""

    def __init__(self, handle: IO[bytes], path: Path) -> None:
        self.handle, self.path = handle, path

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except OSError as exc:
            raise _failed(self.path, exc) from None


def _failed(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: {exc.strerror or exc}; nothing was written there")


@contextlib.contextmanager
def output_file(path: Path, private: bool = True) -> Iterator[_Writer]:
    """A writer whose bytes become PATH's content when the block ends without an error, all
    at once (PRIVATE: mode 0600, for files that hold personal data; else as the umask says).
    Nothing is written when the block raises."""
    if in_place(path):
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
            yield _Writer(spool, path)
            spool.seek(0)
            try:
                with open(path, "wb") as out:
                    shutil.copyfileobj(spool, out, 1 << 20)
            except OSError as exc:
                raise _failed(path, exc) from None
        return
    try:
        fd, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _failed(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield _Writer(handle, path)
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as exc:
        raise _failed(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


@contextlib.contextmanager
def written_behind(write: Callable[[bytes], object], depth: int = 2) -> Iterator[Callable[[bytes], None]]:
    """A function that hands its bytes to WRITE in a thread of its own, in order, so that a
    write waiting on the disk or a pipe overlaps the work that makes the next bytes (the
    system call lets the interpreter go). At most DEPTH chunks wait, so memory stays flat.
    The thread starts with the first chunk: processes forked before it (render --jobs)
    are forked from a process with one thread.

    What WRITE raises (an OutputError, a failure to report) is raised in the caller's thread:
    by the next call after it, else when the block ends, which waits for every write. A block
    that raises also waits for the chunks handed before, so what was made before the error
    is written whole, as it would be without the thread; except on an interrupt (Ctrl-C),
    which drops the chunks still waiting and does not wait for the write under way (a pipe
    nobody reads would hold it for ever).
    """
    chunks: queue.Queue[bytes | None] = queue.Queue(depth)
    failure: list[BaseException] = []
    stop = threading.Event()
    writer: list[threading.Thread] = []  # started by the first chunk

    def drain() -> None:
        while (chunk := chunks.get()) is not None:
            if failure or stop.is_set():
                continue  # after a failure, or for a caller interrupted: dropped
            try:
                write(chunk)
            except BaseException as exc:  # raised again in the caller's thread
                failure.append(exc)

    def put(chunk: bytes) -> None:
        if failure:
            raise failure[0]
        if not writer:
            writer.append(threading.Thread(target=drain, name="mapper-output", daemon=True))
            writer[0].start()
        chunks.put(chunk)

    try:
        yield put
    except KeyboardInterrupt:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                chunks.get_nowait()
        chunks.put_nowait(None)  # room for it: the queue was just emptied, and only we fill it
        raise
    finally:  # on any other error too: what was made before it, written whole
        if writer and not stop.is_set():
            chunks.put(None)
            writer[0].join()
    if failure:
        raise failure[0]


class _TextWriter:
    def __init__(self, handle: IO[str], path: Path) -> None:
        self.handle, self.path = handle, path

    def write(self, text: str) -> int:
        try:
            return self.handle.write(text)
        except OSError as exc:
            raise _failed(self.path, exc) from None


@contextlib.contextmanager
def report_file(path: Path) -> Iterator[_TextWriter]:
    """A text file written as the run goes (a report of failures), opened in place; a failed
    open, write or close is an OutputError naming PATH."""
    try:  # a new file is private (0600): it can name users; an existing one is written in place
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        handle = open(fd, "w", encoding="utf-8")  # noqa: SIM115 - closed below, its error reported
    except OSError as exc:
        raise _failed(path, exc) from None
    try:
        yield _TextWriter(handle, path)
    finally:
        try:
            handle.close()
        except OSError as exc:
            raise _failed(path, exc) from None


def write_atomically(path: Path, text: str) -> None:
    """Rewrite a file the user keeps (a ruleset for ``mapper fmt``, an examples file for
    ``mapper test --update``) all at once: a crash leaves the old file, never half a new one.

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


def write_output(path: Path, text: str, private: bool) -> None:
    """TEXT as PATH's content, all at once, through output_file: the one writer of a
    command's output files. The one permission policy: PRIVATE (mode 0600) for a file
    that can hold personal data (resources, plans, failure reports), else as the umask
    says (an exported ruleset or Terraform file, meant for a repository)."""
    with output_file(path, private) as out:
        out.write(text.encode("utf-8"))
