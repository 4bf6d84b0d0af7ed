"""``mapper plan``: the requests that take an app from one Okta export to the next."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from mapper.cli.common import (
    MATCHES,
    RULESET_HELP,
    STYLES,
    check_outputs,
    counted,
    fail_with,
    input_blocks,
    load_ruleset,
    output_stream,
    run_action,
)
from mapper.errors import ExitCode


@click.command("plan")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=RULESET_HELP)
@click.option(
    "--style",
    type=click.Choice([s for s in STYLES if s != "put"]),
    default="rfc",
    show_default=True,
    help="The PATCH style for updates (as for diff).",
)
@click.option(
    "--match", type=click.Choice(MATCHES), default="userName",
    show_default=True, help="As for sync: a user with no value for it is not created (a failure).",
)  # fmt: skip
@click.option(
    "-o", "--output", metavar="FILE", help="Write the plan to FILE, all at once, instead of stdout."
)
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
    help="Plan in this many processes (the plan is the same).",
)  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Do not print the ruleset's warnings or the summary.")
def plan_command(
    old: str, new: str, ruleset: str, style: str, match: str, output: str | None, jobs: int, quiet: bool
) -> None:
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

        compiled = load_ruleset(ruleset, quiet)
        try:
            sources = [list(bulk.expand([name])) for name in (old, new)]
        except bulk.EmptyFolder as exc:
            fail_with([f"mapper: {exc}"], ExitCode.FAILED)
        check_outputs({"-o": output}, [*sources[0], *sources[1]])

        summary = plan_exports.Summary()
        failed = 0
        with output_stream(output) as out:
            old_size, new_size = (None, None) if "-" in (old, new) else map(_size, sources)
            sizes = (old_size, new_size) if old_size is not None and new_size is not None else None
            jobs_here = jobs if sizes is not None else 1  # a pipe is read once, by one process
            for outcome in plan_exports.plan_parallel(
                compiled,
                lambda: input_blocks(sources[0], all_lines=False),
                lambda: input_blocks(sources[1], all_lines=False),
                style,
                summary,
                jobs_here,
                sizes,
                match,
            ):
                if isinstance(outcome, bulk.RecordFailure):
                    failed += 1
                    click.echo(f"mapper: {outcome.source}:{outcome.line}: {outcome.message}", err=True)
                    continue
                out(_line(outcome))
        if not quiet:
            kinds = summary.kinds
            counts = ", ".join(
                f"{kinds[k]:,} {k}"
                for k in ("create", "update", "deactivate", "reactivate", "unchanged", "failed")
            )
            click.echo(f"mapper: plan: {counts}", err=True)
            if summary.gone_kept:
                click.echo(
                    f"mapper: plan: {counted(summary.gone_kept, 'user')} gone from NEW not deactivated: "
                    f"{counted(summary.unreadable, 'record')} could not be read, so who is gone cannot "
                    "be proven (as sync)",
                    err=True,
                )
            for attribute, users in sorted(summary.attributes.items(), key=lambda item: (-item[1], item[0])):
                click.echo(f"mapper:   {attribute}: {counted(users, 'user')}", err=True)
        if failed:
            sys.exit(ExitCode.FAILED)

    run_action(action)


def _size(names: list[str]) -> int | None:
    """The files' bytes in all (how many buckets a plan spreads its users over, and each
    process's share of an export); None when one
    is not a regular file (standard input, a pipe: its size says nothing, and it can be read
    once, by one process) or cannot be read (reading it says why)."""
    try:
        found = [Path(name).stat() for name in names]
    except OSError:
        return None
    if not all(stat.S_ISREG(info.st_mode) for info in found):
        return None
    return sum(info.st_size for info in found)


def _line(outcome: dict[str, Any]) -> bytes:
    """One request of the plan as a JSON line: orjson's (twenty times the standard library's
    speed, and the parent process writes every line), the standard library's for what orjson
    refuses (an integer past 64 bits)."""
    try:
        return orjson.dumps(outcome, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return json.dumps(outcome, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
