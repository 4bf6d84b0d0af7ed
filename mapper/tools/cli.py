"""The ``mapper`` command line. Only argument handling and output live here:
everything it does is the Python API's.

Exit codes: 0 success; 1 bad data (a profile that cannot be read or mapped,
or output that fails --validate); 2 a bad ruleset or bad usage; 3 the output
could not be written (a closed pipe, a full disk); 70 an internal error (a
bug: one line, no traceback); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mapper import __version__
from mapper.errors import MapperError
from mapper.tools.options import FiniteRange

# Only click and the standard library are imported up front: `mapper --help` and
# `--version` load nothing else, and each command imports what it uses.
if TYPE_CHECKING:
    from mapper.errors import Diagnostic, ProfileError
    from mapper.runtime.ruleset import Ruleset

EXIT_OK, EXIT_DATA, EXIT_RULESET, EXIT_OUTPUT = 0, 1, 2, 3
EXIT_USAGE = 2  # bad usage, an unreadable file or an unusable output path
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130

# The same as mapper.runtime.patch.STYLES and mapper.tools.explain.FORMATS (a test keeps them equal),
# written here so that building the command line imports neither.
STYLES = ("rfc", "no-path", "whole-multivalued", "put")
EXPLAIN_FORMATS = ("markdown", "mermaid", "text")

_RULESET_HELP = "A ruleset file, or the name of a built-in ruleset."
_QUIET_HELP = "Do not print the ruleset's warnings."


class _Failure(Exception):
    def __init__(self, lines: list[str], code: int) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.code = code


def _fail(lines: list[str], code: int) -> NoReturn:
    raise _Failure(lines, code)


def _load(ruleset: str, quiet: bool = False, cache: bool = True) -> Ruleset:
    """The compiled ruleset; its warnings go to standard error (once) unless QUIET.
    CACHE=False for the tools that read the rules' syntax (a cached plan has none)."""
    from mapper.errors import RulesetError
    from mapper.runtime.ruleset import load

    try:
        compiled = load(ruleset, cache)
    except RulesetError as exc:
        _fail(diagnostic_lines(exc.errors), EXIT_RULESET)
    if not quiet:
        _warn(compiled.warnings)
    return compiled


def _warn(warnings: tuple[Diagnostic, ...]) -> None:
    for line in diagnostic_lines(warnings):
        click.echo(line, err=True)


