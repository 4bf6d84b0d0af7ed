"""``mapper import users``: Okta's import of the app's users worked out, from files and from a
real SCIM server (scim2-server), with Okta's matching rules, conflicts, skipped users and the
import safeguard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mapper
from mapper.errors import UsageError
from mapper.sync.app import AppError, Connection, ScimApp
from mapper.tools import app_import
from mapper.tools.app_import import AppUser, Outcome
from tests.support.cli import Ran, mapper_cli
from tests.support.scim_server import TOKEN, ScimServer, server_fixtures

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "okta"

BOTH_WAYS = """ruleset appspace-both-ways extends appspace

profile {
  badgeId: string
}

user.badgeId <- String.toUpperCase(appuser.appspace:employeeNumber) on create
user.displayName <- appuser.displayName ?: appuser.name.givenName + " " + appuser.name.familyName
"""

_server_process, server = server_fixtures([], token=TOKEN)


def run(*args: str) -> Ran:
    return mapper_cli(*args)


@pytest.fixture
def both_ways(tmp_path: Path) -> Path:
    path = tmp_path / "appspace-both-ways.mapper"
    path.write_text(BOTH_WAYS)
    return path


def _example(both_ways: Path, *extra: str) -> Any:
    return run(
        "import", "users", "-r", str(both_ways), str(EXAMPLES / "appspace-users.jsonl"),
        "--okta", str(EXAMPLES / "okta-users.jsonl"), *extra,
    )  # fmt: skip


def test_the_seed_case_every_outcome(both_ways: Path) -> None:
    result = _example(
        both_ways,
        "--match",
        "username-or-email",
        "--assignments",
        str(EXAMPLES / "appspace-assignments.json"),
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "mapper import users: 6 app users: 1 new, 1 cannot-create, 1 update, 0 cannot-update, 1 unchanged, "
        "1 conflict, 1 skipped, 0 failed"
    )
    rows = {line.split()[1]: line.split()[0] for line in lines[4:10]}
    assert rows == {
        "as-1001": "update",
        "as-1002": "unchanged",
        "as-1003": "new",
        "as-1004": "cannot-create",
        "as-1005": "skipped",
        "as-1006": "conflict",
    }
    assert "00u3barbara, 00u4ken  2 Okta users match it" in result.stdout
    assert "no value for user.lastName, which Okta requires" in result.stdout
    assert lines[-1] == (
        "import safeguard: 2 of 4 assignments would go (50.0%; Okta stops past 20% from 100 assignments): "
        "the import goes on"
    )


def test_values_are_shown_only_when_asked(both_ways: Path) -> None:
    hidden = _example(both_ways, "--format", "json")
    report = json.loads(hidden.stdout)
    ada = next(u for u in report["users"] if u["app_id"] == "as-1001")
    assert ada["changes"] == ["title"] and "Analyst" not in hidden.stdout and "profile" not in ada
    shown = json.loads(_example(both_ways, "--format", "json", "--show-values").stdout)
    ada = next(u for u in shown["users"] if u["app_id"] == "as-1001")
    assert ada["changes"] == [{"attribute": "title", "old": "Engineer", "new": "Analyst"}]
    assert 'title: "Engineer" -> "Analyst"' in _example(both_ways, "--show-values").stdout
    assert report["counts"]["update"] == 2 and report["match"] == ["username"]


def test_bodies_and_csv_hold_only_the_users_okta_would_create(both_ways: Path, tmp_path: Path) -> None:
    bodies = _example(both_ways, "--format", "jsonl")
    assert bodies.exit_code == 0
    (body,) = [json.loads(line) for line in bodies.stdout.splitlines()]
    assert body == {
        "profile": {
            "login": "linus@example.com", "firstName": "Linus", "lastName": "Torvalds",
            "email": "linus@example.com", "employeeNumber": "1969", "badgeId": "1969",
            "displayName": "Linus Torvalds",
        }
    }  # fmt: skip
    out = tmp_path / "import.csv"
    written = _example(both_ways, "--format", "csv", "-o", str(out))
    assert written.exit_code == 0 and written.stdout == ""
    header, row = out.read_text().splitlines()
    assert header.startswith("login,firstName,lastName,email,")
    assert row.startswith("linus@example.com,Linus,Torvalds,linus@example.com,")
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # personal data


def _decide(profiles: list[dict[str, Any]], okta: list[dict[str, Any]], *match: str) -> app_import.Report:
    ruleset = mapper.load("okta-default")
    users = [AppUser(f"test:{i}", f"a{i}", ruleset.render(p)) for i, p in enumerate(profiles)]
    conditions = app_import.match_conditions(match, ruleset)
    return app_import.decide(ruleset, users, okta, conditions)


def _okta(okta_id: str, **profile: Any) -> dict[str, Any]:
    return {"id": okta_id, "profile": profile}


def test_every_condition_must_hold_and_matching_is_case_sensitive() -> None:
    okta = [_okta("00u1", login="ada@example.com", email="ada@work.example", department="R&D")]
    ada = {"login": "ada@example.com", "email": "ada@work.example", "department": "R&D"}
    okta[0]["profile"] |= {"firstName": "Ada", "lastName": "Lovelace"}
    ada |= {"firstName": "Ada", "lastName": "Lovelace"}
    assert _decide([ada], okta).decisions[0].outcome is Outcome.UNCHANGED
    assert _decide([{**ada, "login": "Ada@example.com"}], okta).decisions[0].outcome is Outcome.NEW
    both = _decide([{**ada, "department": "Ops"}], okta, "username", "department")
    (decision,) = both.decisions  # the username holds, the department does not: no match, but
    assert decision.outcome is Outcome.CONFLICT  # Okta cannot create a second user with that login
    assert decision.reason == "its username is Okta user 00u1's (conflicts: login)"
    either = _decide([{**ada, "login": "other@example.com"}], okta, "username-or-email")
    assert either.decisions[0].outcome is Outcome.UPDATE
    assert [c.attribute for c in either.decisions[0].changes] == ["login"]


def test_two_app_users_for_one_okta_user_are_both_conflicts() -> None:
    okta = [_okta("00u1", login="ada@example.com", email="ada@example.com")]
    report = _decide(
        [
            {"login": "ada@example.com", "email": "ada@example.com"},
            {"login": "ada2", "email": "ada@example.com"},
        ],
        okta,
        "email",
    )
    assert [d.outcome for d in report.decisions] == [Outcome.CONFLICT, Outcome.CONFLICT]
    assert report.decisions[0].reason == "2 app users match Okta user 00u1"


def test_only_push_rules_update_and_a_value_the_app_lost_is_a_change() -> None:
    ruleset = mapper.loads(
        "ruleset t\nuserName <- user.login\nuser.title <- appuser.title on create\nuser.nickName <- appuser.nickName\n",
        "t.mapper",
        cache=False,
    )
    okta = [_okta("00u1", login="a", title="Old", nickName="Nick")]
    users = [AppUser("t:1", "a1", {"userName": "a", "title": "New"})]
    (decision,) = app_import.decide(ruleset, users, okta, ("username",)).decisions
    assert decision.outcome is Outcome.UPDATE
    assert decision.changes == [app_import.Change("nickName", "Nick", None)]  # title is DONT_PUSH


def test_a_match_on_what_the_ruleset_never_sets_is_a_usage_error() -> None:
    ruleset = mapper.loads("ruleset t\nuserName <- user.login\n", "t.mapper", cache=False)
    with pytest.raises(UsageError, match=r"--match email: the ruleset has no inbound rule for user\.email"):
        app_import.match_conditions(["email"], ruleset)
    result = run("import", "users", "--match", "costCenter", str(EXAMPLES / "appspace-users.jsonl"))
    assert result.exit_code == 2
    assert "--match costCenter: the ruleset has no inbound rule for user.costCenter" in result.stderr


@pytest.mark.parametrize(("missing", "stops"), [(20, False), (21, True)])
def test_the_import_safeguard(tmp_path: Path, missing: int, stops: bool) -> None:
    users = tmp_path / "app.jsonl"
    users.write_text(
        "".join(
            json.dumps({"id": f"a{i}", "userName": f"u{i}@example.com"}) + "\n" for i in range(100 - missing)
        )
    )
    assignments = tmp_path / "assignments.json"
    assignments.write_text(json.dumps([{"id": f"00u{i}", "externalId": f"a{i}"} for i in range(100)]))
    result = run("import", "users", str(users), "--assignments", str(assignments), "--format", "json")
    guard = json.loads(result.stdout)["safeguard"]
    assert guard == {
        "assignments": 100,
        "unassignments": missing,
        "percent": 20.0,
        "minimum": 100,
        "stops": stops,
    }
    assert result.exit_code == (4 if stops else 0)


def test_bad_records_are_reported_not_dropped(tmp_path: Path) -> None:
    users = tmp_path / "app.jsonl"
    users.write_text(
        '{"id": "a1", "userName": "ok@example.com"}\n{"id": \n[1]\n{"id": "a4", "userName": 7}\n'
    )
    result = run("import", "users", str(users), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [u["outcome"] for u in report["users"]] == ["cannot-create", "failed", "failed", "failed"]
    assert report["users"][3]["reason"] == "SCIM attribute 'userName': expected a string, got a number"
    okta = tmp_path / "okta.jsonl"
    okta.write_text('{"id": "00u1", "profile": {}}\n{"profile": {}}\n')
    result = run("import", "users", str(EXAMPLES / "appspace-users.jsonl"), "--okta", str(okta))
    assert result.exit_code == 1
    assert f"--okta {okta}:2: not an Okta Users API user (with its id and profile)" in result.stderr


def test_usage_errors_send_nothing(tmp_path: Path) -> None:
    assert run("import", "users").exit_code == 2
    both = run("import", "users", "x.jsonl", "--from", "https://app.example/scim/v2")
    assert both.exit_code == 2 and "one of them" in both.stderr
    none = run("import", "users", "-r", str(_outbound_only(tmp_path)), str(EXAMPLES / "appspace-users.jsonl"))
    assert none.exit_code == 2 and "has no inbound rules" in none.stderr


def _outbound_only(tmp_path: Path) -> Path:
    path = tmp_path / "out.mapper"
    path.write_text('ruleset out\nuserName <- "x"\n')
    return path


# -- from the app -----------------------------------------------------------------------------------


def _create(server: ScimServer, count: int) -> list[str]:
    ids = []
    ruleset = mapper.load("okta-default")
    for i in range(count):
        status, created = server.request(
            "POST", "/Users", ruleset.create({"login": f"user{i}@example.com", "firstName": "U", "lastName": f"{i}",
                                             "email": f"user{i}@example.com"})
        )  # fmt: skip
        assert status == 201, created
        ids.append(created["id"])
    return ids


def test_from_the_app_page_by_page(server: ScimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _create(server, 5)
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    result = run("import", "users", "--from", server.base_url, "--page-size", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(u["app_id"] for u in report["users"]) == sorted(ids)
    assert report["counts"]["new"] == 5
    assert report["users"][0]["source"] == f"{server.base_url.rstrip('/')}/Users"  # no credentials in it


def test_from_the_app_a_refused_token_stops_before_any_listing(
    server: ScimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIM_TOKEN", "wrong")
    result = run("import", "users", "--from", server.base_url)
    assert result.exit_code == 5
    assert "the app refused the token in $SCIM_TOKEN" in result.stderr
    monkeypatch.delenv("SCIM_TOKEN")
    assert run("import", "users", "--from", server.base_url).exit_code == 2


def _pages(pages: list[Any]) -> ScimApp:
    app = ScimApp(Connection("https://app.example/scim/v2", "t"))
    answers = iter(pages)
    app._request = lambda *args, **kwargs: next(answers)  # type: ignore[method-assign]
    return app


def _users(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "userName": f"{i}@example.com"} for i in ids]


def test_a_listing_that_shifts_is_kept_once_per_user_and_says_so() -> None:
    listing = _pages([
        {"totalResults": 4, "Resources": _users("a", "b")},
        {"totalResults": 3, "Resources": _users("b", "c")},  # "a" went: the page shifted
    ]).list_users(2)  # fmt: skip
    assert [u["id"] for u in listing.users] == ["a", "b", "c"] and listing.changed
    steady = _pages(
        [{"totalResults": 3, "Resources": _users("a", "b")}, {"totalResults": 3, "Resources": _users("c")}]
    )
    assert not steady.list_users(2).changed


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ([{"totalResults": 3, "Resources": _users("a")}, {"totalResults": 3, "Resources": []}],
         "the app's listing ended at 1 of the 3 users it counts"),
        ([{"Resources": _users("a")}], "is not a SCIM ListResponse"),
        ([{"totalResults": True, "Resources": []}], "is not a SCIM ListResponse"),
        ([{"totalResults": 1, "Resources": [{"id": ".."}]}], "gives a user id mapper cannot use"),
    ],
)  # fmt: skip
def test_a_listing_that_cannot_be_trusted_is_an_app_error(pages: list[Any], message: str) -> None:
    with pytest.raises(AppError, match=message):
        _pages(pages).list_users(1)


# -- from a trial: what Okta's import flags across users, and links it keeps ----------------------


def _named(login: str, **extra: Any) -> dict[str, Any]:
    return {"login": login, "email": login, "firstName": "F", "lastName": "L", **extra}


def test_a_new_user_cannot_take_a_username_okta_or_another_new_user_has() -> None:
    okta = [_okta("00u1", login="taken@example.com", email="taken@example.com", employeeNumber="1")]
    ruleset = mapper.load("okta-default")
    users = [
        AppUser("t:1", "a1", ruleset.render(_named("taken@example.com"))),
        AppUser("t:2", "a2", ruleset.render(_named("twice@example.com"))),
        AppUser("t:3", "a3", ruleset.render(_named("twice@example.com"))),
    ]
    report = app_import.decide(ruleset, users, okta, ("username",))
    assert [d.outcome for d in report.decisions] == [Outcome.UPDATE, Outcome.CONFLICT, Outcome.CONFLICT]
    by_email = app_import.decide(
        ruleset, [AppUser("t:1", "a1", ruleset.render(_named("taken@example.com", email="x@example.com")))], okta,
        ("email",),
    )  # fmt: skip
    (decision,) = by_email.decisions
    assert decision.outcome is Outcome.CONFLICT
    assert decision.reason == "its username is Okta user 00u1's (conflicts: login)"
    assert report.decisions[1].reason == "2 app users would have one username (conflicts: login)"


def test_an_assignment_links_an_app_user_whatever_its_name_now() -> None:
    ruleset = mapper.load("okta-default")
    okta = [_okta("00u1", **_named("ada@example.com"))]
    renamed = AppUser("t:1", "as-1", ruleset.render(_named("ada.l@example.com")))
    linked = app_import.decide(
        ruleset, [renamed], okta, ("username",), [{"id": "00u1", "externalId": "as-1"}]
    )
    (decision,) = linked.decisions
    assert decision.outcome is Outcome.UPDATE and decision.okta_ids == ["00u1"]
    assert [c.attribute for c in decision.changes] == ["login", "email"]
    elsewhere = app_import.decide(
        ruleset, [renamed], okta, ("username",), [{"id": "00u9", "externalId": "as-1"}]
    )
    assert elsewhere.decisions[0].outcome is Outcome.CONFLICT
    assert elsewhere.decisions[0].reason == (
        "linked to Okta user 00u9 by its assignment, which the Okta export does not hold"
    )


def test_an_update_that_clears_what_okta_requires_cannot_be_made() -> None:
    okta = [_okta("00u1", **_named("ada@example.com"))]
    report = _decide([{"login": "ada@example.com", "email": "ada@example.com", "firstName": "F"}], okta)
    (decision,) = report.decisions
    assert decision.outcome is Outcome.CANNOT_UPDATE
    assert decision.reason == "would clear user.lastName, which Okta requires"


def test_an_app_id_read_twice_and_a_mistyped_active_fail(tmp_path: Path) -> None:
    users = tmp_path / "app.jsonl"
    users.write_text(
        '{"id": "d1", "userName": "a@example.com"}\n{"id": "d1", "userName": "b@example.com"}\n'
        '{"id": "d2", "userName": "c@example.com", "active": "false"}\n'
    )
    report = json.loads(run("import", "users", str(users), "--format", "json").stdout)
    assert [u["outcome"] for u in report["users"]] == ["cannot-create", "failed", "failed"]
    assert report["users"][1]["reason"] == f"the app id d1 is read twice (first at {users}:1)"
    assert report["users"][2]["reason"] == "SCIM attribute 'active': expected a boolean, got a string"


def test_inputs_that_say_nothing_are_said_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    report = json.loads(run("import", "users", str(empty), "--okta", str(empty), "--format", "json").stdout)
    assert report["notes"] == [
        "the Okta export holds no users: every app user is taken as new",
        "no app users were read",
    ]
    twice = run("import", "users", "-", "--okta", "-")
    assert twice.exit_code == 2 and "standard input (-) can be read once" in twice.stderr
    bad = tmp_path / "assignments.json"
    bad.write_text('[{"id": "00u1"}, 1]')
    refused = run("import", "users", str(EXAMPLES / "appspace-users.jsonl"), "--assignments", str(bad))
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"mapper: import users: --assignments {bad}:1: not an Okta app user (with the Okta user's id)\n"
    )


def test_a_listing_in_pages_smaller_than_asked_is_read_whole_and_reported() -> None:
    app = _pages(
        [{"totalResults": 3, "Resources": _users("a")}, {"totalResults": 3, "Resources": _users("b", "c")}]
    )
    listing = app.list_users(2)
    assert [u["id"] for u in listing.users] == ["a", "b", "c"] and listing.short_pages == 1
