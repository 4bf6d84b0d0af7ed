"""``mapper import users``: what Okta's import of the app's users would do, from files or the app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from mapper.cli.common import (
    QUIET_HELP,
    RULESET_HELP,
    check_outputs,
    dump_json,
    fail_with,
    input_blocks,
    load_ruleset,
    run_action,
    save_file,
    write_stdout,
)
from mapper.errors import ExitCode, UsageError
from mapper.tools.options import FiniteRange

FORMATS = ("table", "json", "jsonl", "csv")


@click.command("users")
@click.argument("files", nargs=-1, metavar="[RESOURCES]...")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=RULESET_HELP)
@click.option(
    "--from", "base_url", metavar="BASE_URL",
    help="Read the app's users from its SCIM API (GET /Users page by page, as Okta's import does).",
)  # fmt: skip
@click.option(
    "--okta", "okta_files", multiple=True, metavar="EXPORT",
    help="Okta users to match them to: Users API objects (id, profile), JSON or JSON Lines. Repeatable.",
)  # fmt: skip
@click.option(
    "--match", "match", multiple=True, metavar="RULE",
    help="Okta's matching rule: username (the default), email, username-or-email, or an Okta "
    "attribute. Repeat it: every condition must hold.",
)  # fmt: skip
@click.option(
    "--assignments", metavar="FILE",
    help="The app's assignments (Okta's app users, GET /api/v1/apps/{id}/users): work out the import safeguard.",
)  # fmt: skip
@click.option(
    "--safeguard", default=20.0, show_default=True, type=FiniteRange(min=0, max=100), metavar="PERCENT",
    help="The import safeguard's share of assignments (Okta's default: 20).",
)  # fmt: skip
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True,
    help="table or json: the report; jsonl: a Users API body per user Okta would create; csv: Okta's CSV "
    "import file of them.",
)  # fmt: skip
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option("--show-values", is_flag=True, help="Show attribute values in the report (personal data).")
@click.option(
    "--page-size", default=100, show_default=True, type=click.IntRange(1, 1000),
    help="With --from: users per page (Okta's import reads 100).",
)  # fmt: skip
@click.option(
    "--token-env", default="SCIM_TOKEN", show_default=True, metavar="NAME",
    help="With --from: the environment variable holding the app's bearer token (never a flag).",
)  # fmt: skip
@click.option(
    "--timeout", default=30.0, show_default=True, type=FiniteRange(min=0.1, max=3600),
    help="With --from: seconds each answer may take.",
)  # fmt: skip
@click.option(
    "--allow-http", is_flag=True,
    help="Allow a plain http:// --from on another host (the token then crosses the network in clear text).",
)  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
def import_users_command(
    files: tuple[str, ...], ruleset: str, base_url: str | None, okta_files: tuple[str, ...],
    match: tuple[str, ...], assignments: str | None, safeguard: float, output_format: str,
    output: Path | None, show_values: bool, page_size: int, token_env: str, timeout: float,
    allow_http: bool, quiet: bool,
) -> None:  # fmt: skip
    """Show what Okta's "Import New Users and Profile Updates" would do with the app's users.

    The app's users are SCIM resources: RESOURCES files (JSON Lines, a JSON
    resource, array or ListResponse) or, with --from, the app's own listing.
    Each goes through the ruleset's inbound rules. With --okta, each is
    matched to the Okta users by Okta's rules (exact, case-sensitive): no
    match is a new user, one match a profile update of the PUSH rules that
    differ, several matches either way a conflict an admin resolves in Okta;
    inactive app users are skipped, as Okta skips them. With --assignments,
    whether the import safeguard would stop the import. Nothing is sent to
    Okta. Exit 0; 1 when an app user could not be read or mapped; 4 when the
    safeguard would stop the import; 2 for bad usage; 5 when the app cannot
    be read.
    """

    def action() -> None:
        from mapper.tools import app_import

        if bool(files) == bool(base_url):
            raise UsageError("import users: give the app's users as files, or --from BASE_URL (one of them)")
        check_outputs({"-o": output}, [*files, *okta_files, *([assignments] if assignments else [])])
        compiled = load_ruleset(ruleset, quiet)
        if not compiled.plan.inbound:
            raise UsageError(f"import users: the ruleset {ruleset} has no inbound rules")
        conditions = app_import.match_conditions(match, compiled)
        named = [*files, *okta_files, *([assignments] if assignments else [])]
        if named.count("-") > 1:
            raise UsageError(
                "import users: standard input (-) can be read once: give the other inputs as files"
            )
        notes: list[str] = []
        okta_users = None
        if okta_files:
            okta_users = [
                _okta_record(
                    document, where, "--okta", "an Okta Users API user (with its id and profile)", True
                )
                for where, document in _documents(okta_files)
            ]
            if not okta_users:
                notes.append("the Okta export holds no users: every app user is taken as new")
        else:
            notes.append("no --okta export: every app user is taken as new")
        found = (
            [
                _okta_record(d, where, "--assignments", "an Okta app user (with the Okta user's id)", False)
                for where, d in _documents((assignments,))
            ]
            if assignments
            else []
        )
        app_users = (
            _listed(base_url, page_size, token_env, timeout, allow_http, notes)
            if base_url
            else list(_read(files))
        )
        if not app_users:
            notes.append("no app users were read")
        report = app_import.decide(compiled, app_users, okta_users, conditions, found)
        report.notes += notes
        if assignments:
            report.safeguard = app_import.safeguard(
                report, found, safeguard, app_import.SAFEGUARD_MIN_ASSIGNMENTS
            )
        _write(report, compiled, output_format, output, show_values, quiet)
        if report.safeguard is not None and report.safeguard.stops:
            raise SystemExit(ExitCode.GUARD)
        if report.count(app_import.Outcome.FAILED):
            raise SystemExit(ExitCode.FAILED)

    run_action(action)


def _documents(names: tuple[str, ...]) -> Any:
    """(file:line, document) for every JSON document in the files; a JSON array or a SCIM
    ListResponse gives its members (Okta's APIs answer with arrays). A record that cannot be
    read stops the command: a user left out of a match would be taken as new."""
    from mapper.core import jsonio
    from mapper.tools.bulk import block_records

    for block in input_blocks(list(names), all_lines=False):
        for record in block_records(block):
            where = f"{record.source}:{record.line}"
            try:
                document = record.parse()
            except jsonio.JsonInputError as exc:
                fail_with([f"mapper: import users: {exc}"], ExitCode.FAILED)
            if isinstance(document, dict) and isinstance(document.get("Resources"), list):
                document = document["Resources"]
            members = document if isinstance(document, list) else [document]
            for member in members:
                yield where, member


def _read(files: tuple[str, ...]) -> Any:
    """The app users in FILES, each with where it was read; a record that is no object is
    kept as a failed app user (reported, never dropped)."""
    from mapper.core import jsonio
    from mapper.tools.app_import import AppUser
    from mapper.tools.bulk import block_records

    for block in input_blocks(list(files), all_lines=False):
        for record in block_records(block):
            where = f"{record.source}:{record.line}"
            try:
                document = record.parse()
            except jsonio.JsonInputError as exc:
                yield AppUser(where, None, None, str(exc))
                continue
            if isinstance(document, dict) and isinstance(document.get("Resources"), list):
                document = document["Resources"]
            for member in document if isinstance(document, list) else [document]:
                if not isinstance(member, dict):
                    yield AppUser(where, None, None, "not a SCIM resource (a JSON object)")
                    continue
                app_id = member.get("id")
                yield AppUser(where, app_id if isinstance(app_id, str) else None, member)


def _okta_record(document: object, where: str, flag: str, what: str, profile: bool) -> dict[str, Any]:
    """DOCUMENT, an Okta record read at WHERE for FLAG: an object with its user ``id`` (and, when
    PROFILE, its ``profile``); else the command stops (exit 1), naming WHAT was expected."""
    if not (
        isinstance(document, dict)
        and isinstance(document.get("id"), str)
        and (not profile or isinstance(document.get("profile"), dict))
    ):
        fail_with([f"mapper: import users: {flag} {where}: not {what}"], ExitCode.FAILED)
    return document


def _listed(
    base_url: str, page_size: int, token_env: str, timeout: float, allow_http: bool, notes: list[str]
) -> Any:
    """The app's users, listed as Okta's import lists them, after sync's pre-flight."""
    from mapper.core.extras import Extra, require
    from mapper.core.urls import base_url_problem, clear_text_to_another_host, shown_url

    require(Extra.SYNC, "import users --from")
    from mapper.sync.app import AppError, Connection, ScimApp
    from mapper.tools.app_import import AppUser

    problem = base_url_problem(base_url)
    if problem:
        raise UsageError(f"import users: --from {shown_url(base_url)}: {problem}; nothing was sent")
    if not allow_http and clear_text_to_another_host(base_url):
        raise UsageError(
            f"import users: --from {shown_url(base_url)}: plain http to another host would send the bearer "
            "token in clear text: use https (or --allow-http); nothing was sent"
        )
    token = os.environ.get(token_env)
    if not token:
        raise UsageError(
            f"import users: the variable {token_env} is not set (or is empty): put the app's token in it"
        )
    app = ScimApp(Connection(base_url, token, timeout, 1, None, token_env, url_option="--from"))
    try:
        app.preflight()
        listing = app.list_users(page_size)
    except AppError as exc:  # the app, not the data given: exit 5, as sync's
        fail_with([f"mapper: import users: {exc}"], ExitCode.APP)
    finally:
        app.close()
    if listing.short_pages:
        notes.append(
            f"the app returned fewer users than asked for on {listing.short_pages} page(s) with more to come: "
            f"mapper read on from there, but Okta's import asks for the next page at startIndex + {page_size} "
            "and would miss users"
        )
    if listing.changed:
        notes.append(
            "the app's users changed while they were listed (its count went "
            + " -> ".join(str(t) for t in dict.fromkeys(listing.totals))
            + "): some may be missing; run it again for an exact report"
        )
    where = shown_url(f"{base_url.rstrip('/')}/Users")[1:-1]  # no credentials, no quotes
    return [AppUser(where, str(user["id"]), user) for user in listing.users]


def _write(
    report: Any, compiled: Any, output_format: str, output: Path | None, show_values: bool, quiet: bool
) -> None:
    from mapper.tools import app_import

    if output_format == "table":
        text = app_import.table(report, show_values)
    elif output_format == "json":
        text = dump_json(app_import.as_json(report, show_values), compact=False)
    elif output_format == "jsonl":
        text = "".join(app_import.users_api_bodies(report))
    else:
        text, left_out = app_import.csv_import(report, compiled)
        if left_out and not quiet:
            click.echo(
                "mapper: import users: left out of the CSV (arrays, which one cell cannot hold): "
                + ", ".join(left_out),
                err=True,
            )
    if output_format in ("jsonl", "csv") and not quiet:
        click.echo(f"mapper: import users: {app_import.summary_line(report)}", err=True)
    if output is not None:
        save_file(output, text, private=True)
    else:
        write_stdout(text)
