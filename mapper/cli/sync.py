"""``mapper sync``: the command line of :mod:`mapper.sync`, with its guards.

Before the first request: the options and the output paths are checked (exit 2), the token
variable must be set (exit 2), the state is opened, migrated and locked (exit 2, or 4 when
another run holds it), an empty export is refused (exit 4), and the pre-flight proves the
URL and the token (exit 5). Then the run; its exit code says how it ended: 0 done, 1 some
users failed, 3 an output could not be written, 4 held by a guard, 5 the app stopped
answering.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mapper.cli.common import LINE_SUFFIXES, MATCHES, STYLES, counted
from mapper.core.styles import UpdateStyle
from mapper.errors import ExitCode, UsageError
from mapper.tools.options import FiniteRange

if TYPE_CHECKING:
    from mapper.runtime.ruleset import Ruleset
    from mapper.sync.engine import Options, Summary, UserFailure

DEFAULT_RULESET = "okta-default"


@click.command()
@click.argument("users", nargs=-1, metavar="[USERS]...")
@click.option("--to", "base_url", required=True, metavar="BASE_URL", help="The app's SCIM base URL.")
@click.option(
    "-r", "--ruleset", metavar="RULESET",
    help=f"A ruleset file or built-in name (default: {DEFAULT_RULESET}; with --apply, the plan's).",
)  # fmt: skip
@click.option(
    "--state", "state_file", default="mapper-state.sqlite", show_default=True, type=click.Path(path_type=Path),
    help="What the app was last sent, per Okta user (SQLite; one file per app; locked while a run uses it).",
)  # fmt: skip
@click.option(
    "--match", type=click.Choice(MATCHES), default="userName",
    show_default=True,
    help="How a user new to the state is looked for in the app before it is created (a user with no such "
    "value is not created: reported as failed).",
)  # fmt: skip
@click.option(
    "--style", type=click.Choice(STYLES), default="rfc", show_default=True,
    help="The PATCH for a changed user, as for diff; put: GET the user, PUT it back changed (Okta's way).",
)  # fmt: skip
@click.option(
    "--delete", is_flag=True, help="Delete users gone from the export instead of deactivating them."
)
@click.option("--repair", is_flag=True, help="Read every known user from the app and fix what drifted.")
@click.option(
    "--no-list", "no_list", is_flag=True,
    help="On a first sync or --repair, search the app for each user instead of listing its users once.",
)  # fmt: skip
@click.option(
    "--no-bulk", "no_bulk", is_flag=True,
    help="Send each request on its own, even where the app announces /Bulk (RFC 7644 section 3.7).",
)  # fmt: skip
@click.option(
    "--max-deactivations", default=None, show_default="20%, at least 10", metavar="N|P%",
    help="The most users one run may deactivate or delete: N users, or P% of the users the app holds active "
    "(the default, 20%, allows at least 10); past it none of them is, the rest of the run goes on, exit 4.",
)  # fmt: skip
@click.option(
    "--dry-run", is_flag=True,
    help="Send only the searches and GETs; print the changing requests as JSON lines; change no state.",
)  # fmt: skip
@click.option(
    "--plan-out", "plan_out", type=click.Path(path_type=Path), metavar="FILE",
    help="As --dry-run, and save the requests as a plan (0600) for --apply; prints a review view.",
)  # fmt: skip
@click.option(
    "--apply", "apply_file", type=click.Path(path_type=Path), metavar="FILE",
    help="Send exactly the requests of a saved plan (no USERS); refused when it went stale.",
)  # fmt: skip
@click.option("--show-values", is_flag=True, help="With --plan-out: show the values in the review view.")
@click.option(
    "--allow-http", is_flag=True,
    help="Allow a plain http:// --to on another host (the token then crosses the network in clear text).",
)  # fmt: skip
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Requests at once (with /Bulk, half as many bulk requests, at least one).",
)
@click.option("--max-rps", type=FiniteRange(min=0.1), help="At most this many requests a second.")
@click.option(
    "--timeout", default=30.0, show_default=True, type=FiniteRange(min=0.1, max=3600),
    help="Seconds each answer may take, from the request to its last byte.",
)  # fmt: skip
@click.option(
    "--max-response-mb", default=16, show_default=True, type=click.IntRange(1, 1024), metavar="MB",
    help="A longer answer from the app is a failed read (memory stays bounded).",
)  # fmt: skip
@click.option(
    "--breaker-failures", default=10, show_default=True, type=click.IntRange(1, 10_000), metavar="N",
    help="Stop the run after N failed attempts in a row (no answer, a 5xx, a refused token).",
)  # fmt: skip
@click.option(
    "--breaker-seconds", default=60.0, show_default=True, type=FiniteRange(min=1, max=86_400), metavar="S",
    help="Stop the run when attempts have failed for S seconds with no good answer.",
)  # fmt: skip
@click.option(
    "--max-retry-after", default=300.0, show_default=True, type=FiniteRange(min=0, max=86_400), metavar="S",
    help="Stop the run, rather than wait, when the app asks to wait longer (Retry-After).",
)  # fmt: skip
@click.option(
    "--token-env", default="SCIM_TOKEN", show_default=True, metavar="NAME",
    help="The environment variable holding the app's bearer token (never a flag).",
)  # fmt: skip
@click.option("--report", "report_file", type=click.Path(path_type=Path), help="Write the summary as JSON.")
@click.option(
    "--shard", metavar="K/N",
    help="Only the users whose Okta id hashes to K of N (0 <= K < N): N processes, one state file each.",
)  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Do not print the ruleset's warnings or the summary.")
def sync(**kwargs: Any) -> None:
    """Bring a SCIM app in line with the Okta users in USERS (Users API objects:
    JSON Lines, or JSON arrays as GET /api/v1/users returns them).

    A user new to the state is looked for in the app by --match and adopted,
    else created; a changed user gets the PATCH from what the app was last sent
    (or, with --style put, a PUT on a fresh GET); an inactive user is
    deactivated (deleted only with --delete), and so is one gone from USERS;
    an unchanged user costs no request.

    Guards: nothing is sent until the token, the URL and the output paths are
    proven; an empty export is refused; deactivations past
    --max-deactivations are held; a run stops when the app stops answering;
    users gone from the export are kept when a record could not be read; one
    run per state file. --plan-out saves what a run would send, --apply sends
    exactly that.

    Exit codes: 0 done; 1 some users failed; 2 bad usage or configuration
    (nothing sent); 3 an output could not be written; 4 held by a guard
    (deactivations past the limit, an empty export, a stale plan, a state in
    use); 5 the app refused or stopped answering.
    """
    from mapper.cli.common import run_action

    run_action(lambda: _sync(**kwargs))


def _sync(
    users: tuple[str, ...], base_url: str, ruleset: str | None, state_file: Path, match: str, style: str,
    delete: bool, repair: bool, max_deactivations: str | None, dry_run: bool, plan_out: Path | None,
    apply_file: Path | None, show_values: bool, allow_http: bool, concurrency: int, max_rps: float | None,
    timeout: float, max_response_mb: int,
    breaker_failures: int, breaker_seconds: float, max_retry_after: float, token_env: str,
    report_file: Path | None, shard: str | None, quiet: bool, no_list: bool = False, no_bulk: bool = False,
) -> None:  # fmt: skip
    from mapper.core.extras import Extra, require

    require(Extra.SYNC, "sync")
    from mapper.cli.common import load_ruleset
    from mapper.sync.decide import Match
    from mapper.sync.engine import Options
    from mapper.sync.guard import DeactivationLimit

    if apply_file is not None and (users or dry_run or plan_out or delete or repair or shard):
        raise UsageError(
            "sync --apply FILE takes no USERS, --dry-run, --plan-out, --delete, --repair or --shard: it sends "
            "the plan's requests, as they were planned"
        )
    if apply_file is None and not users:
        raise UsageError("sync: give the export's files (USERS...), or --apply FILE")
    _check_url(base_url, allow_http)
    try:
        limit = (
            DeactivationLimit() if max_deactivations is None else DeactivationLimit.parse(max_deactivations)
        )
    except ValueError as exc:
        raise UsageError(f"sync: --max-deactivations {exc}") from None
    parts = _shard(shard) if shard is not None else None
    for name in users:
        _check_readable(name)
    if apply_file is not None and not apply_file.is_file():
        raise UsageError(f"sync: --apply {apply_file}: no such file; nothing was sent")
    outputs = [(report_file, "--report"), (plan_out, "--plan-out")]
    if not (dry_run or plan_out):
        outputs.append((state_file, "--state"))
    for path, flag in outputs:
        if path is not None:
            _check_writable(path, flag)
    _check_distinct(users, state_file, report_file, plan_out, apply_file)
    token = os.environ.get(token_env)
    if token and not all(0x21 <= ord(c) <= 0x7E for c in token):
        raise UsageError(
            f"sync: the token in {token_env} holds a character a bearer token cannot (a space, a line break, "
            "a non-ASCII letter): check how it was set; nothing was sent"
        )
    if not token:
        raise UsageError(
            f"sync: the variable {token_env} is not set (or is empty): put the app's bearer token in it "
            f"(export {token_env}=...), or name another variable with --token-env; nothing was sent"
        )
    options = Options(Match(match), UpdateStyle(style), delete, repair, concurrency, limit, parts,
                      list_first=not no_list, bulk=not no_bulk)  # fmt: skip
    connection = _connection(base_url, token, timeout, concurrency, max_rps, token_env, max_response_mb << 20)
    breaker = (breaker_failures, breaker_seconds, max_retry_after)
    if apply_file is not None:
        _apply(apply_file, ruleset, state_file, options, connection, breaker, report_file, quiet)
        return
    compiled = load_ruleset(ruleset or DEFAULT_RULESET, quiet)
    incoming = _sync_users(users)
    if dry_run or plan_out is not None:
        _plan(compiled, ruleset or DEFAULT_RULESET, state_file, options, connection, breaker, incoming,
              plan_out, show_values, report_file, quiet, dry_run)  # fmt: skip
        return
    _sync_run(compiled, state_file, options, connection, breaker, incoming, report_file, quiet,
              users if shard is None else ("-",))  # fmt: skip


def _check_url(base_url: str, allow_http: bool = False) -> None:
    from mapper.core.urls import base_url_problem, clear_text_to_another_host, shown_url

    problem = base_url_problem(base_url)
    if problem:
        raise UsageError(f"sync: --to {shown_url(base_url)}: {problem}; nothing was sent")
    if not allow_http and clear_text_to_another_host(base_url):
        raise UsageError(
            f"sync: --to {base_url}: plain http to another host would send the bearer token in clear text: use "
            "https (or --allow-http, if the network between is yours and you accept that); nothing was sent"
        )


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isascii() and k.isdigit() and n.isascii() and n.isdigit() and 0 <= int(k) < int(n)):
        raise UsageError(f"sync: --shard {text}: expected K/N with 0 <= K < N")
    return int(k), int(n)


def _check_writable(path: Path, flag: str) -> None:
    from mapper.tools.files import in_place, output_problem

    problem = output_problem(path) or ("not a regular file" if in_place(path) else None)
    if problem:  # sync's files are replaced, never written in place (a state file is a database)
        raise UsageError(f"sync: {flag} {path}: {problem}; nothing was sent")


def _check_readable(name: str) -> None:
    """A users file, found and readable before anything is sent (they are read as the run goes)."""
    if name == "-":
        return
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"sync: {name}: is a folder (give the export's files); nothing was sent")
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise UsageError(f"sync: {name}: no such file; nothing was sent") from None
    except OSError as exc:
        raise UsageError(f"sync: {name}: {exc.strerror or 'cannot be read'}; nothing was sent") from None


def _check_distinct(users: tuple[str, ...], state: Path, report: Path | None, plan_out: Path | None,
                    apply_file: Path | None) -> None:  # fmt: skip
    """No output may overwrite an input or another output (a report over the state file...)."""
    seen: dict[str, str] = {}
    named = [(Path(u), "USERS") for u in users if u != "-"] + [(state, "--state")]
    named += [
        (p, flag)
        for p, flag in ((apply_file, "--apply"), (report, "--report"), (plan_out, "--plan-out"))
        if p
    ]
    for path, flag in named:
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(f"sync: {flag} {path}: the same file as {seen[key]}; nothing was sent")
        seen[key] = flag


def _connection(base_url: str, token: str, timeout: float, concurrency: int, max_rps: float | None,
                token_env: str, max_response_bytes: int) -> Any:  # fmt: skip
    from mapper.sync.app import Connection

    return Connection(base_url, token, timeout, concurrency, max_rps, token_env, max_response_bytes)


def _app(connection: Any, breaker: tuple[int, float, float]) -> Any:
    from mapper.sync.app import ScimApp
    from mapper.sync.retry import Breaker, RetryPolicy

    failures, seconds, max_retry_after = breaker
    return ScimApp(connection, RetryPolicy(max_retry_after=max_retry_after), Breaker(failures, seconds))


def _sync_users(names: tuple[str, ...]) -> Any:
    """Each record of the exports: (FILE:LINE, user or None, problem)."""
    from mapper.cli.common import input_blocks
    from mapper.core import jsonio
    from mapper.sync.engine import Incoming

    for block in input_blocks(list(names), all_lines=False):
        if block.dropped:
            where = f"{block.source}:{block.first_line}" if block.lines else block.source
            yield Incoming(where, None, jsonio.too_large(block.dropped))
            continue
        if not block.lines:
            try:
                document = jsonio.parse(block.data, block.source)
            except jsonio.JsonInputError as exc:
                yield Incoming(block.source, None, exc.reason)
                continue
            items = document if isinstance(document, list) else [document]
            for n, item in enumerate(items):
                where = f"{block.source}[{n}]" if isinstance(document, list) else block.source
                yield Incoming(where, item if isinstance(item, dict) else None, "not a JSON object")
            continue
        for offset, line in enumerate(block.data.split(b"\n")):
            if not line.strip():
                continue
            where = f"{block.source}:{block.first_line + offset}"
            try:
                document = jsonio.parse_fast(line, block.source, block.first_line + offset)
            except jsonio.JsonInputError as exc:
                yield Incoming(where, None, exc.reason)
                continue
            yield Incoming(where, document if isinstance(document, dict) else None, "not a JSON object")


def _report_failure(failure: UserFailure) -> None:
    where = f"{failure.where}: " if failure.where else ""
    click.echo(f"mapper: sync: {where}{failure.okta_id or '?'}: {failure.message}", err=True)


def _line_count(names: tuple[str, ...]) -> int | None:
    """How many users the JSON Lines files hold (lines, blank ones included), for an ETA; None
    when a part is a stream or a JSON document."""
    total = 0
    for name in names:
        if name == "-" or not name.endswith(LINE_SUFFIXES) or not Path(name).is_file():
            return None
        try:
            with open(name, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    total += chunk.count(b"\n")
        except OSError:
            return None  # the run says why when it reads the file
    return total


def _state(path: Path, base_url: str, match: str, readonly: bool = False) -> Any:
    from mapper.sync.state import State

    return State(path, base_url, match, readonly=readonly)


def _sync_run(compiled: Ruleset, state_file: Path, options: Options, connection: Any,
              breaker: tuple[int, float, float], incoming: Any, report_file: Path | None, quiet: bool,
              users: tuple[str, ...]) -> None:  # fmt: skip
    from mapper.cli.common import progress_bar
    from mapper.sync.engine import Sync

    state = _state(state_file, connection.base_url, options.match)
    app = _app(connection, breaker)
    advance, done = progress_bar(_line_count(users), quiet, "users")
    try:
        summary = Sync(compiled, app, state, options, on_failure=_report_failure, on_progress=advance).run(
            incoming
        )
    finally:
        done()
        app.close()
        state.close()
    if not quiet:
        _print_summary(summary)
    _finish(summary, report_file)


def _print_summary(summary: Summary) -> None:
    from mapper.sync.engine import KINDS

    counts = ", ".join(f"{summary.counts[k]:,} {k}" for k in KINDS)
    click.echo(
        f"mapper: sync: {counts}; {summary.requests:,} requests ({summary.retries:,} retried) "
        f"in {summary.seconds:.1f} s",
        err=True,
    )
    if summary.bulk is not None and summary.bulk.requests:
        click.echo(
            f"mapper:   {summary.bulk.operations:,} changes sent in {summary.bulk.requests:,} /Bulk requests",
            err=True,
        )
    if summary.bulk is not None and summary.bulk.off:
        click.echo(f"mapper:   {summary.bulk.off}", err=True)
    if summary.looked_up:
        click.echo(
            f"mapper:   {summary.looked_up:,} inactive users new to the state looked for in the app", err=True
        )
    for attribute, n in summary.attributes.most_common():
        click.echo(f"mapper:   {attribute}: {counted(n, 'user')}", err=True)


def _finish(summary: Summary, report_file: Path | None) -> None:
    """The guards' lines, the report, and the exit code the run earned."""
    from mapper.cli.common import save_file

    if summary.held:
        shown = ", ".join(summary.held[:5]) + (", ..." if len(summary.held) > 5 else "")
        click.echo(
            f"mapper: sync: held by the deactivation guard: {len(summary.held):,} users would be deactivated or "
            f"deleted, more than --max-deactivations allows ({summary.limit:,}); none of them was ({shown}). "
            f"If that is meant, run again with --max-deactivations {len(summary.held)} (or more)",
            err=True,
        )
    if summary.gone_kept:
        click.echo(
            f"mapper: sync: {counted(summary.gone_kept, 'user')} gone from the export not deactivated: "
            f"{counted(summary.unreadable, 'record')} could not be read, so who is gone cannot be proven",
            err=True,
        )
    if summary.stopped:
        click.echo(
            f"mapper: sync: stopped, the app stopped answering: {summary.stopped}; the users left are for the "
            "next run",
            err=True,
        )
    if report_file is not None:
        save_file(
            report_file, json.dumps(summary.as_json(), indent=2, ensure_ascii=False) + "\n", private=True
        )
    if summary.stopped:
        sys.exit(ExitCode.APP)
    if summary.held:
        sys.exit(ExitCode.GUARD)
    if summary.counts["failed"]:
        sys.exit(ExitCode.FAILED)


