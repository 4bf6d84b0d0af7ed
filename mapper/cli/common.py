"""What every command shares: loading a ruleset, reading JSON inputs, checking and
writing outputs, progress, and the one error handler (:func:`run_action`) that turns every
user error into one line and its exit code."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mapper.core.styles import UpdateStyle
from mapper.errors import ExitCode, MapperError
from mapper.tools.bulk import LINE_SUFFIXES as LINE_SUFFIXES  # re-exported for the commands

if TYPE_CHECKING:
    from mapper.errors import Diagnostic, ProfileError
    from mapper.runtime.ruleset import Ruleset


STYLES = tuple(style.value for style in UpdateStyle)

#: sync's --match values (mapper.sync.decide.Match), written out: the command line starts
#: without importing the sync package (a test holds the two equal).
MATCHES = ("email", "externalId", "userName")


EXPLAIN_FORMATS = ("markdown", "mermaid", "text")


RULESET_HELP = "A ruleset file, or the name of a built-in ruleset."


QUIET_HELP = "Do not print the ruleset's warnings."


class CommandFailure(MapperError):
    """A command's failure, already worded: one line per problem, and its exit code."""

    def __init__(self, lines: list[str], code: ExitCode) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.code = self.exit_code = code

    def __reduce__(self) -> tuple[type[CommandFailure], tuple[list[str], ExitCode]]:
        # Raised in a worker process (plan --jobs reads the exports there), it is pickled back
        # to the parent: without this, unpickling called __init__ with the message alone, and
        # the pool waited for ever.
        return type(self), (self.lines, self.code)


def counted(number: int, noun: str) -> str:
    """NUMBER of NOUN, for a summary line: ``1 user``, ``1,200 users``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def fail_with(lines: list[str], code: ExitCode) -> NoReturn:
    """Stop the command: LINES on standard error, exit CODE."""
    raise CommandFailure(lines, code)


def load_ruleset(ruleset: str, quiet: bool = False, cache: bool = True) -> Ruleset:
    """The compiled ruleset; its warnings go to standard error (once) unless QUIET.
    CACHE=False for the tools that read the rules' syntax (a cached plan has none)."""
    from mapper.errors import RulesetError
    from mapper.runtime.ruleset import load

    try:
        compiled = load(ruleset, cache)
    except RulesetError as exc:
        fail_with(diagnostic_lines(exc.errors), ExitCode.USAGE)
    if not quiet:
        print_warnings(compiled.warnings)
    return compiled


def print_warnings(warnings: tuple[Diagnostic, ...]) -> None:
    """Print WARNINGS on standard error, as diagnostic_lines formats them."""
    for line in diagnostic_lines(warnings):
        click.echo(line, err=True)


