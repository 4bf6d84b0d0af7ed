"""``mapper render``, ``mapper diff`` and ``mapper compile``: profiles through a ruleset."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from mapper.cli.common import (
    LINE_SUFFIXES,
    QUIET_HELP,
    RULESET_HELP,
    STYLES,
    CommandFailure,
    check_outputs,
    dump_json,
    fail_with,
    input_blocks,
    load_ruleset,
    profile_problem,
    progress_bar,
    read_json,
    run_action,
    write_stdout,
    write_stdout_bytes,
)
from mapper.errors import ExitCode


@click.command()
@click.argument("profiles", nargs=-1, required=True, metavar="PROFILE...")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=RULESET_HELP)
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
    streaming = jsonl or any(p.endswith(LINE_SUFFIXES) or (p != "-" and Path(p).is_dir()) for p in profiles)

    def action() -> None:
        if validate:
            from mapper.core.extras import Extra, require

            require(Extra.VALIDATE, "--validate")
        if streaming:
            _render_stream(
                profiles, ruleset, validate, output, errors_to, fail_fast, show_values, quiet, jsonl, jobs
            )
            return
        if output is not None or errors_to is not None or fail_fast or jobs != 1:
            fail_with(
                ["mapper: -o, --errors, --fail-fast and --jobs are for JSON Lines (see --jsonl)"],
                ExitCode.USAGE,
            )
        from mapper.errors import ProfileError

        compiled = load_ruleset(ruleset, quiet)
        resources: list[dict[str, Any]] = []
        problems: list[str] = []
        code = ExitCode.FAILED  # bad data; a file that cannot be opened makes it 2
        for name in profiles:
            label = "<stdin>" if name == "-" else name
            try:
                resource = compiled.render(read_json(name))
            except ProfileError as exc:
                problems.append(f"mapper: {label}: {profile_problem(exc, show_values)}")
                continue
            except CommandFailure as failure:
                problems.extend(failure.lines)
                code = max(code, failure.code)
                continue
            if validate:
                from mapper.tools.validate import validate as check_resource

                problems.extend(
                    f"mapper: {label}: invalid SCIM: {p.describe(show_values)}"
                    for p in check_resource(resource, compiled.plan)
                )
            resources.append(resource)
        if problems:
            fail_with(problems, code)
        if compact:
            write_stdout("".join(dump_json(resource, compact=True) for resource in resources))
        else:
            write_stdout(dump_json(resources[0] if len(profiles) == 1 else resources, compact=False))

    run_action(action)


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
    from mapper.tools.files import output_file, report_file, written_behind

    compiled = load_ruleset(ruleset, quiet)
    check = None
    if validate:
        from mapper.tools.validate import validate as check_resource

        def check(resource: dict[str, Any]) -> list[Any]:
            return check_resource(resource, compiled.plan)

    try:
        names = list(bulk.expand(profiles))
    except bulk.EmptyFolder as exc:
        fail_with([f"mapper: {exc}"], ExitCode.FAILED)
    check_outputs({"-o": output, "--errors": errors_to}, names)
    progress, progress_done = progress_bar(bulk.total_bytes(names), quiet)

    def all_blocks() -> Any:  # regular files as spans, which each process reads itself
        for block in input_blocks(names, all_lines, by_position=True):
            progress(block.size)  # its records are counted once rendered (below)
            yield block

    # Resources go to a temporary file beside the output (or a spooled one for stdout with
    # --fail-fast), so that an interrupted or failed run leaves no half-written file.
    rendered = failed = 0
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.callback(progress_done)
        spool: Any = None
        if output:
            spool = stack.enter_context(output_file(Path(output)))
        elif fail_fast:
            spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=64 << 20))
        errors_file = stack.enter_context(report_file(Path(errors_to))) if errors_to else None

        def report(failure: bulk.RecordFailure) -> None:
            shown = (
                f" (value: {shown_value(failure.value)})"
                if show_values and failure.value is not NO_VALUE
                else ""
            )
            where = f"{failure.source}:{failure.line}: " if failure.source else ""
            click.echo(f"mapper: {where}{failure.message}{shown}", err=True)
            if errors_file is not None:
                errors_file.write(failure.as_json())

        bulk.keep_freed_memory()
        if jobs > 1:
            outcomes = bulk.render_parallel(compiled, ruleset, validate, all_blocks(), jobs)
        else:
            outcomes = bulk.render_serial(compiled, check, all_blocks())
        outcomes = stack.enter_context(contextlib.closing(outcomes))  # its files closed on a break
        # Written by a thread of its own: a write waiting on the disk overlaps the next block.
        with written_behind(write_stdout_bytes if spool is None else spool.write) as write:
            for outcome in outcomes:
                for failure in outcome.failures[:1] if fail_fast else outcome.failures:
                    report(failure)
                failed += len(outcome.failures)
                if fail_fast and outcome.failures:
                    break
                rendered += outcome.count
                progress(0, outcome.count + len({f.line for f in outcome.failures}))  # records
                if outcome.data:
                    write(outcome.data)
        if fail_fast and failed:
            raise CommandFailure([], ExitCode.FAILED)
        if output:
            pass  # output_file puts it in place when the block ends
        elif spool is not None:
            spool.seek(0)
            while chunk := spool.read(1 << 20):
                write_stdout_bytes(chunk)
    if not quiet:
        seconds = time.perf_counter() - started
        rate = f", {rendered / seconds:,.0f} profiles/s" if seconds > 0 and rendered else ""
        click.echo(f"mapper: rendered {rendered:,}, failed {failed:,} in {seconds:.2f} s{rate}", err=True)
    if failed:
        sys.exit(ExitCode.FAILED)


@click.command()
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=RULESET_HELP)
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
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
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
            fail_with(
                [
                    "mapper: --style put needs --current RESOURCE: a server may clear what a PUT omits, "
                    "so the body starts from the app's resource"
                    if style == "put"
                    else "mapper: --current is for --style put"
                ],
                ExitCode.USAGE,
            )
        compiled = load_ruleset(ruleset, quiet)
        documents = []
        problems: list[str] = []
        code = ExitCode.FAILED  # bad data; a file that cannot be opened makes it 2
        for name in (old, new, *([current] if current is not None else [])):
            try:
                documents.append(read_json(name))
            except CommandFailure as failure:
                problems.extend(failure.lines)
                code = max(code, failure.code)
        if problems:
            fail_with(problems, code)
        try:
            request = compiled.patch(documents[0], documents[1], "rfc" if style == "put" else style)
            if request is not None and current is not None:  # a change: the PUT that carries it
                request = compiled.put(documents[2], documents[1])
        except ProfileError as exc:
            fail_with([f"mapper: {old} -> {new}: {profile_problem(exc, show_values)}"], ExitCode.FAILED)
        if request is None:
            click.echo(
                "mapper: no change: nothing the ruleset maps differs, so there is no request", err=True
            )
            return
        write_stdout(dump_json(request, compact))

    run_action(action)


@click.command("compile")
@click.argument("ruleset", metavar="RULESET")
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
def compile_(ruleset: str, quiet: bool) -> None:
    """Print the Python source a ruleset compiles to: exactly what runs.

    Its functions: render; render_short, render without the length checks of
    strings read, for records of at most 10,000 bytes (render uses it for files
    of JSON Lines); changes and patch_rfc, with which patch finds what changed between two
    profiles; render_update, the resource after an update; and inbound, which
    maps the app's resource back to Okta profile attributes.
    """

    def action() -> None:
        write_stdout(load_ruleset(ruleset, quiet).source)

    run_action(action)