def diagnostic_lines(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> list[str]:
    """Diagnostics as the CLI prints them: each with its line and caret, when it has one."""
    return [d.format() for d in diagnostics]


def _read_json(name: str) -> Any:
    """A profile document from a file or '-' (stdin); one clear line when it cannot be read."""
    from mapper.tools import jsonio

    label = "<stdin>" if name == "-" else name
    if name == "-" and sys.stdin is None:
        _fail(["mapper: <stdin>: standard input is closed"], EXIT_DATA)
    try:
        # A document longer than the maximum record is refused, never held whole.
        with open(name, "rb") if name != "-" else contextlib.nullcontext(sys.stdin.buffer) as stream:
            data, size = jsonio.read_record(stream)
    except IsADirectoryError:
        _fail([f"mapper: {label}: is a directory"], EXIT_DATA)
    except FileNotFoundError:
        _fail([f"mapper: {label}: no such file"], EXIT_DATA)
    except OSError as exc:
        _fail([f"mapper: {label}: {exc.strerror or 'cannot be read'}"], EXIT_DATA)
    try:
        if size > jsonio.MAX_RECORD_BYTES:
            raise jsonio.RecordTooLarge(label, jsonio.too_large(size))
        return jsonio.parse(data, label)
    except jsonio.JsonInputError as exc:
        _fail([f"mapper: {exc}"], EXIT_DATA)


def _problem(error: ProfileError, show_values: bool) -> str:
    """The error's message; with SHOW_VALUES, the offending value too (shortened, ASCII)."""
    from mapper.errors import NO_VALUE, shown_value

    if not show_values or error.value is NO_VALUE:
        return str(error)
    return f"{error} (value: {shown_value(error.value)})"


def _dumps(document: Any, compact: bool) -> str:
    if compact:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _write(text: str) -> None:
    """All output in one write, encoded first, so a failure never leaves half a document."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        _fail(
            [
                "mapper: the output would hold text that is not valid Unicode (a lone surrogate, such as \\ud800, in the input)"
            ],
            EXIT_DATA,
        )
    _write_bytes(data)


def _write_bytes(data: bytes) -> None:
    """DATA to standard output, every byte of it, or one clear line and exit code 3."""
    if sys.stdout is None:
        _fail(["mapper: the output is closed (standard output is not open)"], EXIT_OUTPUT)
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
        _fail(["mapper: the output was closed before all of it was written (broken pipe)"], EXIT_OUTPUT)
    except OSError as exc:
        _fail([f"mapper: cannot write the output: {exc.strerror or exc}"], EXIT_OUTPUT)


def _write_all(fd: int, data: bytes) -> None:
    """Every byte of DATA to FD: a pipe whose reader leaves takes part of a large write
    and then refuses the rest, which a buffered writer can report as success."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise BrokenPipeError(errno.EPIPE, "nothing was written")
        view = view[written:]


def _run(action: Any) -> None:
    try:
        action()
    except _Failure as failure:
        for line in failure.lines:
            click.echo(line, err=True)
        sys.exit(failure.code)
    except MapperError as error:  # every error a user can cause carries its exit code
        from mapper.markup import visible

        click.echo(f"mapper: {visible(str(error))}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("mapper: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: still one line, and a code that says so
        click.echo(f"mapper: internal error ({type(exc).__name__}: {exc}); please report it", err=True)
        sys.exit(EXIT_INTERNAL)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mapper")  # not importlib.metadata: 30 ms
def main() -> None:
    """Map Okta user profiles to SCIM 2.0 with a reviewed ruleset.

    Exit codes: 0 success; 1 bad data (a profile, or output that fails
    --validate); 2 a bad ruleset, an unreadable file, or bad usage; 3 the
    output could not be written; 70 an internal error (a bug, one line);
    130 interrupted.
    """


@main.command()
@click.argument("profiles", nargs=-1, required=True, metavar="PROFILE...")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=_RULESET_HELP)
@click.option(
    "--validate", is_flag=True, help="Check each resource with scim2-models and mapper's shape rules."
)
@click.option(
    "--compact", is_flag=True, help="One line of JSON per resource (JSON Lines) instead of indented JSON."
)
@click.option(
    "--jsonl",
    is_flag=True,
    help="Stream JSON Lines: one profile per line in (also from -), one resource per line out. "
    "On by itself for .jsonl/.ndjson files and folders.",
)
@click.option(
    "-o", "--output", metavar="FILE", help="With JSON Lines: write to FILE, all at once, instead of stdout."
)
@click.option(
    "--errors", "errors_to", metavar="FILE", help="With JSON Lines: also write each failure to FILE (JSONL)."
)
@click.option(
    "--fail-fast", is_flag=True, help="With JSON Lines: stop at the first failure and write no resource."
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With JSON Lines: render in this many processes (the output keeps the input's order).",
)
@click.option(
    "--show-values", is_flag=True, help="Show the offending value in error messages (they are personal data)."
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print the ruleset's warnings or the summary line.")
def render(
    profiles: tuple[str, ...],
    ruleset: str,
    validate: bool,
    compact: bool,
    jsonl: bool,
    output: str | None,
    errors_to: str | None,
    fail_fast: bool,
    jobs: int,
    show_values: bool,
    quiet: bool,
) -> None:
    """Render Okta profiles as SCIM User resources.

    Each PROFILE is a JSON file (or - for standard input) holding an Okta
    profile object or an Okta Users API user ({"id", "status", "profile"}).
    One PROFILE prints one JSON object; several print a JSON array, in order
    (with --compact, one line per resource). Nothing is printed unless every
    profile renders.

    JSON Lines (.jsonl or .ndjson files, folders, or --jsonl) stream instead:
    a line per resource, in input order; a record that fails is reported as
    FILE:LINE on stderr (and in --errors) and the others are still written;
    exit 1 when any failed. A summary line ends the run.
    """
    streaming = jsonl or any(p.endswith(_LINE_SUFFIXES) or (p != "-" and Path(p).is_dir()) for p in profiles)

    def action() -> None:
        if streaming:
            _render_stream(
                profiles, ruleset, validate, output, errors_to, fail_fast, show_values, quiet, jsonl, jobs
            )
            return
        if output is not None or errors_to is not None or fail_fast or jobs != 1:
            _fail(
                ["mapper: -o, --errors, --fail-fast and --jobs are for JSON Lines (see --jsonl)"],
                EXIT_RULESET,
            )
        from mapper.errors import ProfileError

        compiled = _load(ruleset, quiet)
        resources: list[dict[str, Any]] = []
        problems: list[str] = []
        for name in profiles:
            label = "<stdin>" if name == "-" else name
            try:
                resource = compiled.render(_read_json(name))
            except ProfileError as exc:
                problems.append(f"mapper: {label}: {_problem(exc, show_values)}")
                continue
            except _Failure as failure:
                problems.extend(failure.lines)
                continue
            if validate:
                from mapper.tools.validate import validate as check_resource

                problems.extend(
                    f"mapper: {label}: invalid SCIM: {p.describe(show_values)}"
                    for p in check_resource(resource, compiled.plan)
                )
            resources.append(resource)
        if problems:
            _fail(problems, EXIT_DATA)
        if compact:
            _write("".join(_dumps(resource, compact=True) for resource in resources))
        else:
            _write(_dumps(resources[0] if len(profiles) == 1 else resources, compact=False))

    _run(action)


_LINE_SUFFIXES = (".jsonl", ".ndjson")


def _render_stream(
    profiles: tuple[str, ...],
    ruleset: str,
    validate: bool,
    output: str | None,
    errors_to: str | None,
    fail_fast: bool,
    show_values: bool,
    quiet: bool,
    all_lines: bool,
    jobs: int,
) -> None:
    """JSON Lines through the ruleset; see the render command's help."""
    import tempfile
    import time

    from mapper.errors import NO_VALUE, shown_value
    from mapper.tools import bulk
    from mapper.tools.files import output_file, report_file

    compiled = _load(ruleset, quiet)
    check = None
    if validate:
        from mapper.tools.validate import validate as check_resource

        def check(resource: dict[str, Any]) -> list[Any]:
            return check_resource(resource, compiled.plan)

    try:
        names = list(bulk.expand(profiles))
    except bulk.EmptyFolder as exc:
        _fail([f"mapper: {exc}"], EXIT_DATA)
    _check_outputs({"-o": output, "--errors": errors_to}, names)
    progress, progress_done = _progress(bulk.total_bytes(names), quiet)

    def all_blocks(by_position: bool = False) -> Any:
        for block in _input_blocks(names, all_lines, by_position):
            progress(block.size, block.data.count(b"\n") if isinstance(block, bulk.Block) else 0)
            yield block

    # Resources go to a temporary file beside the output (or a spooled one for stdout with
    # --fail-fast), so that an interrupted or failed run leaves no half-written file.
    rendered = failed = 0
    started = time.perf_counter()
    batch: list[bytes] = []
    with contextlib.ExitStack() as stack:
        stack.callback(progress_done)
        spool: Any = None
        if output:
            spool = stack.enter_context(output_file(Path(output)))
        elif fail_fast:
            spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=64 << 20))
        errors_file = stack.enter_context(report_file(Path(errors_to))) if errors_to else None

        def report(failure: bulk.Failure) -> None:
            shown = (
                f" (value: {shown_value(failure.value)})"
                if show_values and failure.value is not NO_VALUE
                else ""
            )
            where = f"{failure.source}:{failure.line}: " if failure.source else ""
            click.echo(f"mapper: {where}{failure.message}{shown}", err=True)
            if errors_file is not None:
                errors_file.write(failure.as_json())

        if jobs > 1:
            outcomes = bulk.render_parallel(ruleset, validate, all_blocks(by_position=True), jobs)
        else:
            outcomes = (bulk.render_block(compiled.render, block, check) for block in all_blocks())
        for outcome in outcomes:
            for failure in outcome.failures[:1] if fail_fast else outcome.failures:
                report(failure)
            failed += len(outcome.failures)
            if fail_fast and outcome.failures:
                break
            rendered += outcome.count
            batch.append(outcome.data)
            _emit(batch, spool)
        _emit(batch, spool)
        if fail_fast and failed:
            raise _Failure([], EXIT_DATA)
        if output:
            pass  # output_file puts it in place when the block ends
        elif spool is not None:
            spool.seek(0)
            while chunk := spool.read(1 << 20):
                _write_bytes(chunk)
    if not quiet:
        seconds = time.perf_counter() - started
        rate = f", {rendered / seconds:,.0f} profiles/s" if seconds > 0 and rendered else ""
        click.echo(f"mapper: rendered {rendered:,}, failed {failed:,} in {seconds:.2f} s{rate}", err=True)
    if failed:
        sys.exit(EXIT_DATA)


def _input_blocks(names: list[str], all_lines: bool, by_position: bool = False) -> Any:
    """The blocks of every input file (``-``: standard input), read as JSON Lines when its
    name says so (.jsonl, .ndjson) or ALL_LINES; one clear line for a file that cannot be read.
    BY_POSITION: regular JSON Lines files as spans for worker processes to read themselves."""
    import stat

    from mapper.tools import bulk

    for name in names:
        lines = all_lines or name.endswith(_LINE_SUFFIXES) or name == "-"
        if name == "-" and sys.stdin is None:
            _fail(["mapper: <stdin>: standard input is closed"], EXIT_DATA)
        try:
            if by_position and lines and name != "-" and stat.S_ISREG(os.stat(name).st_mode):
                yield from bulk.file_spans(name)
                continue
            with open(name, "rb") if name != "-" else contextlib.nullcontext(sys.stdin.buffer) as stream:
                yield from bulk.blocks(name, stream, lines)
        except FileNotFoundError:
            _fail([f"mapper: {name}: no such file"], EXIT_DATA)
        except IsADirectoryError:
            _fail([f"mapper: {name}: is a directory"], EXIT_DATA)
        except OSError as exc:
            _fail([f"mapper: {name}: {exc.strerror or 'cannot be read'}"], EXIT_DATA)


def _progress(total: int | None, quiet: bool) -> tuple[Any, Any]:
    """Functions to call with each record's size, and at the end: a progress bar on standard
    error when it is a terminal (count, rate, and an ETA when the input's size is known),
    else nothing.

    tqdm: small, pure Python, with no dependencies, and it draws nothing on a pipe; rich
    would bring a whole terminal toolkit for one bar."""
    if quiet or sys.stderr is None or not sys.stderr.isatty():
        return (lambda size, records=0: None), (lambda: None)
    from tqdm import tqdm

    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns or 80  # 0 on a sizeless pty
    except OSError:
        columns = 80
    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False,
               mininterval=0.2, desc="mapper", ncols=min(columns, 100))  # fmt: skip
    count = 0

    def advance(size: int, records: int = 0) -> None:
        nonlocal count
        count += records
        bar.update(size)
        if records:
            bar.set_postfix_str(f"{count:,} records", refresh=False)

    return advance, bar.close


