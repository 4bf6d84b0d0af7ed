"""The pre-commit hooks, run by pre-commit itself: `pre-commit try-repo` on this checkout (the
hooks as a team's repository would get them), and the README's .pre-commit-config.yaml pointed
at this repository at the tag it names, which must be the version's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mapper
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
MESSY = "ruleset   team extends okta-default\ntitle<-user.title\n"


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _team_repository(folder: Path) -> Path:
    """A team's repository of rulesets: a ruleset and its examples, committed."""
    folder.mkdir()
    _git("init", "-q", cwd=folder)
    for name in ("okta-default.mapper", "okta-default.examples.json"):
        shutil.copy(ROOT / "rulesets" / name, folder / name)
    _git("add", ".", cwd=folder)
    _git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "rulesets", cwd=folder)
    return folder


def _pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "PATH": f"{PRE_COMMIT.parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(PRE_COMMIT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_the_hooks_run_under_pre_commit(tmp_path: Path) -> None:
    team = _team_repository(tmp_path / "team")
    home = tmp_path / "home"
    passed = _pre_commit("try-repo", str(ROOT), "--all-files", cwd=team, home=home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    for hook in ("mapper fmt", "mapper check", "mapper test"):
        assert re.search(rf"^{hook}\.+Passed$", passed.stdout, re.M), passed.stdout
    # A file out of the canonical layout: the hook fails and formats it, as pre-commit hooks do.
    (team / "team.mapper").write_text(MESSY)
    _git("add", "team.mapper", cwd=team)
    failed = _pre_commit("try-repo", str(ROOT), "mapper-fmt", "--all-files", cwd=team, home=home)
    assert failed.returncode == 1 and re.search(r"^mapper fmt\.+Failed$", failed.stdout, re.M)
    assert (team / "team.mapper").read_text() == "ruleset team extends okta-default\n\ntitle <- user.title\n"


def test_the_readme_configuration_works_at_the_versions_tag(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml \.pre-commit-config\.yaml\n(.*?)```", readme, re.S)
    assert block is not None
    rev = re.search(r"^\s+rev: (\S+)$", block.group(1), re.M)
    assert rev is not None and rev.group(1) == f"v{mapper.__version__}"
    if not _git("tag", "--list", cwd=ROOT).strip():
        pytest.skip("this clone has no tags (a shallow or tagless clone)")
    assert _git("tag", "--list", rev.group(1), cwd=ROOT).strip() == rev.group(1), (
        "tag the version the README names"
    )
    team = _team_repository(tmp_path / "team")
    config = re.sub(r"repo: \S+", f"repo: {ROOT}", block.group(1))
    (team / ".pre-commit-config.yaml").write_text(config)
    ran = _pre_commit("run", "--all-files", cwd=team, home=tmp_path / "home")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert len(re.findall(r"\.+Passed$", ran.stdout, re.M)) == 3
