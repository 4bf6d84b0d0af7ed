"""Okta as data: importing an app's mapping, exporting a ruleset (JSON and Terraform), and
checking a ruleset against the app's own SCIM schema."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mapper
from mapper.core.schema import CORE_USER, ENTERPRISE_USER
from mapper.errors import Severity
from mapper.okta import exporter, terraform
from mapper.okta.importer import OktaInputError, import_okta
from mapper.okta.paths import ExternalName, parse_external_name
from mapper.okta.template import app_user_schema
from mapper.runtime.app_schema import DiscoveryError, check_app_schema, fetch_discovery, read_discovery
from tests.conftest import ROOT
from tests.support.scim_server import SharedServers

EXAMPLES = ROOT / "examples" / "okta"
SCHEMA = json.loads((EXAMPLES / "appspace-app-user-schema.json").read_text())
MAPPING = json.loads((EXAMPLES / "appspace-profile-mapping.json").read_text())
APPSPACE = "urn:ietf:params:scim:schemas:extension:appspace:2.0:User"

# Okta's documented SCIM 2.0 create request (developer.okta.com, SCIM 2.0 protocol reference,
# "Create the User"), and the Okta user it is for.
DOCUMENTED_CREATE = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}
TEST_USER = {
    "id": "00ujl29u0le5T6Aj10h7",
    "status": "ACTIVE",
    "profile": {
        "login": "test.user@okta.local",
        "email": "test.user@okta.local",
        "firstName": "Test",
        "lastName": "User",
        "displayName": "Test User",
        "locale": "en-US",
    },
}


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mapper.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName", ExternalName("userName")),
        ("name.givenName", ExternalName("name", sub="givenName")),
        ("emails.^[type=='work'].value", ExternalName("emails", "type", "work", "value")),
        ("phoneNumbers.^[primary==true].value", ExternalName("phoneNumbers", "primary", True, "value")),
        ("emails.^[primary==false].type", ExternalName("emails", "primary", False, "type")),
        ("emails.[1].value", None),  # positional entries: no type to select by
        ("emails.^[display=='x'].value", None),
        ("emails.^[type=='work']", None),  # a whole entry
        ("a b", None),
        ("", None),
    ],
)
def test_external_names(text: str, expected: ExternalName | None) -> None:
    assert parse_external_name(text) == expected
    if expected is not None:
        assert expected.okta() == text


# ---------------------------------------------------------------- import


def test_the_example_imports_and_renders_okta_s_documented_request() -> None:
    result = import_okta(SCHEMA, MAPPING, "appspace_okta")
    ruleset = mapper.loads(result.text, "appspace_okta.mapper", cache=False)
    assert ruleset.warnings == ()
    rendered = ruleset.render(TEST_USER)
    expected = {k: v for k, v in DOCUMENTED_CREATE.items() if k not in ("password", "groups")}
    assert rendered == expected  # Okta adds password and groups outside any mapping
    # Every rule names its Okta variable; the namespace is declared exactly as the app spells it.
    for line in result.text.splitlines():
        if "<-" in line and not line.startswith("#"):
            assert re.search(r"# (Okta: \w+|Okta: the app's username format|sent by Okta itself)", line), line
    assert f'schema appspace = "{APPSPACE}"' in result.text
    assert "appspace:badgeId" in result.text and "on create" in result.text  # DONT_PUSH
    assert result.problems == [
        "userName: not in the mapping (Okta takes it from the app's username format); assumed the Okta "
        "username, user.login",
        "deskNumber: not imported: no External Namespace, so Okta leaves it out of every request (set the "
        "app's schema URN, exactly as the app spells it)",
    ]
    assert "# not imported (Okta: deskNumber)" in result.text


def test_import_command_writes_a_formatted_checked_ruleset(tmp_path: Path) -> None:
    out = tmp_path / "appspace_okta.mapper"
    result = _run(
        "import", "okta", "--schema", str(EXAMPLES / "appspace-app-user-schema.json"),
        "--mapping", str(EXAMPLES / "appspace-profile-mapping.json"), "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 1  # something was not imported (deskNumber); the file is written all the same
    assert result.stdout == ""
    assert [line.split(":")[2].strip() for line in result.stderr.splitlines()] == ["userName", "deskNumber"]
    assert _run("fmt", "--check", str(out)).returncode == 0
    checked = _run("check", "--strict", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ruleset appspace_okta" in out.read_text()


def _schema_with(custom: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(SCHEMA)
    schema["definitions"]["custom"]["properties"].update(custom)
    return schema


def test_the_readme_shows_how_import_ends_with_the_inbound_rules() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```text inbound-import\n(.*?)^```$", readme, re.S | re.M)
    assert shown is not None
    inbound = json.loads((EXAMPLES / "appspace-app-to-okta-mapping.json").read_text())
    text = import_okta(SCHEMA, MAPPING, "appspace-both-okta", inbound).text
    assert text.endswith(shown.group(1))
    ruleset = mapper.loads(text, "appspace-both-okta.mapper", cache=False)
    app_user = {
        "urn:ietf:params:scim:schemas:extension:appspace:2.0:User": {"badgeId": "b-7", "building": "B2"}
    }
    assert ruleset.inbound(app_user)["employeeNumber"] == "B-7"
    assert ruleset.inbound(app_user, update=True)["postalAddress"] == "B2"


@pytest.mark.parametrize(
    ("custom", "mapped", "problem"),
    [
        (
            {},
            {"nope": "user.title"},
            "nope: not imported: mapped, but the App User Schema has no such property",
        ),
        (
            {
                "ro": {
                    "type": "string",
                    "externalName": "ro",
                    "externalNamespace": APPSPACE,
                    "mutability": "READ_ONLY",
                }
            },
            {"ro": "user.title"},
            "ro: not imported: read-only in the app schema, so Okta does not send it",
        ),
        (
            {"plain": {"type": "string"}},
            {"plain": "user.title"},
            "plain: not imported: no External Name, so Okta does not send it to a SCIM app",
        ),
        (
            {"pos": {"type": "string", "externalName": "emails.[1].value", "externalNamespace": CORE_USER}},
            {"pos": "user.title"},
            "pos: not imported: External Name 'emails.[1].value' is not a SCIM path mapper can write",
        ),
        (
            {"deep": {"type": "string", "externalName": "room.number", "externalNamespace": APPSPACE}},
            {"deep": "user.title"},
            "deep: not imported: a sub-attribute of a custom schema (schema blocks declare simple attributes)",
        ),
        (
            {"back": {"type": "string", "externalName": "back", "externalNamespace": APPSPACE}},
            {"back": "appuser.nickName"},
            "back: not imported: appuser.nickName reads the app's resource: that is the app-to-Okta direction",
        ),
        (
            {"nl": {"type": "string", "externalName": "nl", "externalNamespace": APPSPACE}},
            {"nl": 'user.title + "a\nb"'},
            "nl: not imported: not an expression mapper reads: the expression holds a line break inside a string",
        ),
        (
            {},
            {"secondEmail": "user.secondEmail"},
            "secondEmail: not imported: Okta selects this entry by emails.^[primary==false], and nothing maps "
            "its type (emails.^[primary==false].type)",
        ),
        (
            {},
            {"secondEmail": "user.secondEmail", "secondaryEmailType": "user.emailKind"},
            "secondEmail: not imported: Okta selects this entry by emails.^[primary==false], and the mapping "
            "of secondaryEmailType ('user.emailKind') gives no single type",
        ),
    ],
)
def test_what_cannot_be_translated_is_listed_and_kept_as_a_comment(
    custom: dict[str, Any], mapped: dict[str, str], problem: str
) -> None:
    mapping = copy.deepcopy(MAPPING)
    mapping["properties"].update({k: {"expression": v, "pushStatus": "PUSH"} for k, v in mapped.items()})
    result = import_okta(_schema_with(custom), mapping, "t")
    assert problem in result.problems
    variable = problem.split(":")[0]
    assert f"# not imported (Okta: {variable}" in result.text and result.incomplete
    mapper.loads(result.text, "t.mapper", cache=False)  # what was kept still checks clean


def test_a_secondary_entry_with_a_typed_sibling_imports() -> None:
    mapping = copy.deepcopy(MAPPING)
    mapping["properties"]["secondEmail"] = {"expression": "user.secondEmail", "pushStatus": "PUSH"}
    mapping["properties"]["secondaryEmailType"] = {
        "expression": "(user.secondEmail != null && user.secondEmail != '') ? 'home' : ''",
        "pushStatus": "PUSH",
    }
    result = import_okta(SCHEMA, mapping, "t")
    assert 'emails[type eq "home"].value' in result.text
    ruleset = mapper.loads(result.text, "t.mapper", cache=False)
    user = {**TEST_USER, "profile": {**TEST_USER["profile"], "secondEmail": "t@home.example"}}
    assert ruleset.render(user)["emails"][1] == {"value": "t@home.example", "type": "home"}


@pytest.mark.parametrize(
    ("schema", "mapping", "message"),
    [
        ({"name": "x"}, MAPPING, "not an Okta App User Schema"),
        (SCHEMA, {"id": "prm1"}, "not an Okta profile mapping"),
        (SCHEMA, {**MAPPING, "source": {"type": "appuser"}}, "mapper imports the Okta user to app mapping"),
        (SCHEMA, [MAPPING, MAPPING], "a list of 2 mappings"),
        (
            SCHEMA,
            {"properties": {"x": {"expression": "user.a", "pushStatus": "SOMETIMES"}}},
            "unknown pushStatus",
        ),
    ],
)
def test_input_that_is_not_okta_s_is_refused(schema: object, mapping: object, message: str) -> None:
    with pytest.raises(OktaInputError, match=re.escape(message)):
        import_okta(schema, mapping, "t")


def test_a_mapping_of_a_property_the_schema_lacks_is_reported_kept_and_exit_1(tmp_path: Path) -> None:
    """Okta sends nothing for a mapped property its App User Schema does not have: the import says
    so on standard error, keeps the mapping as a comment, and exits 1 (the README's rule)."""
    schema, mapped = tmp_path / "schema.json", tmp_path / "m.json"
    mapping = copy.deepcopy(MAPPING)
    mapping["properties"].pop("deskNumber", None)  # the example's own mistake, not this test's
    schema.write_text(json.dumps(_schema_with({})))
    mapped.write_text(json.dumps(mapping))
    clean = _run("import", "okta", "--schema", str(schema), "--mapping", str(mapped))
    assert clean.returncode == 0, clean.stderr
    mapping["properties"]["ghost"] = {"expression": "user.title", "pushStatus": "PUSH"}
    mapped.write_text(json.dumps(mapping))
    result = _run("import", "okta", "--schema", str(schema), "--mapping", str(mapped))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        *clean.stderr.splitlines(),
        "mapper: import: ghost: not imported: mapped, but the App User Schema has no such property",
    ]
    assert "# not imported (Okta: ghost):" in result.stdout and "#   <- user.title" in result.stdout


