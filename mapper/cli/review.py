"""The review tools: ``mapper check``, ``fmt``, ``explain``, ``test`` and ``review``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from mapper.cli.common import (
    EXPLAIN_FORMATS,
    QUIET_HELP,
    diagnostic_lines,
    fail_with,
    load_ruleset,
    print_warnings,
    read_json,
    run_action,
    write_stdout,
)
from mapper.errors import ExitCode, UsageError
from mapper.tools.options import FiniteRange


@click.command()
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
@click.option(
    "--inbound",
    "show_inbound",
    is_flag=True,
    help="List how each rule stands in the inbound direction (text format).",
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
    show_inbound: bool,
) -> None:
    """Check rulesets and print every error and warning.

    Each RULESET is a file, a folder (every .mapper file in it) or a built-in
    name. With --schemas, every target must also exist in the app's schema,
    spelled exactly as the app spells it, with a compatible type and not
    read-only; attributes the app requires that no rule sets are warnings.
    Under each ruleset that checks clean, a line counts its inbound rules
    (app to Okta: derived from plain copies, declared) and the outbound rules
    that cannot be inverted; --inbound lists them rule by rule.
    Exits 2 when any ruleset has an error (or, with --strict, a warning), else 0.
    """

    def action() -> None:
        from mapper.tools import checking

        if show_inbound and output_format != "text":
            raise UsageError("check: --inbound lists rules for people: it goes with --format text")
        app = _app_schemas(discovery, token_env, timeout, max_response_mb, allow_http) if discovery else None
        results = [checking.check_one(name, app) for name in checking.expand(list(rulesets))]
        write_stdout(checking.render(results, output_format, strict, show_inbound))
        if any(r.failed(strict) for r in results):
            sys.exit(ExitCode.USAGE)

    run_action(action)


def _app_schemas(
    sources: tuple[str, ...],
    token_env: str,
    timeout: float,
    max_response_mb: int = 16,
    allow_http: bool = False,
) -> Any:
    """The app's schemas from discovery files and base URLs (token from TOKEN_ENV, never a flag)."""
    from mapper.core.extras import Extra, require
    from mapper.core.urls import base_url_problem, clear_text_to_another_host, shown_url
    from mapper.runtime import app_schema

    documents: list[object] = []
    try:
        for source in sources:
            token = os.environ.get(token_env) or None
            if "://" in source:  # a URL (base_url_problem refuses all but http and https)
                problem = base_url_problem(source)
                if problem:
                    fail_with([f"mapper: --schemas {shown_url(source)}: {problem}"], ExitCode.USAGE)
                require(Extra.SYNC, "--schemas URL (the app's discovery, over HTTP)")
                if token and not allow_http and clear_text_to_another_host(source):
                    fail_with([f"mapper: --schemas {source}: plain http to another host would send the token in "
                           f"{token_env} in clear text: use https (or --allow-http)"], ExitCode.USAGE)  # fmt: skip
                documents += app_schema.fetch_discovery(source, token, timeout, max_response_mb << 20)
            else:
                documents.append(read_json(source))
        return app_schema.read_discovery(*documents)
    except app_schema.DiscoveryError as exc:
        fail_with([f"mapper: --schemas: {exc}"], ExitCode.FAILED)


@click.command()
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
            write_stdout(outcome.output)
        for line in outcome.messages:
            click.echo(line, err=True)
        sys.exit(outcome.exit_code)

    run_action(action)


@click.command()
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
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
def explain(ruleset: str, output_format: str, quiet: bool) -> None:
    """Show what a ruleset maps: a table, a diagram, or text.

    RULESET is a file or a built-in name. For each rule: the Okta source
    attributes, the transform, the SCIM target and its schema, when the rule
    applies, its default, and where inherited rules come from.
    """

    def action() -> None:
        from mapper.tools import explain as explaining

        write_stdout(explaining.explain(load_ruleset(ruleset, quiet, cache=False), output_format))

    run_action(action)


@click.command("test")
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
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
def test_command(
    paths: tuple[Path, ...], strict: bool, update: bool, refresh: tuple[str, ...], quiet: bool
) -> None:
    """Run the examples that live beside rulesets (NAME.examples.json).

    With no PATH, runs every examples file under ./rulesets, or under the
    current folder when there is no rulesets folder (hidden folders and
    virtual environments are not searched). A PATH is an
    examples file, a ruleset (its examples file), or a folder. Exits 0 when
    every example passes, 1 when one fails (or, with --strict, when a rule
    has no example or a ruleset no examples file), 2 when a file or ruleset
    cannot be read.
    """

    def action() -> None:
        from mapper.tools import examples

        targets = list(paths) or [Path("rulesets") if Path("rulesets").is_dir() else Path(".")]
        outcome = examples.run(
            targets, strict, update, frozenset(refresh), warn=None if quiet else print_warnings
        )
        write_stdout(outcome.output)
        sys.exit(outcome.exit_code)

    run_action(action)


@click.command()
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option(
    "--profiles",
    type=click.Path(path_type=Path),
    help="A folder of sample profiles (*.json) to render with both versions, or a whole export "
    "(.jsonl) whose users are counted per changed attribute.",
)
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
    help="With a whole export: read it in this many processes (the review is the same).",
)  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
def review(old: str, new: str, profiles: Path | None, jobs: int, quiet: bool) -> None:
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
                    print_warnings(version.warnings)
            write_stdout(reviewing.review_versions(versions[0], versions[1], old, new, profiles, jobs))
        except reviewing.ReviewError as exc:
            fail_with([f"mapper: {exc}"], ExitCode.USAGE)
        except RulesetError as exc:
            fail_with(diagnostic_lines(exc.errors), ExitCode.USAGE)

    run_action(action)