def _count_progress(total: int | None, unit: str, quiet: bool) -> tuple[Any, Any]:
    """As _progress, counting things (users) rather than bytes."""
    if quiet or sys.stderr is None or not sys.stderr.isatty():
        return (lambda: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, unit=f" {unit}", file=sys.stderr, leave=False, mininterval=0.2, desc="mapper")
    return (lambda: bar.update(1)), bar.close


def _emit(batch: list[bytes], spool: Any) -> None:
    if batch:
        data = b"".join(batch)
        batch.clear()
        if spool is not None:
            spool.write(data)
        else:
            _write_bytes(data)


@main.command()
@click.argument("rulesets", nargs=-1, required=True, metavar="RULESET...")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: for people; json: one array of diagnostics; github: workflow annotations on the pull request.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--schemas",
    "discovery",
    multiple=True,
    metavar="FILE|URL",
    help="Check against the app's own schema: its GET /Schemas (and /ResourceTypes) responses as "
    "files, or its SCIM base URL. Repeatable.",
)
@click.option(
    "--token-env",
    default="SCIM_TOKEN",
    show_default=True,
    metavar="NAME",
    help="The environment variable holding the bearer token for a --schemas URL.",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=FiniteRange(min=0.1, max=3600),
    help="Seconds each answer of a --schemas URL may take, from the request to its last byte.",
)
@click.option(
    "--max-response-mb",
    default=16,
    show_default=True,
    type=click.IntRange(1, 1024),
    metavar="MB",
    help="A longer answer from a --schemas URL is an error.",
)
@click.option(
    "--allow-http",
    is_flag=True,
    help="Send the token to a plain http:// --schemas URL on another host (in clear text).",
)
def check(
    rulesets: tuple[str, ...],
    output_format: str,
    strict: bool,
    discovery: tuple[str, ...],
    token_env: str,
    timeout: float,
    max_response_mb: int,
    allow_http: bool,
) -> None:
    """Check rulesets and print every error and warning.

    Each RULESET is a file, a folder (every .mapper file in it) or a built-in
    name. With --schemas, every target must also exist in the app's schema,
    spelled exactly as the app spells it, with a compatible type and not
    read-only; attributes the app requires that no rule sets are warnings.
    Exits 2 when any ruleset has an error (or, with --strict, a warning), else 0.
    """

    def action() -> None:
        from mapper.tools import checking

        app = _app_schemas(discovery, token_env, timeout, max_response_mb, allow_http) if discovery else None
        results = [checking.check_one(name, app) for name in checking.expand(list(rulesets))]
        _write(checking.render(results, output_format, strict))
        if any(r.failed(strict) for r in results):
            sys.exit(EXIT_RULESET)

    _run(action)