def _plan(compiled: Ruleset, source: str, state_file: Path, options: Options, connection: Any,
          breaker: tuple[int, float, float], incoming: Any, plan_out: Path | None, show_values: bool,
          report_file: Path | None, quiet: bool, dry_run: bool) -> None:  # fmt: skip
    """The dry run and the saved plan: the run against a copy of the state, reads sent, the rest recorded."""
    from mapper.cli.common import write_stdout
    from mapper.sync import saved_plan
    from mapper.sync.engine import Outcome, Sync
    from mapper.tools.files import write_output

    state = _state(state_file, connection.base_url, options.match, readonly=True)
    app = _app(connection, breaker)
    try:
        fingerprint = state.fingerprint()
        recorder = saved_plan.Recorder(app)
        sync = Sync(compiled, recorder, state, options, on_failure=_report_failure)
        plan, summary = saved_plan.make(
            compiled, source, sync, recorder, incoming, str(state_file), fingerprint
        )
    finally:
        app.close()
        state.close()
    if summary.stopped:  # a plan of the users decided before the app stopped answering is no plan
        click.echo("mapper: sync: no plan: the app stopped answering while it was made", err=True)
        _finish(summary, report_file)
    if dry_run or plan_out is None:
        write_stdout("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in plan.requests()))
    if plan_out is not None:
        write_output(plan_out, plan.dumps(), private=True)  # an OutputError (exit 3) when it fails
        if not dry_run:
            write_stdout("\n".join(saved_plan.review_lines(plan.as_json(), show_values)) + "\n")
    if not quiet:
        failed = summary.counts[Outcome.FAILED]  # each on its line above
        failures = f" {counted(failed, 'failure')} (above)." if failed else ""
        click.echo(f"mapper: sync: {saved_plan.summary_line(plan.summary)}{failures}", err=True)
    _finish(summary, report_file)


def _apply(apply_file: Path, ruleset: str | None, state_file: Path, options: Options, connection: Any,
           breaker: tuple[int, float, float], report_file: Path | None, quiet: bool) -> None:  # fmt: skip
    from mapper.cli.common import load_ruleset
    from mapper.sync import saved_plan

    document = saved_plan.load(apply_file.read_bytes(), str(apply_file))
    source = document["ruleset"]["source"]
    if ruleset is not None and ruleset != source:
        raise saved_plan.PlanRefused(
            f"{apply_file}: made with the ruleset {source}, not {ruleset}: refused, nothing sent"
        )
    compiled = load_ruleset(ruleset or source, quiet)
    state = _state(state_file, connection.base_url, document["options"]["match"])
    app = _app(connection, breaker)
    try:
        saved_plan.check_applicable(document, str(apply_file), connection.base_url, compiled, state)
        summary = saved_plan.apply(document, compiled, app, state, options.concurrency, _report_failure)
    finally:
        app.close()
        state.close()
    if not quiet:
        _print_summary(summary)
    _finish(summary, report_file)
