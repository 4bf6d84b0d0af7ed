"""``mapper probe``: the command line of :mod:`mapper.probe`."""

from __future__ import annotations

import os
import signal
import sys

import click

from mapper.cli.common import MATCHES, QUIET_HELP, RULESET_HELP, run_action
from mapper.errors import ExitCode, UsageError
from mapper.markup import visible
from mapper.tools.options import FiniteRange


@click.command("probe")
@click.option("--to", "base_url", required=True, metavar="BASE_URL", help="The app's SCIM base URL.")
@click.option("-r", "--ruleset", default="okta-default", show_default=True, help=RULESET_HELP)
@click.option(
    "--match", type=click.Choice(MATCHES), default="userName",
    show_default=True, help="The attribute sync would look users up by: checked to find the probe's user.",
)  # fmt: skip
@click.option(
    "--token-env", default="SCIM_TOKEN", show_default=True, metavar="NAME",
    help="The environment variable that holds the app's bearer token (never a flag).",
)  # fmt: skip
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="text: one line per check and a verdict; json: one document (see the README).",
)  # fmt: skip
@click.option("--keep", is_flag=True, help="Leave the probe's user in the app, for inspection.")
@click.option("--yes", is_flag=True, help="Do not ask before writing to the app.")
@click.option(
    "--skip-auth-check", is_flag=True,
    help="Send no request with a wrong token (where failed logins raise alarms).",
)  # fmt: skip
@click.option(
    "--timeout", default=30.0, show_default=True, type=FiniteRange(min=0.1, max=3600.0),
    help="Seconds for each whole answer.",
)  # fmt: skip
@click.option(
    "--allow-http", is_flag=True,
    help="Allow a plain http:// --to on another host (the token then crosses the network in clear text).",
)  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
def probe(
    base_url: str, ruleset: str, match: str, token_env: str, output_format: str, keep: bool, yes: bool,
    skip_auth_check: bool, timeout: float, allow_http: bool, quiet: bool,
) -> None:  # fmt: skip
    """Test the app's SCIM API with one throwaway user, and find the update style it applies.

    Checks the connection (sync's pre-flight) and the app's schemas against
    the ruleset, runs Okta's SPEC test (list, filters, 404, create, 409,
    case-insensitive userName, a wrong token is 401), then Okta's CRUD
    lifecycle with the ruleset's own requests in each style (rfc, no-path,
    whole-multivalued, put), reading the user back after each. The user,
    mapper-probe-<random>@example.invalid, is deleted at the end (deactivated
    where the app refuses DELETE) unless --keep. Exit 0 when a style works,
    1 when none does, 2 for bad usage, 5 when the app cannot be reached.
    """

    def action() -> None:
        from mapper.cli.common import load_ruleset
        from mapper.cli.sync import _check_url
        from mapper.core.extras import Extra, require

        require(Extra.SYNC, "probe")
        from mapper.core.http import MAX_RESPONSE_BYTES
        from mapper.probe.checks import Check, Probe
        from mapper.probe.report import as_json, check_line, verdict
        from mapper.sync.app import Connection

        _check_url(base_url, allow_http)
        token = os.environ.get(token_env)
        if not token:
            raise UsageError(
                f"probe: the variable {token_env} is not set (or is empty): put the app's bearer token in it"
            )
        compiled = load_ruleset(ruleset, quiet)
        connection = Connection(base_url, token, timeout, 1, None, token_env, MAX_RESPONSE_BYTES)
        text = output_format == "text"
        click.echo(
            f"mapper: probe: this writes to {base_url}: it creates a user (mapper-probe-...@example.invalid; "
            "a second one in a bulk request where the app announces /Bulk), updates it in each style, and "
            "deletes it" + (" (--keep: leaves it)" if keep else ""),
            err=True,
        )
        asking = not yes and sys.stdin is not None and sys.stdin.isatty()
        if asking and not click.confirm("Go on?", err=True):
            raise UsageError("probe: not confirmed; nothing was sent")

        def heard(check: Check) -> None:
            if text:
                click.echo(check_line(check))

        def created(user_id: str, user_name: str) -> None:
            click.echo(f"mapper: probe: created the user {visible(user_id)} ({user_name})", err=True)

        def terminated(signum: int, frame: object) -> None:
            raise KeyboardInterrupt  # as Ctrl-C: the probe removes its user on the way out

        previous = signal.signal(signal.SIGTERM, terminated)
        try:
            report = Probe(compiled, connection, match, skip_auth_check, keep, heard, created).run()
        finally:
            signal.signal(signal.SIGTERM, previous)
        if text:
            for line in verdict(report):
                click.echo(line)
        else:
            click.echo(as_json(report), nl=False)
        if not report.connected:
            sys.exit(ExitCode.APP)
        if report.style is None:
            sys.exit(ExitCode.FAILED)

    run_action(action)