def _app_schemas(
    sources: tuple[str, ...],
    token_env: str,
    timeout: float,
    max_response_mb: int = 16,
    allow_http: bool = False,
) -> Any:
    """The app's schemas from discovery files and base URLs (token from TOKEN_ENV, never a flag)."""
    from mapper.core.http import base_url_problem, clear_text_to_another_host, shown_url
    from mapper.runtime import app_schema

    documents: list[object] = []
    try:
        for source in sources:
            token = os.environ.get(token_env) or None
            if "://" in source:  # a URL (base_url_problem refuses all but http and https)
                problem = base_url_problem(source)
                if problem:
                    _fail([f"mapper: --schemas {shown_url(source)}: {problem}"], EXIT_USAGE)
                if token and not allow_http and clear_text_to_another_host(source):
                    _fail([f"mapper: --schemas {source}: plain http to another host would send the token in "
                           f"{token_env} in clear text: use https (or --allow-http)"], EXIT_RULESET)  # fmt: skip
                documents += app_schema.fetch_discovery(source, token, timeout, max_response_mb << 20)
            else:
                documents.append(_read_json(source))
        return app_schema.read_discovery(*documents)
    except app_schema.DiscoveryError as exc:
        _fail([f"mapper: --schemas: {exc}"], EXIT_DATA)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if any file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff instead of writing files.")
