"""The compile cache: a ruleset that has not changed loads without the parser, and the cache
never runs, trusts or fails on anything it did not write itself."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import mapper
from mapper.compiler import compile_cache, plan_codec
from tests.test_fuzz import check_cache_round_trip

# Every kind of expression the plan has, a custom schema, an inherited rule, a default,
# create-only and primary rules, regular expressions and a warning (a deprecated function).
EVERY_KIND = """\
ruleset every extends okta-default

schema x = "urn:example:every:2.0:User" {
  s: string
  n: integer
  d: decimal
  b: boolean
  tags: string[]
}

profile {
  level: integer
  ratio: number
  ok: boolean
  groups: string[]
}

title                          <- String.replace(user.title, "\\s+", " ") default "none"
nickName                       <- toUpperCase(user.nickName)
x:s                            <- user.login matches "[a-z]+@.*" ? "local" : user.department ?: "x"
x:n                            <- user.level + 1
x:d                            <- user.ratio
x:b                            <- !user.ok AND user.level > 2 OR user.level == null
x:tags                         <- Arrays.add(user.groups, "all")
profileUrl                     <- user.groups[0] on create
emails[type eq "home"].value   <- user.secondEmail
externalId                     <- user.getInternalProperty("id") + "-" + 2.5
"""

PROFILE: dict[str, Any] = {
    "login": "ada@example.com",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "secondEmail": "ada@home.example",
    "title": "Chief   Analyst",
    "nickName": "countess",
    "department": "R&D",
    "level": 3,
    "ratio": 0.5,
    "ok": False,
    "groups": ["engines", "poetry"],
}
USER = {"id": "00u1", "status": "ACTIVE", "profile": PROFILE}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(folder))
    monkeypatch.setenv("MAPPER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MAPPER_NO_CACHE", raising=False)
    return folder


def _signed(body: bytes) -> bytes:
    """BODY as an entry signed with this machine's key (what only mapper here can write)."""
    secret = compile_cache._secret(compile_cache.folder_path(), create=True)
    assert secret is not None
    return compile_cache._header(body, secret) + body


def _write_ruleset(folder: Path, text: str = EVERY_KIND, name: str = "every") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.mapper"
    path.write_text(text)
    return path


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.json")) if cache_dir.is_dir() else []


def _same(a: mapper.Ruleset, b: mapper.Ruleset) -> None:
    assert a.source == b.source
    assert a.rules == b.rules and a.warnings == b.warnings and a.name == b.name
    assert a.render(USER) == b.render(USER)
    changed = {**USER, "profile": {**PROFILE, "title": "Engineer", "level": 1}}
    assert a.patch(USER, changed) == b.patch(USER, changed)


def test_a_second_load_reads_the_cache_and_gives_the_same_ruleset(tmp_path: Path, cache_dir: Path) -> None:
    path = _write_ruleset(tmp_path / "rules")
    fresh = mapper.load(path, cache=False)
    assert _entries(cache_dir) == []  # cache=False neither reads nor writes
    first = mapper.load(path)
    (entry,) = _entries(cache_dir)
    assert entry.read_bytes().startswith(compile_cache.MAGIC)
    second = mapper.load(path)
    assert all(r.node is None for r in second.plan.rules)  # it came from the cache
    assert fresh.warnings and "deprecated" in fresh.warnings[0].message
    for ruleset in (first, second):
        _same(fresh, ruleset)
    check_cache_round_trip(fresh)


def test_a_cached_load_needs_no_parser(tmp_path: Path, cache_dir: Path) -> None:
    path = _write_ruleset(tmp_path / "rules")
    mapper.load(path)
    script = (
        "import json, sys, mapper\n"
        f"r = mapper.load({str(path)!r})\n"
        f"print(json.dumps([r.render({json.dumps(USER)!r} and json.loads({json.dumps(USER)!r})),"
        " sorted(m for m in sys.modules if m in ('lark', 'mapper.language.syntax', 'mapper.language.check', 'mapper.language.loader'))]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=os.environ
    )
    rendered, parser_modules = json.loads(result.stdout)
    assert parser_modules == []
    assert rendered == mapper.load(path, cache=False).render(USER)


