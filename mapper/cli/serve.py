"""``mapper serve``: the playground page, on 127.0.0.1."""

from __future__ import annotations

import click

from mapper.cli.common import fail_with, run_action
from mapper.errors import ExitCode


@click.command()
@click.argument("ruleset", required=False, metavar="[RULESET]")
@click.option(
    "--profiles", "profiles", multiple=True, metavar="EXPORT",
    help="Profiles to pick from: an export (JSON Lines, a JSON array) or a folder of JSON files. Repeatable.",
)  # fmt: skip
@click.option(
    "--port", default=8484, show_default=True, type=click.IntRange(0, 65535),
    help="The port on 127.0.0.1 (0: any free one).",
)  # fmt: skip
def serve(ruleset: str | None, profiles: tuple[str, ...], port: int) -> None:
    """Open a playground page for a ruleset: edit it with highlighting and the checker's
    diagnostics as you type, pick or paste a profile and see its SCIM resource, a second
    profile and the PATCH between them in each style, the explain table, and save.

    RULESET is a file (Save writes it back, formatted, only when it checks clean) or a
    built-in name (default okta-default; Save writes a new file you name). The page is
    served on 127.0.0.1 only, at an address with a token for this run, printed on
    standard error; nothing leaves the machine. Ctrl-C stops it (exit 0).
    """

    def action() -> None:
        from mapper.serve.playground import Playground, read_profiles
        from mapper.serve.server import PlaygroundServer

        try:
            found = read_profiles(list(profiles)) if profiles else []
        except FileNotFoundError as exc:
            fail_with([f"mapper: serve: {exc.filename}: no such file"], ExitCode.USAGE)
        playground = Playground.open(ruleset, found)
        playground.check(playground.text)  # compiled before the page asks: its first load is quick
        try:
            server = PlaygroundServer(playground, port)
        except OSError as exc:
            fail_with([f"mapper: serve: 127.0.0.1:{port}: {exc.strerror or exc}"], ExitCode.USAGE)
        click.echo(f"mapper serve: {server.url}", err=True)
        click.echo("mapper serve: open it in a browser on this machine; Ctrl-C stops the server", err=True)
        try:
            server.serve_forever(0.2)
        except KeyboardInterrupt:
            click.echo("mapper serve: stopped", err=True)
        finally:
            server.server_close()

    run_action(action)