def fmt(paths: tuple[Path, ...], check_only: bool, show_diff: bool) -> None:
    """Format ruleset files in place, in the one canonical layout.

    Each PATH is a .mapper file or a folder (searched for .mapper files).
    Comments stay where their authors put them, and formatting never changes
    what a ruleset means. Exits 0 when nothing needs changing (or everything
    was written), 1 when --check or --diff finds files to change, 2 when a
    file cannot be read or parsed.
    """

    def action() -> None:
        from mapper.tools import fmt as layout

        outcome = layout.run(list(paths), write=not (check_only or show_diff), diff=show_diff)
        if outcome.output:
            _write(outcome.output)
        for line in outcome.messages:
            click.echo(line, err=True)
        sys.exit(outcome.exit_code)

    _run(action)


@main.command()
@click.argument("ruleset", metavar="RULESET")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(EXPLAIN_FORMATS),
    default="markdown",
    show_default=True,
    help="markdown: one table, a row per rule; mermaid: a flowchart from Okta to SCIM attributes; "
    "text: a block per rule, for a terminal.",
)
@click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP)
def explain(ruleset: str, output_format: str, quiet: bool) -> None:
    """Show what a ruleset maps: a table, a diagram, or text.

    RULESET is a file or a built-in name. For each rule: the Okta source
    attributes, the transform, the SCIM target and its schema, when the rule
    applies, its default, and where inherited rules come from.
    """

    def action() -> None:
        from mapper.tools import explain as explaining

        _write(explaining.explain(_load(ruleset, quiet, cache=False), output_format))

    _run(action)


@main.command("test")
@click.argument("paths", nargs=-1, metavar="[PATH]...", type=click.Path(path_type=Path))
@click.option(
    "--strict",
    is_flag=True,
    help="Fail when a rule has no example that covers it, or a ruleset has no examples.",
)
@click.option(
    "--update",
    is_flag=True,
    help="Write the current output into examples that have no expectation yet, and show what was written.",
)
@click.option(
    "--refresh",
    "refresh",
    multiple=True,
    metavar="NAME",
    help="Rewrite the expectation of the example NAME with the current output, and show what changed "
    "(repeatable).",
)
@click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP)
def test_command(
    paths: tuple[Path, ...], strict: bool, update: bool, refresh: tuple[str, ...], quiet: bool
) -> None:
    """Run the examples that live beside rulesets (NAME.examples.json).

    With no PATH, runs every examples file under ./rulesets. A PATH is an
    examples file, a ruleset (its examples file), or a folder. Exits 0 when
    every example passes, 1 when one fails (or, with --strict, when a rule
    has no example or a ruleset no examples file), 2 when a file or ruleset
    cannot be read.
    """

    def action() -> None:
        from mapper.tools import examples

        targets = list(paths) or [Path("rulesets")]
        outcome = examples.run(targets, strict, update, frozenset(refresh), warn=None if quiet else _warn)
        _write(outcome.output)
        sys.exit(outcome.exit_code)

    _run(action)