def test_the_embedding_api_and_builtins_use_it(cache_dir: Path) -> None:
    mapper.load("okta-default")
    mapper.loads("ruleset s\nuserName <- user.login\n", "s.mapper")
    assert len(_entries(cache_dir)) == 2
    assert all(r.node is None for r in mapper.load("okta-default").plan.rules)
    assert mapper.loads("ruleset s\nuserName <- user.login\n", "s.mapper").plan.rules[0].node is None
    # The same text under another name is another entry: diagnostics and locations name the file.
    assert mapper.loads("ruleset s\nuserName <- user.login\n", "t.mapper").rules[0].location == "t.mapper:2"


def test_a_changed_parent_is_seen(tmp_path: Path, cache_dir: Path) -> None:
    folder = tmp_path / "rules"
    _write_ruleset(folder, "ruleset base\nuserName <- user.login\ntitle <- user.title\n", "base")
    child = _write_ruleset(folder, "ruleset child extends base\nnickName <- user.nickName\n", "child")
    assert mapper.load(child).render(USER)["title"] == "Chief   Analyst"
    _write_ruleset(folder, "ruleset base\nuserName <- user.login\ntitle <- user.department\n", "base")
    assert mapper.load(child).render(USER)["title"] == "R&D"


def test_a_new_file_that_shadows_a_builtin_parent_is_seen(tmp_path: Path, cache_dir: Path) -> None:
    folder = tmp_path / "rules"
    child = _write_ruleset(folder, "ruleset child extends okta-default\nnickName <- user.nickName\n", "child")
    assert mapper.load(child).render(USER)["name"]["givenName"] == "Ada"
    _write_ruleset(folder, "ruleset okta-default\nuserName <- user.email\n", "okta-default")
    assert "name" not in mapper.load(child).render(USER)


