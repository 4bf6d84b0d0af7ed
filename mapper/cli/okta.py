"""``mapper import okta`` and ``mapper export okta``: a ruleset from and to Okta's mapping."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mapper.cli.common import (
    QUIET_HELP,
    check_outputs,
    fail_with,
    load_ruleset,
    read_json,
    run_action,
    save_file,
    write_stdout,
)
from mapper.errors import ExitCode


@click.group("import")
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
@click.option(
    "--inbound-mapping",
    "inbound_file",
    metavar="MAPPING.json",
    help="The app to Okta user mapping (GET /api/v1/mappings?sourceId={appId}), as inbound rules.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the ruleset to this file.")
@click.option("--name", help="The ruleset's name (default: the output file's name, else the app's).")
def import_okta_command(
    schema_file: str, mapping_file: str, inbound_file: str | None, output: Path | None, name: str | None
) -> None:
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

        check_outputs({"-o": output}, [schema_file, mapping_file, *([inbound_file] if inbound_file else [])])
        schema, mapping = read_json(schema_file), read_json(mapping_file)
        inbound = read_json(inbound_file) if inbound_file else None
        app = schema.get("name") if isinstance(schema, dict) and isinstance(schema.get("name"), str) else None
        wanted = name or (output.stem if output else None) or app or "imported"
        ruleset_name = re.sub(r"[^A-Za-z0-9_-]", "_", wanted)
        if not ruleset_name[0].isalpha():
            ruleset_name = "r_" + ruleset_name
        try:
            result = import_okta(schema, mapping, ruleset_name, inbound)
        except OktaInputError as exc:
            fail_with([f"mapper: import: {exc}"], ExitCode.FAILED)
        if output is None:
            write_stdout(result.text)
        else:
            save_file(output, result.text)
        for problem in result.problems:
            click.echo(f"mapper: import: {problem}", err=True)
        if result.incomplete:
            sys.exit(ExitCode.FAILED)

    run_action(action)


@click.group("export")
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
@click.option(
    "--keep-unmanaged",
    is_flag=True,
    help="terraform: keep the app's mappings the ruleset does not state (delete_when_absent = false).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
def export_okta_command(
    ruleset: str,
    output_format: str,
    schema_file: str | None,
    keep_unmanaged: bool,
    output: Path | None,
    quiet: bool,
) -> None:
    """Write what Okta needs to run RULESET.

    json: {"appUserSchema": the custom properties to POST to
    /api/v1/meta/schemas/apps/{appId}/default, "profileMapping": the body to
    POST to /api/v1/mappings/{id}}. terraform: okta_app_user_schema_property
    resources and an okta_profile_mapping that owns the app's whole mapping:
    applying it deletes every mapping the ruleset does not state, ones added in
    Okta's UI included (delete_when_absent = true; a warning line says so), unless
    --keep-unmanaged. Rules Okta handles itself (active, externalId, userName) are
    listed on standard error, not exported.
    """

    def action() -> None:
        if keep_unmanaged and output_format != "terraform":
            fail_with(["mapper: export: --keep-unmanaged is for --format terraform"], ExitCode.USAGE)
        from mapper.okta import exporter
        from mapper.okta.importer import OktaInputError

        check_outputs({"-o": output}, [ruleset, *([schema_file] if schema_file else [])])
        compiled = load_ruleset(ruleset, quiet)
        schema = read_json(schema_file) if schema_file else None
        try:
            result = exporter.export_okta(compiled, schema)
        except OktaInputError as exc:
            problems = exc.problems if isinstance(exc, exporter.ExportRefused) else [str(exc)]
            from mapper.markup import visible

            fail_with([f"mapper: export: {visible(p)}" for p in problems], ExitCode.FAILED)
        if output_format == "terraform":
            from mapper.okta.terraform import terraform

            text = terraform(result, keep_unmanaged)
        else:
            text = exporter.dumps(result)
        if output is None:
            write_stdout(text)
        else:
            save_file(output, text)
        if not quiet:
            for problem in result.problems:
                click.echo(f"mapper: export: {problem}", err=True)
        if output_format == "terraform" and not keep_unmanaged:  # said even with --quiet: it deletes
            click.echo(
                "mapper: export: warning: delete_when_absent = true: applying this deletes every mapping of "
                "the app the ruleset does not state, ones added in Okta's UI included (--keep-unmanaged "
                "keeps them)",
                err=True,
            )

    run_action(action)