@main.command()
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option(
    "--profiles",
    type=click.Path(path_type=Path),
    help="A folder of sample profiles (*.json) to render with both versions, or a whole export "
    "(.jsonl) whose users are counted per changed attribute.",
)
@click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP)
def review(old: str, new: str, profiles: Path | None, quiet: bool) -> None:
    """Print, as Markdown, what changes from one version of a ruleset to another.

    OLD and NEW are files, built-in names, or git revisions of a file
    (main:rulesets/appspace.mapper). Lists rules added, removed and changed
    (inherited ones included), schema changes, and with --profiles how each
    sample user's resource changes.
    """

    def action() -> None:
        from mapper.errors import RulesetError
        from mapper.tools import review as reviewing

        try:
            versions = [reviewing.load_version(reference) for reference in (old, new)]
            if not quiet:
                for version in versions:
                    _warn(version.warnings)
            _write(reviewing.review_versions(versions[0], versions[1], old, new, profiles))
        except reviewing.ReviewError as exc:
            _fail([f"mapper: {exc}"], EXIT_RULESET)
        except RulesetError as exc:
            _fail(diagnostic_lines(exc.errors), EXIT_RULESET)

    _run(action)


@main.command()
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=_RULESET_HELP)
@click.option(
    "--style",
    type=click.Choice(STYLES),
    default="rfc",
    show_default=True,
    help="rfc: one operation per target; no-path: one merged replace without a path; "
    "whole-multivalued: arrays replaced whole; put: the whole resource to PUT.",
)
@click.option(
    "--current",
    metavar="RESOURCE",
    help="With --style put: the app's current resource (JSON, as GET returns it), which the PUT "
    "body starts from, so that nothing the ruleset does not own is lost.",
)
@click.option("--compact", is_flag=True, help="One line of JSON instead of indented JSON.")
@click.option(
    "--show-values", is_flag=True, help="Show the offending value in error messages (they are personal data)."
)
@click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP)
def diff(
    old: str,
    new: str,
    ruleset: str,
    style: str,
    current: str | None,
    compact: bool,
    show_values: bool,
    quiet: bool,
) -> None:
    """Print the SCIM PATCH request that updates the app's user from OLD to NEW.

    OLD and NEW are JSON files (one may be - for standard input) holding Okta
    profiles or Okta Users API users. The request is a PatchOp message; with
    --style put, the body of a PUT: the app's resource (--current, which put
    needs) with what the ruleset owns brought in line with NEW, as Okta
    builds its PUTs. When nothing the ruleset maps has changed there is no
    request: nothing is printed, and standard error says "no change" (exit 0).
    """

    def action() -> None:
        from mapper.errors import ProfileError

        if (style == "put") != (current is not None):
            _fail(
                [
                    "mapper: --style put needs --current RESOURCE: a server may clear what a PUT omits, "
                    "so the body starts from the app's resource"
                    if style == "put"
                    else "mapper: --current is for --style put"
                ],
                EXIT_RULESET,
            )
        compiled = _load(ruleset, quiet)
        documents = []
        problems: list[str] = []
        for name in (old, new, *([current] if current is not None else [])):
            try:
                documents.append(_read_json(name))
            except _Failure as failure:
                problems.extend(failure.lines)
        if problems:
            _fail(problems, EXIT_DATA)
        try:
            request = compiled.patch(documents[0], documents[1], style)
            if request is not None and current is not None:
                request = compiled.put(documents[2], documents[1])
        except ProfileError as exc:
            _fail([f"mapper: {old} -> {new}: {_problem(exc, show_values)}"], EXIT_DATA)
        if request is None:
            click.echo(
                "mapper: no change: nothing the ruleset maps differs, so there is no request", err=True
            )
            return
        _write(_dumps(request, compact))

    _run(action)


