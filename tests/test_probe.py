"""mapper probe against scim2-server, and against doubles of servers that depart from RFC 7644
(tests/support/deviating_app.py): on each it recommends a style that works, and a sync in that
style then converges; the probe's user is gone at the end; the JSON report keeps its names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mapper
from mapper.runtime.reconcile import reconcile_message
from tests.support.cli import mapper_cli
from tests.support.deviating_app import deviating_app
from tests.support.hostile_app import MODES as HOSTILE_MODES
from tests.support.hostile_app import TOKEN as HOSTILE_TOKEN
from tests.support.hostile_app import hostile_app
from tests.support.scim_server import TOKEN, ScimServer, server_fixtures

pytestmark = pytest.mark.slow

RULESET = mapper.load("okta-default")


_server_process, server = server_fixtures([], token=TOKEN)


def _probe(url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    ran = mapper_cli("probe", "--to", url, "--format", "json", "--yes", *args, env={"SCIM_TOKEN": TOKEN})
    return ran.returncode, json.loads(ran.stdout), ran.stderr


def _users(server: ScimServer) -> list[dict[str, Any]]:
    status, page = server.request("GET", "/Users?count=1000")
    assert status == 200
    return list(page.get("Resources", []))


def test_a_conforming_app_passes_and_is_left_as_it_was(server: ScimServer) -> None:
    code, report, said = _probe(server.base_url)
    assert code == 0, said
    assert report["style"] == "rfc" and report["connected"] is True
    checks = {c["name"]: c for c in report["checks"]}
    for name in ("connection", "discovery.schemas", "discovery.bulk", "spec.list", "spec.filter-unknown", "spec.unknown-id",
                 "spec.create", "spec.get", "spec.duplicate", "spec.filter-case-insensitive", "spec.match",
                 "spec.bad-token", "crud.rfc.update", "crud.rfc.deactivate", "crud.rfc.reactivate",
                 "crud.rfc.revert", "cleanup"):  # fmt: skip
        assert checks[name]["ok"] is True, checks[name]
    # whole-multivalued replaces the emails list: the home email the app held is lost, and said so
    assert checks["crud.whole-multivalued.update"]["ok"] is False
    assert "home email" in checks["crud.whole-multivalued.update"]["detail"]
    assert report["user"]["left_in_app"] is False and _users(server) == []
    assert (
        f"created the user {report['user']['id']}" in said
        and "@example.invalid" in report["user"]["userName"]
    )


@pytest.mark.parametrize(
    ("deviation", "style", "failing"),
    [
        ("filtered-remove-ignored", "put", "crud.rfc.update"),
        ("no-path-refused", "rfc", "crud.no-path.update"),
        # okta-default never removes an email (Okta's email is required): rfc works, and is said to
        ("emails-not-removable", "rfc", "crud.whole-multivalued.update"),
        ("patch-501", "put", "crud.rfc.update"),
    ],
)
def test_the_probe_finds_the_style_a_deviating_app_applies_and_sync_converges_in_it(
    server: ScimServer, tmp_path: Path, deviation: str, style: str, failing: str
) -> None:
    with deviating_app(server.base_url, deviation) as url:
        code, report, said = _probe(url)
        assert code == 0, said
        assert report["style"] == style
        checks = {c["name"]: c for c in report["checks"]}
        assert checks[failing]["ok"] is False
        assert _users(server) == []
        # A sync in the recommended style converges on this app: create, change, deactivate.
        users = [{"id": f"00u{i}", "status": "ACTIVE",
                  "profile": {"login": f"u{i}@example.com", "email": f"u{i}@example.com", "firstName": "A",
                              "lastName": f"L{i}", "title": "T", "primaryPhone": "+1 555 0100"}}
                 for i in range(3)]  # fmt: skip
        changed = [{**u, "profile": {**u["profile"], "title": "Boss", "primaryPhone": None}} for u in users]
        changed[2] = {**changed[2], "status": "DEPROVISIONED"}
        state = tmp_path / "state.sqlite"
        for export in (users, changed):
            (tmp_path / "users.jsonl").write_text("".join(json.dumps(u) + "\n" for u in export))
            ran = mapper_cli("sync", tmp_path / "users.jsonl", "--to", url, "--state", state, "--style", style,
                             "-q", env={"SCIM_TOKEN": TOKEN})  # fmt: skip
            assert ran.returncode == 0, ran.stderr
        held = {u["userName"]: u for u in _users(server)}
        for user in changed:
            current = held[user["profile"]["login"]]
            if user["status"] == "DEPROVISIONED":  # deactivated, its profile as it was (as Okta does)
                assert current["active"] is False
            else:
                assert reconcile_message(RULESET.plan, current, RULESET.render(user)) is None, current


def test_no_connection_is_exit_5_and_nothing_else_is_tried(server: ScimServer) -> None:
    ran = mapper_cli("probe", "--to", server.base_url, "--yes", env={"SCIM_TOKEN": "a-wrong-token-for-sure"})
    assert ran.returncode == 5
    assert ran.stdout.splitlines()[0].startswith("FAIL  connection")
    assert "verdict: no connection" in ran.stdout and _users(server) == []


def test_keep_leaves_the_user_and_says_so(server: ScimServer) -> None:
    code, report, _ = _probe(server.base_url, "--keep", "--skip-auth-check")
    assert code == 0
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["spec.bad-token"]["ok"] is None and checks["cleanup"]["ok"] is None
    assert [u["id"] for u in _users(server)] == [report["user"]["id"]] and report["user"]["left_in_app"]


def test_an_interrupted_probe_still_removes_its_user(server: ScimServer) -> None:
    """Ctrl-C after the user exists: the probe's cleanup runs on the way out."""
    from mapper.probe.checks import Probe
    from mapper.sync.app import Connection

    def interrupt(check: Any) -> None:
        if check.name == "spec.get":
            raise KeyboardInterrupt

    probe = Probe(RULESET, Connection(server.base_url, TOKEN, timeout=10), on_check=interrupt)
    with pytest.raises(KeyboardInterrupt):
        probe.run()
    assert probe.report.user_id is not None and _users(server) == []
    assert probe.report.checks[-1].name == "cleanup" and probe.report.checks[-1].ok is True