def test_import_command_errors_are_one_line(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**MAPPING, "source": {"type": "appuser"}, "target": {"type": "user"}}))
    result = _run(
        "import", "okta", "--schema", str(EXAMPLES / "appspace-app-user-schema.json"), "--mapping", str(wrong)
    )
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "source is 'appuser'" in result.stderr
    missing = _run("import", "okta", "--schema", str(tmp_path / "none.json"), "--mapping", str(wrong))
    assert missing.returncode == 2 and missing.stderr.strip().endswith("no such file")


# ---------------------------------------------------------------- export


def _hcl_string(raw: str) -> str:
    """The value of an HCL quoted string as python-hcl2 returns it (quotes and escapes kept):
    evaluated here by HCL's rules, independently of the writer."""
    assert raw.startswith('"') and raw.endswith('"'), raw
    body = raw[1:-1]
    assert "${" not in body.replace("$${", "") and "%{" not in body.replace("%%{", ""), "interpolation"
    out, i = [], 0
    while i < len(body):
        if body.startswith("$${", i) or body.startswith("%%{", i):
            out.append(body[i + 1 : i + 3])
            i += 3
        elif body[i] == "\\":
            code = body[i + 1]
            if code == "u":
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append({"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}[code])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _parsed_terraform(text: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """(custom properties, mappings to the app) read back from Terraform with a real HCL parser."""
    properties, mappings, _ = _terraform(text)
    return properties, mappings


def _terraform(
    text: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(custom properties, mappings to the app, mappings from the app) read back from Terraform."""
    document = hcl2.loads(text)
    properties: dict[str, dict[str, Any]] = {}
    mappings: dict[str, dict[str, str]] = {}
    inbound: dict[str, dict[str, str]] = {}
    for block in document.get("resource", []):
        for kind, resources in block.items():
            for body in resources.values():
                if kind == '"okta_app_user_schema_property"':
                    spec = {
                        "title": _hcl_string(body["title"]),
                        "type": _hcl_string(body["type"]),
                        "scope": _hcl_string(body["scope"]),
                        "externalName": _hcl_string(body["external_name"]),
                        "externalNamespace": _hcl_string(body["external_namespace"]),
                        "mutability": "READ_WRITE",
                    }
                    if spec["type"] == "array":
                        spec = {"title": spec["title"], "type": "array",
                                "items": {"type": _hcl_string(body["array_type"])},
                                **{k: v for k, v in spec.items() if k not in ("title", "type")}}  # fmt: skip
                    properties[_hcl_string(body["index"])] = spec
                elif kind == '"okta_profile_mapping"':
                    ends = (body["source_id"], body["target_id"])
                    user = "${data.okta_user_profile_mapping_source.user.id}"
                    assert ends in ((user, "${var.app_id}"), ("${var.app_id}", user))
                    into = mappings if ends[1] == "${var.app_id}" else inbound
                    for m in body.get("mappings", []):
                        into[_hcl_string(m["id"])] = {
                            "expression": _hcl_string(m["expression"]),
                            "pushStatus": _hcl_string(m["push_status"]),
                        }
    return properties, mappings, inbound


def test_export_of_the_shipped_appspace_ruleset() -> None:
    result = exporter.export_okta(mapper.load("appspace"))
    body = result.as_json()
    custom = body["appUserSchema"]["definitions"]["custom"]["properties"]
    # costCenter and employeeNumber exist in the template's enterprise base, so the Appspace ones
    # (another namespace) are new properties, qualified by the schema's alias.
    assert {v["externalNamespace"] for v in custom.values()} == {APPSPACE}
    assert sorted(v["externalName"] for v in custom.values()) == ["costCenter", "employeeNumber"]
    assert all(v["scope"] == "SELF" for v in custom.values())
    mappings = body["profileMapping"]["properties"]
    assert mappings["givenName"] == {"expression": "user.firstName", "pushStatus": "PUSH"}
    assert (
        mappings["primaryEmailType"]["expression"] == "(user.email != null && user.email != '') ? 'work' : ''"
    )
    assert [p.split(":")[0] for p in result.problems] == ["externalId", "userName", "active"]
    inbound = body["appToOktaMapping"]["properties"]  # the copies back, by the same variables
    assert inbound["firstName"] == {"expression": "appuser.givenName", "pushStatus": "PUSH"}
    assert inbound["costCenter"] == {"expression": "appuser.appspaceCostCenter", "pushStatus": "PUSH"}
    assert "login" not in inbound  # Okta's import names users by its username format setting
    tf_properties, tf_mappings, tf_inbound = _terraform(terraform.terraform(result))
    assert tf_properties == custom and tf_mappings == mappings and tf_inbound == inbound


def test_terraform_strings_survive_every_escape() -> None:
    nasty = 'String.join("${x}", "%{y}", "a\\b", "\u00e9", "\t") + "$$" + "%" + "$"'
    ruleset = mapper.loads(f"ruleset n\nuserName <- user.login\ntitle <- {nasty}\n", "n.mapper", cache=False)
    result = exporter.export_okta(ruleset)
    _, mappings = _parsed_terraform(terraform.terraform(result))
    assert mappings["title"]["expression"] == result.mappings["title"]["expression"] == nasty


def test_export_uses_the_app_s_own_variable_names(tmp_path: Path) -> None:
    """Given the app's schema, targets it has keep its names; a type-named entry needs no type sibling."""
    schema = _schema_with({"workMail": {"type": "string", "externalName": "emails.^[type=='work'].value",
                                        "externalNamespace": CORE_USER}})  # fmt: skip
    del schema["definitions"]["base"]["properties"]["email"]
    result = exporter.export_okta(mapper.load("okta-default"), schema)
    assert "workMail" in result.mappings and "primaryEmailType" not in result.mappings
    assert result.custom_properties == {}


def test_export_command(tmp_path: Path) -> None:
    out = tmp_path / "appspace.tf"
    result = _run("export", "okta", "appspace", "--format", "terraform", "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 4  # active, externalId, userName (Okta's own), and what applying deletes
    assert "delete_when_absent = true" in lines[-1] and "--keep-unmanaged" in lines[-1]
    assert "delete_when_absent = true" in out.read_text()
    assert _parsed_terraform(out.read_text())[1]
    quiet = _run("export", "okta", "appspace", "--format", "terraform", "-q")
    assert quiet.stderr.splitlines() == lines[-1:]  # the deletion warning stays
    kept = _run("export", "okta", "appspace", "--format", "terraform", "--keep-unmanaged", "-q")
    assert kept.returncode == 0 and kept.stderr == ""
    assert "delete_when_absent = false" in kept.stdout and "delete_when_absent = true" not in kept.stdout
    as_json = _run("export", "okta", "appspace", "-q")
    assert json.loads(as_json.stdout)["profileMapping"]["properties"] and as_json.stderr == ""
    misplaced = _run("export", "okta", "appspace", "--keep-unmanaged")
    assert misplaced.returncode == 2 and "--keep-unmanaged is for --format terraform" in misplaced.stderr


# ---------------------------------------------------------------- the round trip

_CORE_TARGETS = [
    "title",
    "displayName",
    "nickName",
    "name.givenName",
    "name.middleName",
    "locale",
    "timezone",
]
_ENTRIES = [('emails[type eq "work"].value', True), ('phoneNumbers[type eq "work"].value', True),
            ('emails[type eq "home"].value', False), ('addresses[type eq "work"].locality', False)]  # fmt: skip
_ENTERPRISE = ["enterprise:department", "enterprise:division", "enterprise:employeeNumber"]
_SOURCES = ["firstName", "lastName", "title", "department", "nickName", "email", "city", "locale"]


@st.composite
def importable_rulesets(draw: st.DrawFn) -> str:
    """Rulesets in the subset Okta can run: userName, externalId and active as Okta sends them,
    other targets from the core, the enterprise extension and a custom one, values in Okta EL."""

    def value() -> str:
        source = f"user.{draw(st.sampled_from(_SOURCES))}"
        return draw(st.sampled_from([
            source, f"String.toUpperCase({source})", f'{source} + " x"', f'{source} ?: "none"',
            f'{source} == "a" ? "b" : {source}', '"constant"', f"String.substringBefore({source}, \"@\")",
        ]))  # fmt: skip

    lines = ["ruleset r", 'schema app = "urn:ietf:params:scim:schemas:extension:app:2.0:User" {',
             "  code: string", "  level: integer", "  flag: boolean", "}", "profile {", "  isContractor: boolean",
             "}", "userName <- user.login"]  # fmt: skip
    targets = draw(
        st.lists(st.sampled_from(_CORE_TARGETS + _ENTERPRISE + ["app:code"]), unique=True, max_size=6)
    )
    for target in targets:
        option = draw(st.sampled_from(["", " on create", ' default "d"']))
        lines.append(f"{target} <- {value()}{option}")
    for target, primary in draw(
        st.lists(st.sampled_from(_ENTRIES), unique_by=lambda e: e[0].split("[")[0], max_size=2)
    ):
        lines.append(f"{target} <- {value()}{' primary' if primary else ''}")
    if draw(st.booleans()):
        lines.append("app:level <- Convert.toInt(user.level)")
    if draw(st.booleans()):
        lines.append("app:flag <- user.isContractor on create")
    lines += ['externalId <- user.getInternalProperty("id")',
              'active <- user.getInternalProperty("status") != "DEPROVISIONED"']  # fmt: skip
    for rule in draw(st.lists(st.sampled_from(_INBOUND), unique_by=lambda r: r.split(" <- ")[0], max_size=3)):
        lines.append(rule + draw(st.sampled_from(["", " on create"])))
    return "\n".join(lines) + "\n"


#: Inbound rules (app to Okta) for the round trip: paths of the template, the enterprise
#: extension and the custom one, read in Okta EL.
_INBOUND = [
    "user.nickName <- appuser.title",
    "user.city <- String.toUpperCase(appuser.enterprise:division)",
    'user.title <- appuser.app:code ?: "none"',
    'user.department <- appuser.name.givenName + " " + appuser.name.familyName',
    'user.email <- appuser.emails[type eq "work"].value',
    'user.locale <- appuser.phoneNumbers[type eq "work"].value == "" ? "en" : "fr"',
]


_profiles = st.fixed_dictionaries(
    {"login": st.just("a@example.com")},
    optional={
        **{s: st.sampled_from(["", "a", "Ada", "b@x.io", "É x"]) for s in _SOURCES},
        "level": st.sampled_from(["1", "2.5", "x", ""]),
        "isContractor": st.booleans(),
    },
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=60)
@given(text=importable_rulesets(), profiles=st.lists(_profiles, min_size=1, max_size=4), data=st.data())
def test_import_of_the_export_renders_as_the_ruleset(
    text: str, profiles: list[dict[str, Any]], data: Any
) -> None:
    original = mapper.loads(text, "r.mapper", cache=False)
    export = exporter.export_okta(original)
    via_terraform = data.draw(st.booleans())
    if via_terraform:
        custom, mappings = _parsed_terraform(terraform.terraform(export))
    else:
        custom, mappings = export.custom_properties, export.mappings
    body = json.loads(json.dumps({"properties": mappings}))
    inbound = json.loads(json.dumps({"properties": export.inbound_mappings}))
    schema = app_user_schema(custom)
    result = import_okta(schema, body, "r", inbound)
    assert [p for p in result.problems if "not imported" in p] == []
    again = mapper.loads(result.text, "r.mapper", cache=False)
    # Exported again (the app now has the custom properties), Okta gets the very same mappings.
    second = exporter.export_okta(again, schema)
    assert second.custom_properties == {}
    assert (second.mappings, second.inbound_mappings) == (export.mappings, export.inbound_mappings)
    for profile in profiles:
        user = {
            "id": "00u1",
            "status": data.draw(st.sampled_from(["ACTIVE", "DEPROVISIONED"])),
            "profile": profile,
        }
        try:
            expected: Any = original.render(user)
        except mapper.ProfileError as exc:
            expected = ("error", exc.attribute)
        try:
            got: Any = again.render(user)
        except mapper.ProfileError as exc:
            got = ("error", exc.attribute)
        assert got == expected
        assert again.patch(user, {**user, "profile": {**profile, "title": "T2"}}) == original.patch(
            user, {**user, "profile": {**profile, "title": "T2"}}
        )
        if not isinstance(expected, tuple):  # and what the app holds maps back to Okta alike
            assert again.inbound(expected) == original.inbound(expected)
            assert again.inbound(expected, update=True) == original.inbound(expected, update=True)


# ---------------------------------------------------------------- against the app's schema


@pytest.fixture(scope="module")
def appspace_server(scim_servers: SharedServers) -> Any:
    """scim2-server with appspace's extension (only its discovery documents are read)."""
    return scim_servers.get([mapper.load("appspace").plan.schemas[APPSPACE]])


def _discovery(server: Any) -> list[object]:
    return [server.request("GET", "/Schemas")[1], server.request("GET", "/ResourceTypes")[1]]


def test_the_shipped_rulesets_fit_scim2_server(appspace_server: Any) -> None:
    app = read_discovery(*_discovery(appspace_server))
    for name in ("okta-default", "appspace", "enterprise"):
        assert [d for d in check_app_schema(mapper.load(name), app) if d.is_error] == [], name


def test_the_case_mangled_appspace_namespace_is_caught(appspace_server: Any, tmp_path: Path) -> None:
    text = (ROOT / "rulesets" / "appspace.mapper").read_text()
    mangled = tmp_path / "mangled.mapper"
    mangled.write_text(text.replace("extension:appspace:2.0:User", "extension:AppSpace:2.0:user"))
    assert _run("check", str(mangled)).returncode == 0  # mapper alone cannot know
    result = _run("check", str(mangled), "--schemas", appspace_server.base_url)
    assert result.returncode == 2
    assert (
        "the app spells this schema 'urn:ietf:params:scim:schemas:extension:appspace:2.0:User'"
        in result.stdout
    )
    assert "must be entered exactly as shown above, including capitalization" in result.stdout


def test_check_with_discovery_files(appspace_server: Any, tmp_path: Path) -> None:
    schemas, resource_types = _discovery(appspace_server)
    (tmp_path / "Schemas.json").write_text(json.dumps(schemas))
    (tmp_path / "ResourceTypes.json").write_text(json.dumps(resource_types))
    ok = _run(
        "check",
        "appspace",
        "--schemas",
        str(tmp_path / "Schemas.json"),
        "--schemas",
        str(tmp_path / "ResourceTypes.json"),
    )
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == "appspace: ok, 13 rules", ok.stdout + ok.stderr
    not_json = tmp_path / "bad.json"
    not_json.write_text('{"schemas": []}')
    bad = _run("check", "appspace", "--schemas", str(not_json))
    assert bad.returncode == 1 and bad.stderr.startswith("mapper: --schemas: ")


def _app_with(changes: dict[str, Any], extensions: dict[str, bool] | None = None) -> Any:
    core = {
        "id": CORE_USER,
        "attributes": [
            {"name": "userName", "type": "string", "required": True},
            {"name": "title", "type": "string", "mutability": changes.get("title", "readWrite")},
            {"name": "displayName", "type": changes.get("displayName", "string")},
            {"name": "nickName", "type": "string", "required": changes.get("nickName_required", False)},
            {"name": "Locale", "type": "string"},
            {"name": "emails", "type": "complex", "multiValued": True, "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "type", "type": "string", "canonicalValues": ["home", "other"]},
            ]},
        ],
    }  # fmt: skip
    enterprise = {
        "id": ENTERPRISE_USER,
        "attributes": [{"name": "department", "type": "string", "mutability": "immutable"}],
    }
    documents: list[object] = [{"Resources": [core, enterprise]}]
    if extensions is not None:
        documents.append({"Resources": [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                                         "name": "User", "endpoint": "/Users", "schema": CORE_USER,
                                         "schemaExtensions": [{"schema": u, "required": r} for u, r in extensions.items()]}]})  # fmt: skip
    return read_discovery(*documents)


_RULES = """ruleset t
userName <- user.login
title <- user.title
displayName <- user.displayName
locale <- user.locale
emails[type eq "work"].value <- user.email primary
enterprise:department <- user.department
"""


@pytest.mark.parametrize(
    ("changes", "extensions", "expected"),
    [
        ({}, None, [
            ("error", "locale", "the app spells this attribute 'Locale', not 'locale'"),
            ("warning", "emails", "emails type 'work' is not one the app lists"),
            ("warning", "emails", "emails entries have no 'primary' in the app"),
            ("warning", "enterprise:department", "is immutable in the app"),
        ]),
        ({"title": "readOnly"}, None, [("error", "title", "title is read-only in the app")]),
        ({"displayName": "integer"}, None, [("error", "displayName", "displayName is integer in the app; the rule writes string")]),
        ({"nickName_required": True}, None, [("warning", None, "the app requires 'nickName'")]),
        ({}, {}, [("error", "enterprise:department", "the app's User resource type does not take the extension")]),
        ({}, {ENTERPRISE_USER: False, "urn:example:badge:2.0:User": True}, [("warning", None, "the app requires the extension 'urn:example:badge:2.0:User'")]),
    ],
)  # fmt: skip
def test_check_app_schema_findings(
    changes: dict[str, Any], extensions: dict[str, bool] | None, expected: list[tuple[str, str | None, str]]
) -> None:
    ruleset = mapper.loads(_RULES, "t.mapper", cache=False)
    found = check_app_schema(ruleset, _app_with(changes, extensions))
    for severity, target, message in expected:
        hits = [
            d for d in found
            if d.severity is Severity(severity) and message in d.message
            and (target is None or (d.span is not None and ruleset.plan.rules[d.span.line - 2].text.startswith(target)))
        ]  # fmt: skip
        assert hits, (severity, target, message, [d.one_line() for d in found])


def test_discovery_over_http_with_a_token_from_the_environment(
    appspace_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_TOKEN", "s3cret")
    result = _run("check", "appspace", "--schemas", appspace_server.base_url, "--token-env", "APP_TOKEN")
    assert result.returncode == 0, result.stdout + result.stderr
    with pytest.raises(DiscoveryError, match="not an http"):
        fetch_discovery("file:///etc/passwd", None)
    with pytest.raises(DiscoveryError, match=re.escape("127.0.0.1:9")):
        fetch_discovery("http://127.0.0.1:9/scim", None, timeout=2)
    unreachable = _run("check", "appspace", "--schemas", "http://127.0.0.1:9/scim", "--timeout", "2")
    assert unreachable.returncode == 1 and len(unreachable.stderr.splitlines()) == 1


def test_the_readme_shows_what_import_writes() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```mapper appspace-okta\.mapper\n(.*?)^```$", readme, re.S | re.M)
    assert shown is not None
    assert shown.group(1) == import_okta(SCHEMA, MAPPING, "appspace-okta").text


@pytest.mark.parametrize(
    ("custom", "mapped", "problem"),
    [
        (
            {
                "x\nuserName <- user.email": {
                    "type": "string",
                    "externalName": "x",
                    "externalNamespace": APPSPACE,
                }
            },
            {"x\nuserName <- user.email": "user.title"},
            None,
        ),
        (
            {"hashed": {"type": "string", "externalName": "hashed", "externalNamespace": APPSPACE}},
            {"hashed": "user.title # + user.secret"},
            "hashed: not imported: not an expression mapper reads: the text holds more than an expression (a comment, or a second statement)",
        ),
        (
            {"t2": {"type": "string", "externalName": "t2", "externalNamespace": APPSPACE}},
            {"t2": "user.title on create"},
            "t2: not imported: not an expression mapper reads: the text holds more than an expression (a rule option: on create, primary or default)",
        ),
        (
            {"t2": {"type": "string", "externalName": "t2", "externalNamespace": APPSPACE}},
            {"t2": 'user.title default "Boss"'},
            "t2: not imported: not an expression mapper reads: the text holds more than an expression (a rule option: on create, primary or default)",
        ),
        (
            {"t2": {"type": "string", "externalName": "t2", "externalNamespace": APPSPACE}},
            {"t2": "user.title primary"},
            "t2: not imported: not an expression mapper reads: the text holds more than an expression (a rule option: on create, primary or default)",
        ),
        (
            {
                "bad": {
                    "type": "string",
                    "externalName": "bad",
                    "externalNamespace": 'urn:x:y" { }\nuserName <- "z',
                }
            },
            {"bad": "user.title"},
            "External Namespace",
        ),
    ],
)
def test_hostile_okta_input_cannot_write_rules(
    custom: dict[str, Any], mapped: dict[str, str], problem: str | None
) -> None:
    """Names, expressions and namespaces from Okta's JSON reach the ruleset only as rules the
    importer meant to write, or as comments: never as statements of their own."""
    mapping = copy.deepcopy(MAPPING)
    mapping["properties"].update({k: {"expression": v, "pushStatus": "PUSH"} for k, v in mapped.items()})
    result = import_okta(_schema_with(custom), mapping, "t")
    ruleset = mapper.loads(result.text, "t.mapper", cache=False)
    assert ruleset.render(TEST_USER)["userName"] == "test.user@okta.local"  # not user.email, not "z"
    assert sum(line.startswith("userName") for line in result.text.splitlines()) == 1
    if problem is not None:
        assert any(problem in p for p in result.problems), result.problems


def test_discovery_sends_the_token_and_refuses_redirects(appspace_server: Any) -> None:
    import http.server
    import threading

    seen: list[str | None] = []
    schemas = appspace_server.request("GET", "/Schemas")[1]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            if self.path.startswith("/moved"):
                self.send_response(302)
                self.send_header("Location", "http://attacker.invalid/Schemas")
                self.end_headers()
                return
            body = json.dumps(schemas).encode() if self.path.endswith("/Schemas") else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/scim+json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()  # shutdown waits a poll
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        documents = fetch_discovery(base + "/scim/v2", "t0ken", timeout=5)
        assert len(documents) == 1  # no /ResourceTypes (404): fine
        assert seen == ["Bearer t0ken", "Bearer t0ken"]
        with pytest.raises(DiscoveryError, match=re.escape("redirected to http://attacker.invalid/Schemas")):
            fetch_discovery(base + "/moved", "t0ken", timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def test_a_misspelled_urn_is_one_error_at_its_declaration(tmp_path: Path) -> None:
    """Checked against the app's schemas, a URN spelled in the wrong case is reported once, where
    the `schema` declaration spells it (and can be fixed), not at every rule that writes it."""
    ruleset = tmp_path / "mangled.mapper"
    ruleset.write_text(
        "ruleset mangled extends okta-default\n\n"
        'schema appspace = "urn:ietf:params:scim:schemas:extension:AppSpace:2.0:user" {\n'
        "  badgeId: string\n  desk: string\n}\n\n"
        "appspace:badgeId <- user.employeeNumber\nappspace:desk <- user.title\n"
    )
    result = _run("check", str(ruleset), "--schemas", str(EXAMPLES / "appspace-scim-schemas.json"))
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{ruleset}:3:19: error: the app spells this schema")
    assert lines[1] == '    schema appspace = "urn:ietf:params:scim:schemas:extension:AppSpace:2.0:user" {'
    assert "(2 rules write it)" in lines[3] and lines[-1] == f"{ruleset}: 1 error"


def test_an_export_of_inbound_rules_alone_never_empties_the_mapping_to_the_app() -> None:
    ruleset = mapper.loads(
        "ruleset io\nuser.nickName <- appuser.id\nuser.title <- appuser.meta.created\n"
        'user.city <- appuser.addresses[type eq "a b"].locality\n',
        "io.mapper",
        cache=False,
    )
    with pytest.raises(exporter.ExportRefused) as refused:
        exporter.export_okta(ruleset)
    (problem,) = refused.value.problems
    assert problem.startswith('user.city: not exported: Okta cannot name addresses[type eq "a b"].locality')
    assert "primary rule" in problem
    ruleset = mapper.loads(
        "ruleset io\nuser.nickName <- appuser.id\nuser.title <- appuser.meta.created\n",
        "io.mapper",
        cache=False,
    )
    export = exporter.export_okta(ruleset)
    assert {v["mutability"] for v in export.custom_properties.values()} == {"READ_ONLY"}  # the app sets them
    _, to_app, from_app = _terraform(terraform.terraform(export))
    assert to_app == {} and set(from_app) == {"nickName", "title"}
    assert terraform.terraform(export).count('resource "okta_profile_mapping"') == 1