def test_mapper_no_cache_turns_it_off(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAPPER_NO_CACHE", "1")
    mapper.load(_write_ruleset(tmp_path / "rules"))
    assert not cache_dir.exists()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_folder_others_can_write_is_refused(tmp_path: Path, cache_dir: Path) -> None:
    path = _write_ruleset(tmp_path / "rules")
    mapper.load(path)
    (entry,) = _entries(cache_dir)
    _plant_other_plan(entry)
    cache_dir.chmod(0o777)
    # Neither the planted entry is read nor anything written.
    assert mapper.load(path).render(USER)["title"] == "Chief Analyst"
    assert _entries(cache_dir) == [entry] and b"Planted" in entry.read_bytes()
    cache_dir.chmod(0o700)
    assert mapper.load(path).render(USER)["title"] == "Planted"  # the check, not the plant, was at work


def test_a_new_folder_is_private(cache_dir: Path) -> None:
    mapper.load("okta-default")
    if hasattr(os, "getuid"):
        assert cache_dir.stat().st_mode & 0o777 == 0o700
        assert all(e.stat().st_mode & 0o777 == 0o600 for e in _entries(cache_dir))


def _plant_other_plan(entry: Path) -> None:
    """Rewrite ENTRY as a valid entry (checksum and key right) whose plan sets another title."""
    body = entry.read_bytes().partition(b"\n")[2]
    data = json.loads(body)
    for rule in data["plan"]["rules"]:
        if rule["target"][1] == "title":
            rule["expr"] = ["literal", ["string", False], False, "Planted"]
    body = json.dumps(data).encode()
    entry.write_bytes(_signed(body))


@pytest.mark.parametrize(
    "damage",
    [
        "flip-a-byte",
        "truncate",
        "empty",
        "not-json",
        "old-format",
        "foreign-key",
        "symlink",
        "mode-666",
        "other-owner",
        "plain-sha256",
        "fifo",
    ],
)
def test_a_damaged_or_foreign_entry_is_ignored_and_rebuilt(
    tmp_path: Path, cache_dir: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_ruleset(tmp_path / "rules")
    expected = mapper.load(path, cache=False)
    mapper.load(path)
    (entry,) = _entries(cache_dir)
    good = entry.read_bytes()
    if damage == "flip-a-byte":
        middle = len(good) // 2
        entry.write_bytes(good[:middle] + bytes([good[middle] ^ 0x20]) + good[middle + 1 :])
    elif damage == "truncate":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "not-json":
        body = b"\x00\xff not json"
        entry.write_bytes(_signed(body))
    elif damage == "old-format":
        from mapper.compiler.plan_codec import FORMAT

        now, before = b"mapper-plan-cache %d " % FORMAT, b"mapper-plan-cache %d " % (FORMAT - 1)
        entry.write_bytes(good.replace(now, before, 1))
    elif damage == "foreign-key":  # another ruleset's valid entry under this name
        other = mapper.loads("ruleset other\nuserName <- user.email\n", "other.mapper")
        assert other.name == "other"
        (other_entry,) = [e for e in _entries(cache_dir) if e != entry]
        entry.write_bytes(other_entry.read_bytes())
    elif damage == "symlink":
        _plant_other_plan(entry)
        target = tmp_path / "elsewhere.json"
        entry.rename(target)
        entry.symlink_to(target)
    elif damage == "mode-666":
        _plant_other_plan(entry)
        entry.chmod(0o666)
    elif damage == "plain-sha256":  # edited and re-hashed by someone without this machine's key
        _plant_other_plan(entry)
        body = entry.read_bytes().partition(b"\n")[2]
        digest = hashlib.sha256(body).hexdigest().encode()
        entry.write_bytes(b"mapper-plan-cache %d %s\n" % (plan_codec.FORMAT, digest) + body)
    elif damage == "fifo":  # a reader would wait for a writer for ever
        entry.unlink()
        os.mkfifo(entry)
        loading = threading.Thread(target=mapper.load, args=(path,), daemon=True)
        loading.start()
        loading.join(60)
        assert not loading.is_alive()
        assert entry.read_bytes() == good  # compiled, and the FIFO replaced by a new entry
        return
    else:
        _plant_other_plan(entry)
        monkeypatch.setattr(compile_cache.os, "getuid", lambda: os.stat(entry).st_uid + 1, raising=False)
        # The folder is then someone else's too, so nothing is read or written.
        loaded = mapper.load(path)
        _same(expected, loaded)
        assert loaded.plan.rules[0].node is not None
        return
    loaded = mapper.load(path)
    assert loaded.plan.rules[0].node is not None  # compiled, not read
    _same(expected, loaded)
    assert entry.read_bytes() == good and not entry.is_symlink()  # rewritten
    again = mapper.load(path)
    assert again.plan.rules[0].node is None  # the rewritten entry serves the next load
    _same(expected, again)


def test_a_cache_folder_from_another_machine_is_never_trusted(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_ruleset(tmp_path / "rules")
    expected = mapper.load(path, cache=False)
    mapper.load(path)
    (entry,) = _entries(cache_dir)
    _plant_other_plan(entry)  # valid there: signed with that machine's key
    restored = tmp_path / "restored-cache"
    shutil.copytree(cache_dir, restored)
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(restored))  # as CI restores a cache folder
    monkeypatch.setenv("MAPPER_CONFIG_DIR", str(tmp_path / "this-machine"))
    loaded = mapper.load(path)
    assert loaded.plan.rules[0].node is not None  # compiled, not read
    _same(expected, loaded)
    assert oct((tmp_path / "this-machine" / "cache-key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("key", ["mode-644", "symlink", "short", "fifo", "in-the-cache-folder"])
def test_a_key_that_cannot_be_trusted_turns_the_cache_off(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    if key == "mode-644":
        (config / "cache-key").write_bytes(b"k" * compile_cache.KEY_BYTES)
        (config / "cache-key").chmod(0o644)
    elif key == "symlink":
        (tmp_path / "real-key").write_bytes(b"k" * compile_cache.KEY_BYTES)
        (tmp_path / "real-key").chmod(0o600)
        (config / "cache-key").symlink_to(tmp_path / "real-key")
    elif key == "short":
        (config / "cache-key").write_bytes(b"k")
        (config / "cache-key").chmod(0o600)
    elif key == "fifo":
        os.mkfifo(config / "cache-key", 0o600)
    else:
        monkeypatch.setenv("MAPPER_CONFIG_DIR", str(cache_dir))
    path = _write_ruleset(tmp_path / "rules")
    expected = mapper.load(path, cache=False)
    for _ in range(2):
        loaded = mapper.load(path)
        assert loaded.plan.rules[0].node is not None  # compiled every time
        _same(expected, loaded)
    assert _entries(cache_dir) == []


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("op", "+ __import__('os').system('echo PWNED') +"),
        ("literal", {"__class__": "os.system"}),
        ("function", "os.system"),
        ("kind", "exec"),
        ("type", ["str; import os", False]),
        ("scim_type", "complex"),
        ("pattern", "(a"),
    ],
)
def test_crafted_data_with_a_valid_checksum_never_becomes_code(
    tmp_path: Path, cache_dir: Path, where: str, value: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """Even a file that passes the checksum and key (someone with write access to the user's
    own folder) can only be refused: the reader type-checks every value and the code generator
    writes literals through repr() and names of its own."""
    text = (
        'ruleset crafted\nuserName <- user.login\nx:s <- user.a + 1 > 2 ? "y" : String.toUpperCase(user.b)\n'
        'nickName <- user.login matches "a.*" ? "a" : "b"\n'
        'schema x = "urn:example:x:2.0:User" {\n  s: string\n}\nprofile {\n  a: integer\n}\n'
    )
    path = _write_ruleset(tmp_path / "rules", text, "crafted")
    expected = mapper.load(path, cache=False)
    mapper.load(path)
    (entry,) = _entries(cache_dir)
    data = json.loads(entry.read_bytes().partition(b"\n")[2])
    condition = data["plan"]["rules"][1]["expr"]  # ["cond", type, nullable, cond, then, else]
    if where == "op":
        condition[3][3] = value
    elif where == "literal":
        condition[4][3] = value
    elif where == "function":
        condition[5][3] = value
    elif where == "kind":
        condition[0] = value
    elif where == "type":
        condition[1] = value
    elif where == "scim_type":
        data["plan"]["rules"][1]["target"][4] = value
    else:
        data["plan"]["rules"][2]["expr"][3][4] = value
    body = json.dumps(data).encode()
    entry.write_bytes(_signed(body))
    loaded = mapper.load(path)
    assert loaded.plan.rules[0].node is not None  # refused, compiled afresh
    assert loaded.source == expected.source
    assert "PWNED" not in capfd.readouterr().out


def test_an_unusable_folder_is_never_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(blocker / "cache"))
    assert mapper.load("okta-default").render(USER)["userName"] == "ada@example.com"


def test_the_folder_holds_a_bounded_number_of_entries(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compile_cache, "MAX_ENTRIES", 5)
    for i in range(8):
        mapper.loads(f"ruleset r{i}\nuserName <- user.login\n", f"r{i}.mapper")
    assert len(_entries(cache_dir)) == 5


def test_the_installation_fingerprint_covers_the_package() -> None:
    fingerprint = compile_cache.installation()
    assert len(fingerprint) == 64
    compile_cache.installation.cache_clear()
    assert compile_cache.installation() == fingerprint


def test_the_runtime_and_compiler_import_without_the_parser() -> None:
    """What a gateway imports (mapper.runtime, mapper.compiler) never imports the language's
    parser or checker, nor the tools; they are imported on a cache miss only."""
    code = (
        "import sys, pkgutil, importlib, mapper.runtime, mapper.compiler\n"
        "for package in (mapper.runtime, mapper.compiler):\n"
        "    for module in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(f'{package.__name__}.{module.name}')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lark' or m.startswith('mapper.tools')"
        " or m in ('mapper.language.syntax', 'mapper.language.loader', 'mapper.language.check',"
        " 'mapper.language.expressions')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
