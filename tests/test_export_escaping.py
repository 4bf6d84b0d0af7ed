"""What `mapper export okta` writes into Okta's expression language and into HCL is data,
never code: every string goes through one escaping function per language (issue 19, item 7),
proven here by round trips through mapper's own Okta EL reader and through python-hcl2, and
by export then import of hostile entry types and ruleset names."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mapper
from mapper.language import ast
from mapper.language.literals import UnwritableLiteral, filter_value, string_literal
from mapper.language.syntax import parse_expression
from mapper.okta import exporter, terraform
from mapper.okta.importer import import_okta
from mapper.okta.template import app_user_schema
from tests.support.cli import mapper_cli
from tests.test_okta import _hcl_string, _parsed_terraform

HOSTILE_TYPES = ["x' + user.employeeNumber + '", "it's", "back\\slash", 'say "hi"', "two words", "ü", "a.b",
                 "a]b", "$x", "a==b", "${x}", "%{x}", "#", "a\rb", "\u2028", "'", "''", '"']  # fmt: skip


@given(text=st.text().filter(lambda t: "\n" not in t), quote=st.sampled_from(['"', "'"]))
def test_an_okta_string_literal_reads_back_as_its_text(text: str, quote: str) -> None:
    parsed, problem = parse_expression(string_literal(text, quote), "<test>")
    assert problem is None and isinstance(parsed, ast.Literal) and parsed.value == text


def test_a_newline_has_no_okta_string_literal() -> None:
    with pytest.raises(UnwritableLiteral):
        string_literal("a\nb")


def _python_hcl2_reads(text: str) -> bool:
    """python-hcl2 8 reads ``$${``/``%%{`` only when a ``}`` follows (HCL itself does not ask it)."""
    quoted = terraform.string(text)
    for opener in ("$${", "%%{"):
        at = quoted.find(opener)
        while at >= 0:
            if "}" not in quoted[at + 3 :]:
                return False
            at = quoted.find(opener, at + 3)
    return True


def _hcl2_reads_line(line: str) -> bool:
    """Whether python-hcl2 8 can read a line of mapper's Terraform (see _python_hcl2_reads):
    where it cannot, the round trip goes through the JSON export instead."""
    return all("}" in line[at + 3 :] for opener in ("$${", "%%{") for at in _found(line, opener))


def _found(text: str, part: str) -> list[int]:
    at, found = text.find(part), []
    while at >= 0:
        found.append(at)
        at = text.find(part, at + 1)
    return found


@given(text=st.text())
def test_an_hcl_string_reads_back_as_its_text(text: str) -> None:
    if not _python_hcl2_reads(text):
        return
    document = hcl2.loads(f"x = {terraform.string(text)}\n")
    assert _hcl_string(document["x"]) == text


def _typed_ruleset(entry_type: str, primary: bool) -> mapper.Ruleset:
    return mapper.loads(
        "ruleset t\nuserName <- user.login\n"
        f"emails[type eq {filter_value(entry_type)}].value <- user.email{' primary' if primary else ''}\n",
        "t.mapper",
        cache=False,
    )


def _round_trip(ruleset: mapper.Ruleset, via_terraform: bool) -> mapper.Ruleset:
    export = exporter.export_okta(ruleset)
    document = terraform.terraform(export)
    if via_terraform and all(_hcl2_reads_line(line) for line in document.splitlines()):
        custom, mappings = _parsed_terraform(document)
    else:
        custom, mappings = export.custom_properties, export.mappings
    result = import_okta(app_user_schema(custom), json.loads(json.dumps({"properties": mappings})), "t")
    assert [p for p in result.problems if "not imported" in p] == []
    return mapper.loads(result.text, "t.mapper", cache=False)


@pytest.mark.parametrize("via_terraform", [False, True])
@settings(max_examples=100)  # each example exports, imports and compiles a ruleset
@given(entry_type=st.one_of(st.sampled_from(HOSTILE_TYPES), st.text(min_size=1)))
def test_a_primary_entry_type_survives_export_and_import_as_data(
    entry_type: str, via_terraform: bool
) -> None:
    ruleset = _typed_ruleset(entry_type, primary=True)
    if "\n" in entry_type:
        with pytest.raises(exporter.ExportRefused, match="line break"):
            exporter.export_okta(ruleset)
        return
    again = _round_trip(ruleset, via_terraform)
    user = {"id": "00u1", "status": "ACTIVE",
            "profile": {"login": "a@x.io", "email": "a@x.io", "employeeNumber": "E1"}}  # fmt: skip
    assert again.render(user)["emails"] == [{"value": "a@x.io", "type": entry_type, "primary": True}]


@settings(max_examples=100)  # each example exports, imports and compiles a ruleset
@given(entry_type=st.one_of(st.sampled_from(HOSTILE_TYPES), st.text(min_size=1)))
def test_an_entry_type_okta_cannot_filter_by_is_refused_never_written(entry_type: str) -> None:
    ruleset = _typed_ruleset(entry_type, primary=False)
    try:
        export = exporter.export_okta(ruleset)
    except exporter.ExportRefused as exc:
        assert len(exc.problems) == 1 and "not exported" in exc.problems[0]
        return
    (spec,) = export.custom_properties.values()
    assert spec["externalName"] == f"emails.^[type=='{entry_type}'].value"
    again = _round_trip(ruleset, via_terraform=False)
    user = {"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@x.io", "email": "a@x.io"}}
    assert again.render(user)["emails"] == [{"value": "a@x.io", "type": entry_type}]


@settings(max_examples=100)
@given(name=st.text(min_size=1))
def test_a_ruleset_name_stays_in_its_comment(name: str) -> None:
    ruleset = mapper.loads("userName <- user.login\ntitle <- user.title\n", "t.mapper", cache=False)
    export = exporter.export_okta(ruleset)
    export.name = name  # as a file name gives it, newlines and all
    text = terraform.terraform(export)
    first = text.splitlines()[0]
    assert first.startswith("# Generated by") and len(text.splitlines()) == len(
        terraform.terraform(exporter.export_okta(ruleset)).splitlines()
    )
    if _python_hcl2_reads(name):
        document = hcl2.loads(text)
        assert [list(block) for block in document["resource"]] == [
            ['"okta_app_user_schema_property"'],
            ['"okta_profile_mapping"'],
        ] or all('"null_resource"' not in block for block in document["resource"])


def test_export_refuses_every_unwritable_rule_at_once_and_writes_nothing(tmp_path: Path) -> None:

    ruleset = tmp_path / "t.mapper"
    ruleset.write_text(
        "ruleset t\nuserName <- user.login\n"
        'emails[type eq "it\'s"].value <- user.email\n'
        'phoneNumbers[type eq "a]b"].value <- user.mobilePhone\n'
        'ims[type eq "x\\u001b[31m"].value <- user.title\n'
    )
    out = tmp_path / "out.tf"
    result = mapper_cli(*["export", "okta", str(ruleset), "--format", "terraform", "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and all("not exported: the entry type" in line for line in lines)
    assert "\x1b" not in result.stderr
