"""Dependencies by use: the base install does everything but talk to an app and --validate;
a command whose extra is missing says, in one line, what to install.

The base install is simulated by making the extras' modules unimportable in a fresh
interpreter (sys.modules[name] = None), so any import of them, hidden or lazy, fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_EXTRAS_ONLY = ("httpx2", "httpcore", "scim2_client", "scim2_models", "pydantic", "pydantic_core")
_BASE = (
    f"import sys; sys.modules.update(dict.fromkeys({_EXTRAS_ONLY!r})); "
    "from mapper.cli.main import main; main()"
)


def _base_mapper(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BASE, *map(str, args)],
        capture_output=True, text=True, timeout=120, check=False, cwd=cwd,
    )  # fmt: skip


def _inputs(tmp: Path) -> dict[str, Path]:
    new_ruleset = tmp / "new.mapper"
    new_ruleset.write_text("ruleset new extends okta-default\ntitle <- user.department\n")
    old_export, new_export = tmp / "old.jsonl", tmp / "new.jsonl"
    old_export.write_text('{"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@example.com"}}\n')
    new_export.write_text(
        '{"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@example.com", "title": "T"}}\n'
    )
    return {"ruleset": new_ruleset, "old": old_export, "new": new_export}


def test_the_base_install_does_all_but_talk_to_an_app(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    commands: list[list[str | Path]] = [
        ["render", EXAMPLES / "ada.json"],
        ["render", files["new"], "-o", tmp_path / "out.jsonl"],
        ["check", files["ruleset"]],
        ["fmt", "--check", ROOT / "rulesets" / "okta-default.mapper"],
        ["explain", "appspace"],
        ["test", ROOT / "rulesets" / "okta-default.mapper"],
        ["review", "okta-default", files["ruleset"], "--profiles", files["new"]],
        ["diff", EXAMPLES / "ada.json", EXAMPLES / "ada.json"],
        ["plan", files["old"], files["new"]],
        ["compile", "okta-default"],
        ["export", "okta", "appspace"],
        ["check", "okta-default", "--schemas", EXAMPLES / "okta" / "appspace-scim-schemas.json"],
    ]
    for args in commands:
        ran = _base_mapper(*args)
        assert ran.returncode == 0, (args, ran.stderr)
    # The example mapping holds what Okta would drop: reported (exit 1), the ruleset written.
    imported = _base_mapper("import", "okta", "--schema", EXAMPLES / "okta" / "appspace-app-user-schema.json",
                            "--mapping", EXAMPLES / "okta" / "appspace-profile-mapping.json")  # fmt: skip
    assert imported.returncode == 1 and "\nruleset " in imported.stdout, imported.stderr


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["sync", "{new}", "--to", "http://127.0.0.1:9/scim/v2"], "sync"),
        (["probe", "--to", "http://127.0.0.1:9/scim/v2", "--yes"], "sync"),
        (["check", "okta-default", "--schemas", "http://127.0.0.1:9/scim/v2"], "sync"),
        (["render", str(EXAMPLES / "ada.json"), "--validate"], "validate"),
        (["render", "{new}", "--validate"], "validate"),
    ],
)
def test_a_missing_extra_is_one_line_that_says_what_to_install(
    tmp_path: Path, args: list[str], extra: str
) -> None:
    files = _inputs(tmp_path)
    ran = _base_mapper(*(a.format(new=files["new"]) for a in args))
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.count("\n") == 1 and "Traceback" not in ran.stderr
    assert f"pip install 'okta-scim-mapper[{extra}]' (from a clone: pip install '.[{extra}]')" in ran.stderr
    assert ran.stdout == ""