def diagnostic_lines(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> list[str]:
    """Diagnostics as the CLI prints them: each with its line and caret, when it has one."""
    return [d.format() for d in diagnostics]


def read_json(name: str) -> Any:
    """A profile document from a file or '-' (stdin); one clear line when it cannot be read: exit 2
    for a file that cannot be opened (as every unreadable file), 1 for one that is not JSON (bad data)."""
    from mapper.core import jsonio

    label = "<stdin>" if name == "-" else name
    if name == "-" and sys.stdin is None:
        fail_with(["mapper: <stdin>: standard input is closed"], ExitCode.USAGE)
    try:
        # A document longer than the maximum record is refused, never held whole.
        with open(name, "rb") if name != "-" else contextlib.nullcontext(sys.stdin.buffer) as stream:
            data, size = jsonio.read_record(stream)
    except IsADirectoryError:
        fail_with([f"mapper: {label}: is a directory"], ExitCode.USAGE)
    except FileNotFoundError:
        fail_with([f"mapper: {label}: no such file"], ExitCode.USAGE)
    except OSError as exc:
        fail_with([f"mapper: {label}: {exc.strerror or 'cannot be read'}"], ExitCode.USAGE)
    try:
        if size > jsonio.MAX_RECORD_BYTES:
            raise jsonio.RecordTooLarge(label, jsonio.too_large(size))
        return jsonio.parse(data, label)
    except jsonio.JsonInputError as exc:
        fail_with([f"mapper: {exc}"], ExitCode.FAILED)


def profile_problem(error: ProfileError, show_values: bool) -> str:
    """The error's message; with SHOW_VALUES, the offending value too (shortened, ASCII)."""
    from mapper.errors import NO_VALUE, shown_value

    if not show_values or error.value is NO_VALUE:
        return str(error)
    return f"{error} (value: {shown_value(error.value)})"


def dump_json(document: Any, compact: bool) -> str:
    """DOCUMENT as JSON text ending in a newline: on one line when COMPACT, else indented by two."""
    if compact:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_stdout(text: str) -> None:
    """All output in one write, encoded first, so a failure never leaves half a document."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        fail_with(
            [
                "mapper: the output would hold text that is not valid Unicode (a lone surrogate, such as \\ud800, in the input)"
            ],
            ExitCode.FAILED,
        )
    write_stdout_bytes(data)


def write_stdout_bytes(data: bytes) -> None:
    """DATA to standard output, every byte of it, or one clear line and exit code 3."""
    if sys.stdout is None:
        fail_with(["mapper: the output is closed (standard output is not open)"], ExitCode.OUTPUT)
    try:
        sys.stdout.flush()
        try:
            fd = sys.stdout.fileno()
        except (OSError, ValueError):  # not a real file (a test harness, an embedding program)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            _write_all(fd, data)
    except BrokenPipeError:
        # The reader went away (`mapper render ... | head`). Point stdout at devnull
        # so that the interpreter's last flush is quiet, and say so once.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail_with(
            ["mapper: the output was closed before all of it was written (broken pipe)"], ExitCode.OUTPUT
        )
    except OSError as exc:
        fail_with([f"mapper: cannot write the output: {exc.strerror or exc}"], ExitCode.OUTPUT)


def _write_all(fd: int, data: bytes) -> None:
    """Every byte of DATA to FD: a pipe whose reader leaves takes part of a large write
    and then refuses the rest, which a buffered writer can report as success."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise BrokenPipeError(errno.EPIPE, "nothing was written")
        view = view[written:]


def run_action(action: Any) -> None:
    """Run ACTION; a failure ends the process with one line on standard error and its exit code
    (a CommandFailure's or MapperError's own, 130 when interrupted, 70 for anything else: a bug)."""
    try:
        action()
    except CommandFailure as failure:
        for line in failure.lines:
            click.echo(line, err=True)
        sys.exit(failure.code)
    except MapperError as error:  # every error a user can cause carries its exit code
        from mapper.markup import visible

        click.echo(f"mapper: {visible(str(error))}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("mapper: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: still one line, and a code that says so
        click.echo(f"mapper: internal error ({type(exc).__name__}: {exc}); please report it", err=True)
        sys.exit(ExitCode.INTERNAL)


def input_blocks(names: list[str], all_lines: bool, by_position: bool = False) -> Any:
    """The blocks of every input file (``-``: standard input), read as JSON Lines when its
    name says so (.jsonl, .ndjson) or ALL_LINES; one clear line for a file that cannot be read.
    BY_POSITION: regular JSON Lines files as spans for worker processes to read themselves."""
    import stat

    from mapper.tools import bulk

    for name in names:
        lines = all_lines or name.endswith(LINE_SUFFIXES) or name == "-"
        if name == "-" and sys.stdin is None:
            fail_with(["mapper: <stdin>: standard input is closed"], ExitCode.USAGE)
        try:
            status = os.stat(name) if by_position and lines and name != "-" else None
            # Spans where the size says where the lines are (a file of /proc says 0 and is read).
            if status is not None and stat.S_ISREG(status.st_mode) and status.st_size > 0:
                yield from bulk.file_spans(name)
                continue
            with open(name, "rb") if name != "-" else contextlib.nullcontext(sys.stdin.buffer) as stream:
                yield from bulk.blocks(name, stream, lines)
        except FileNotFoundError:
            fail_with([f"mapper: {name}: no such file"], ExitCode.USAGE)
        except IsADirectoryError:
            fail_with([f"mapper: {name}: is a directory"], ExitCode.USAGE)
        except OSError as exc:
            fail_with([f"mapper: {name}: {exc.strerror or 'cannot be read'}"], ExitCode.USAGE)


def progress_bar(total: int | None, quiet: bool, unit: str = "B") -> tuple[Any, Any]:
    """Functions to call with each record's size (or, for another UNIT than bytes, with the
    number of things done), and at the end: a progress bar on standard error when it is a
    terminal (count, rate, and an ETA when the total is known), else nothing. The one
    progress bar of every command.

    tqdm: small, pure Python, with no dependencies, and it draws nothing on a pipe; rich
    would bring a whole terminal toolkit for one bar."""
    if quiet or sys.stderr is None or not sys.stderr.isatty():
        return (lambda size=1, records=0: None), (lambda: None)
    from tqdm import tqdm

    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns or 80  # 0 on a sizeless pty
    except OSError:
        columns = 80
    scaled = {"unit": "B", "unit_scale": True, "unit_divisor": 1024} if unit == "B" else {"unit": f" {unit}"}
    bar = tqdm(total=total, file=sys.stderr, leave=False, mininterval=0.2, desc="mapper",
               ncols=min(columns, 100), **scaled)  # fmt: skip
    count = 0

    def advance(size: int = 1, records: int = 0) -> None:
        nonlocal count
        count += records
        if size:  # not when only records are counted: bytes may be counted in another thread
            bar.update(size)
        if records:
            bar.set_postfix_str(f"{count:,} records", refresh=False)

    return advance, bar.close


def emit_batch(batch: list[bytes], spool: Any) -> None:
    """Write the chunks in BATCH in one piece, to SPOOL (else standard output), and empty BATCH."""
    if batch:
        data = b"".join(batch)
        batch.clear()
        if spool is not None:
            spool.write(data)
        else:
            write_stdout_bytes(data)


@contextlib.contextmanager
def output_stream(output: str | None) -> Any:
    """A writer of bytes: to FILE through a temporary file renamed at the end (nothing
    half-written), or to standard output in batches."""

    batch: list[bytes] = []
    if output is None:

        def write(data: bytes) -> None:
            batch.append(data)
            if len(batch) >= 1000:
                emit_batch(batch, None)

        yield write
        emit_batch(batch, None)
        return
    from mapper.tools.files import output_file

    with output_file(Path(output)) as spool:
        yield spool.write


def check_outputs(outputs: dict[str, str | Path | None], inputs: list[str]) -> None:
    """Every output path usable before any work (exit 2, one line each): see output_problem."""
    from mapper.tools.files import in_place, output_problem

    problems: list[str] = []
    seen: dict[str, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        problem = output_problem(Path(path), inputs)
        key = os.path.realpath(path)
        if problem is None and key in seen and not in_place(Path(path)):
            problem = f"the same file as {seen[key]}"
        seen[key] = flag
        if problem:
            problems.append(f"mapper: {flag} {path}: {problem}")
    if problems:
        fail_with(problems, ExitCode.USAGE)


def save_file(path: Path, text: str, private: bool = False) -> None:
    """TEXT into PATH all at once (nothing half-written); PRIVATE (0600) when it can hold
    personal data. A failed write is an OutputError (exit 3, one line)."""
    from mapper.tools.files import write_output

    write_output(path, text, private)