@main.command("plan")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=_RULESET_HELP)
@click.option(
    "--style",
    type=click.Choice([s for s in STYLES if s != "put"]),
    default="rfc",
    show_default=True,
    help="The PATCH style for updates (as for diff).",
)
@click.option(
    "-o", "--output", metavar="FILE", help="Write the plan to FILE, all at once, instead of stdout."
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print the ruleset's warnings or the summary.")
def plan_command(old: str, new: str, ruleset: str, style: str, output: str | None, quiet: bool) -> None:
    """Plan the requests that take the app from one Okta export to the next.

    OLD and NEW are exports of Okta Users API users (JSON Lines, or JSON
    files, or folders of them), matched by Okta id. Writes one JSON line per
    request, {"okta_id", "method", "path", "body"}: POST /Users for a user new
    in NEW, PATCH for a changed one, the deactivate PATCH for one gone from NEW
    or who became DEPROVISIONED in it, nothing for an unchanged one or one who
    stays DEPROVISIONED: what `mapper sync NEW --dry-run` sends after `mapper
    sync OLD` (the same decision). "{id}" in a path stands for the app's id of
    the user. A summary counts requests by kind and updates by SCIM attribute.
    Exit 1 when a record could not be planned.
    """

    def action() -> None:
        from mapper.tools import bulk, plan_exports

        compiled = _load(ruleset, quiet)
        try:
            sources = [list(bulk.expand([name])) for name in (old, new)]
        except bulk.EmptyFolder as exc:
            _fail([f"mapper: {exc}"], EXIT_DATA)
        _check_outputs({"-o": output}, [*sources[0], *sources[1]])

        def records(names: list[str]) -> Any:
            for block in _input_blocks(names, all_lines=False):
                yield from bulk.block_records(block)

        summary = plan_exports.Summary()
        failed = 0
        with _output(output) as out:
            for outcome in plan_exports.plan(
                compiled, records(sources[0]), records(sources[1]), style, summary
            ):
                if isinstance(outcome, bulk.Failure):
                    failed += 1
                    click.echo(f"mapper: {outcome.source}:{outcome.line}: {outcome.message}", err=True)
                    continue
                out(json.dumps(outcome, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
        if not quiet:
            kinds = summary.kinds
            counts = ", ".join(
                f"{kinds[k]:,} {k}"
                for k in ("create", "update", "deactivate", "reactivate", "unchanged", "failed")
            )
            click.echo(f"mapper: plan: {counts}", err=True)
            for attribute, users in summary.attributes.most_common():
                click.echo(f"mapper:   {attribute}: {users:,} user{'s' if users != 1 else ''}", err=True)
        if failed:
            sys.exit(EXIT_DATA)

    _run(action)


@contextlib.contextmanager
def _output(output: str | None) -> Any:
    """A writer of bytes: to FILE through a temporary file renamed at the end (nothing
    half-written), or to standard output in batches."""

    batch: list[bytes] = []
    if output is None:

        def write(data: bytes) -> None:
            batch.append(data)
            if len(batch) >= 1000:
                _emit(batch, None)

        yield write
        _emit(batch, None)
        return
    from mapper.tools.files import output_file

    with output_file(Path(output)) as spool:
        yield spool.write


@main.command("compile")
@click.argument("ruleset", metavar="RULESET")
@click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP)
def compile_(ruleset: str, quiet: bool) -> None:
    """Print the Python source a ruleset compiles to: exactly what runs.

    Three functions: render; changes, which patch uses to find what changed
    between two profiles; and render_update, the resource after an update.
    """

    def action() -> None:
        _write(_load(ruleset, quiet).source)

    _run(action)


def _check_outputs(outputs: dict[str, str | Path | None], inputs: list[str]) -> None:
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
        _fail(problems, EXIT_USAGE)


def _save(path: Path, text: str) -> None:
    """TEXT into PATH all at once (nothing half-written); one line when it cannot be."""
    from mapper.tools.files import write_file

    try:
        write_file(path, text)
    except OSError as exc:
        _fail([f"mapper: {path}: {exc.strerror or exc}"], EXIT_OUTPUT)


# ---------------------------------------------------------------- Okta


@main.group("import")
def import_group() -> None:
    """Import a mapping from an identity provider as a ruleset."""


@import_group.command("okta")
@click.option(
    "--schema",
    "schema_file",
    required=True,
    metavar="APP_SCHEMA.json",
    help="The app's App User Schema: GET /api/v1/meta/schemas/apps/{appId}/default.",
)
@click.option(
    "--mapping",
    "mapping_file",
    required=True,
    metavar="MAPPING.json",
    help="The Okta user to app profile mapping: GET /api/v1/mappings/{id}.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the ruleset to this file.")
@click.option("--name", help="The ruleset's name (default: the output file's name, else the app's).")
def import_okta_command(schema_file: str, mapping_file: str, output: Path | None, name: str | None) -> None:
    """Write the ruleset that does what an Okta app's mapping does today.

    Each mapped app property becomes a rule on its SCIM path (External Name and
    Namespace), with the Okta expression as it is and a comment naming the Okta
    variable; DONT_PUSH becomes `on create`; custom namespaces become schema
    declarations. What cannot be translated is listed on standard error and
    kept in the ruleset as a comment. Exits 0 when everything was imported, 1
    when something was not (the ruleset is written all the same).
    """

    def action() -> None:
        import re

        from mapper.okta.importer import OktaInputError, import_okta

        _check_outputs({"-o": output}, [schema_file, mapping_file])
        schema, mapping = _read_json(schema_file), _read_json(mapping_file)
        app = schema.get("name") if isinstance(schema, dict) and isinstance(schema.get("name"), str) else None
        wanted = name or (output.stem if output else None) or app or "imported"
        ruleset_name = re.sub(r"[^A-Za-z0-9_-]", "_", wanted)
        if not ruleset_name[0].isalpha():
            ruleset_name = "r_" + ruleset_name
        try:
            result = import_okta(schema, mapping, ruleset_name)
        except OktaInputError as exc:
            _fail([f"mapper: import: {exc}"], EXIT_DATA)
        if output is None:
            _write(result.text)
        else:
            _save(output, result.text)
        for problem in result.problems:
            click.echo(f"mapper: import: {problem}", err=True)
        if any("not imported" in p or "the imported ruleset" in p for p in result.problems):
            sys.exit(EXIT_DATA)

    _run(action)


@main.group("export")
def export_group() -> None:
    """Export a ruleset to an identity provider's configuration."""


@export_group.command("okta")
@click.argument("ruleset", metavar="RULESET")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "terraform"]),
    default="json",
    show_default=True,
    help="json: the API request bodies; terraform: resources for Okta's Terraform provider.",
)
@click.option(
    "--schema",
    "schema_file",
    metavar="APP_SCHEMA.json",
    help="The app's App User Schema today, for its variable names (default: Okta's SCIM template).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option("-q", "--quiet", is_flag=True, help=_QUIET_HELP)
def export_okta_command(
    ruleset: str, output_format: str, schema_file: str | None, output: Path | None, quiet: bool
) -> None:
    """Write what Okta needs to run RULESET.

    json: {"appUserSchema": the custom properties to POST to
    /api/v1/meta/schemas/apps/{appId}/default, "profileMapping": the body to
    POST to /api/v1/mappings/{id}}. terraform: okta_app_user_schema_property
    resources and an okta_profile_mapping. Rules Okta handles itself (active,
    externalId, userName) are listed on standard error, not exported.
    """

    def action() -> None:
        from mapper.okta import exporter
        from mapper.okta.importer import OktaInputError

        _check_outputs({"-o": output}, [ruleset, *([schema_file] if schema_file else [])])
        compiled = _load(ruleset, quiet)
        schema = _read_json(schema_file) if schema_file else None
        try:
            result = exporter.export_okta(compiled, schema)
        except OktaInputError as exc:
            problems = exc.problems if isinstance(exc, exporter.ExportRefused) else [str(exc)]
            from mapper.markup import visible

            _fail([f"mapper: export: {visible(p)}" for p in problems], EXIT_DATA)
        if output_format == "terraform":
            from mapper.okta.terraform import terraform

            text = terraform(result)
        else:
            text = exporter.dumps(result)
        if output is None:
            _write(text)
        else:
            _save(output, text)
        if not quiet:
            for problem in result.problems:
                click.echo(f"mapper: export: {problem}", err=True)

    _run(action)


# `mapper sync` lives in its own module; it uses the helpers above.
from mapper.tools import sync_command  # noqa: E402

main.add_command(sync_command.sync)

if __name__ == "__main__":  # pragma: no cover
    main()