@pytest.mark.parametrize("mode", HOSTILE_MODES)
def test_a_hostile_app_never_loses_a_real_user_or_crashes_the_probe(mode: str) -> None:
    """Whatever the app answers (no id, an id that is no path segment, garbage, ignored filters,
    a dropped connection...), the probe ends with a report and a documented exit code, never
    touches a user it did not make, and says when its own user may still be in the app."""
    with hostile_app(mode) as (url, users, _):
        real = {u["id"] for u in users.values()}
        ran = mapper_cli("probe", "--to", url, "--format", "json", "--yes", "--timeout", "2",
                         env={"SCIM_TOKEN": HOSTILE_TOKEN})  # fmt: skip
        assert ran.returncode in (0, 1, 5), (mode, ran.returncode, ran.stderr)
        report = json.loads(ran.stdout)
        assert real <= set(users), f"{mode}: the probe deleted a real user"
        left = [u for i, u in users.items() if i not in real]
        if left:  # a user of its own still there: the report must say so
            assert report["user"]["left_in_app"] or any(
                c["name"] == "cleanup" and c["ok"] is False for c in report["checks"]
            ), (mode, report)
        assert "\x1b" not in ran.stderr and "\x1b" not in ran.stdout


def test_a_terminated_probe_still_removes_its_user(server: ScimServer) -> None:
    """SIGTERM (a CI job cancelled, a container stopped) cleans up as Ctrl-C does: exit 130."""
    import os
    import signal
    import subprocess

    from tests.support.cli import COMMAND

    with subprocess.Popen(
        [*COMMAND, "probe", "--to", server.base_url, "--yes"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "SCIM_TOKEN": TOKEN}, text=True,
    ) as process:  # fmt: skip
        assert process.stderr is not None
        for line in process.stderr:
            if "created the user" in line:
                break
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 130, rest
    assert "mapper: interrupted" in rest and _users(server) == []
