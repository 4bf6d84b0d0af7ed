"""``mapper serve``: the playground's answers, its guards (Host, Origin, token, sizes), and the
page in a real browser (Debian's Chromium, driven by Selenium through chromedriver)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapper.serve.playground import Playground, SaveRefused, read_profiles
from mapper.serve.server import PlaygroundServer

ROOT = Path(__file__).resolve().parent.parent
RULESET = "ruleset mine extends okta-default\n\nnickName <- user.nickName\n"
EXPORT = "\n".join(
    json.dumps({"id": f"00u{i}", "status": "ACTIVE", "profile": {"login": f"user{i}@example.com", "title": f"T{i}"}})
    for i in range(30)
) + "\n"  # fmt: skip


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.mapper").write_text(RULESET)
    (tmp_path / "users.jsonl").write_text(EXPORT)
    return tmp_path


@pytest.fixture
def running(files: Path) -> Iterator[PlaygroundServer]:
    playground = Playground.open(str(files / "mine.mapper"), read_profiles([str(files / "users.jsonl")]))
    server = PlaygroundServer(playground, 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- the answers ------------------------------------------------------------------------------------


def test_check_gives_the_checker_s_words_the_lexer_s_tokens_and_the_table(files: Path) -> None:
    playground = Playground.open("mine.mapper", [])
    bad = playground.check("ruleset mine\nuserName <- user.login\ntitle <- user.titel +\n")
    (diagnostic,) = bad["diagnostics"]
    assert (diagnostic["line"], diagnostic["col"], diagnostic["severity"]) == (3, 22, "error")
    assert diagnostic["text"].startswith("mine.mapper:3:22: error: incomplete statement")
    assert not bad["ok"] and "explain" not in bad
    good = playground.check(RULESET)
    assert good["ok"] and good["diagnostics"] == []
    assert [1, 1, 7, "keyword"] in good["tokens"]  # `ruleset`, as the language's lexer reads it
    assert any(row[3] == "nickName" for row in good["explain"]) and good["mermaid"].startswith("flowchart LR")


def test_render_patch_in_every_style_and_which_rule_gave_each_value(files: Path) -> None:
    playground = Playground.open("mine.mapper", [])
    old = json.dumps({"login": "ada@example.com", "nickName": "Ada"})
    new = json.dumps({"login": "ada@example.com", "nickName": "Countess"})
    answer = playground.render(RULESET, old, new, "rfc")
    assert answer["resource"]["nickName"] == "Ada"
    assert {"path": "nickName", "value": "Ada", "rule": "nickName <- user.nickName", "line": 3,
            "file": "mine.mapper"} in answer["provenance"]  # fmt: skip
    assert answer["patch"]["body"]["Operations"] == [
        {"op": "replace", "path": "nickName", "value": "Countess"}
    ]
    assert answer["touched"] == ["nickName"]
    no_path = playground.render(RULESET, old, new, "no-path")["patch"]["body"]["Operations"]
    assert no_path == [{"op": "replace", "value": {"nickName": "Countess"}}]
    put = playground.render(RULESET, old, new, "put")["patch"]
    assert put["method"] == "PUT" and put["body"]["nickName"] == "Countess"
    assert playground.render(RULESET, old, old, "rfc")["patch"] is None
    assert playground.render(RULESET, "{", None, "rfc")["error"].startswith("profile:1:2:")
    assert playground.render(RULESET, old, "[]", "rfc")["patch_error"].startswith("second profile: expected")


def test_save_writes_the_file_formatted_only_when_clean_and_a_builtin_only_as_a_new_file(files: Path) -> None:
    playground = Playground.open("mine.mapper", [])
    with pytest.raises(SaveRefused, match="1 error"):
        playground.save("ruleset mine\nuserName <- user.login\ntitle <-\n")
    assert (files / "mine.mapper").read_text() == RULESET  # untouched
    saved = playground.save("ruleset mine extends okta-default\nnickName<-user.nickName\n")
    assert (files / "mine.mapper").read_text() == saved["text"] == RULESET
    builtin = Playground.open("okta-default", [])
    for name in (None, "../x.mapper", "x.txt", "mine.mapper"):
        with pytest.raises(SaveRefused):
            builtin.save(builtin.text, name)
    builtin.save(builtin.text, "copy.mapper")
    assert (files / "copy.mapper").read_text().startswith("# Okta's default SCIM 2.0 mapping")
    assert sorted(p.name for p in files.iterdir()) == ["copy.mapper", "mine.mapper", "users.jsonl"]


def test_profiles_are_found_by_login_or_id(files: Path) -> None:
    playground = Playground.open("mine.mapper", read_profiles(["users.jsonl"]))
    assert [p["id"] for p in playground.search("user1")][:2] == ["00u1", "00u10"]
    assert playground.search("00u29") == [{"index": "29", "id": "00u29", "login": "user29@example.com"}]
    assert playground.profile(3)["profile"]["title"] == "T3"


# -- the guards -----------------------------------------------------------------------------------


def _request(
    server: PlaygroundServer, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sent = {
        "Host": f"127.0.0.1:{server.port}",
        "X-Mapper-Token": server.token,
        "Content-Type": "application/json",
    }
    sent.update(headers or {})
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    connection.request(method, path, body=data, headers={k: v for k, v in sent.items() if v})
    response = connection.getresponse()
    answer = response.read(), response.getheaders()
    connection.close()
    return response.status, answer[0], dict(answer[1])


def test_only_this_run_s_page_on_this_host_may_ask(running: PlaygroundServer) -> None:
    status, _, headers = _request(running, "GET", "/")
    assert status == 200 and "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    assert running.server_address[0] == "127.0.0.1"
    refusals = [
        ("GET", "/api/state", None, {"X-Mapper-Token": ""}),  # no token
        ("GET", "/api/state", None, {"X-Mapper-Token": "guess"}),  # a wrong one
        ("GET", "/api/state", None, {"Host": "attacker.example:80"}),  # DNS rebinding
        ("POST", "/api/check", {"text": ""}, {"Origin": "http://attacker.example"}),  # cross-site
    ]
    for method, path, body, headers in refusals:
        assert _request(running, method, path, body, headers)[0] == 403, headers
    assert _request(running, "GET", "/app.js", headers={"X-Mapper-Token": ""})[0] == 200  # no data in it
    assert (
        _request(running, "GET", f"/api/state?token={running.token}", headers={"X-Mapper-Token": ""})[0]
        == 403
    )
    form = _request(
        running, "POST", "/api/save", b"text=x", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form[0] == 415  # a form from another page cannot post JSON without CORS
    assert _request(running, "POST", "/api/check", b"{", {})[0] == 400
    own = {"Origin": f"http://127.0.0.1:{running.port}"}
    status, body, _ = _request(running, "POST", "/api/check", {"text": RULESET}, own)
    assert status == 200 and json.loads(body)["ok"]


# -- the page in a real browser -----------------------------------------------------------------------


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def browser(running: PlaygroundServer) -> Iterator[Any]:
    found = _chromium()
    if found is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI runs the browser tests: .ci/run installs chromium and chromium-driver")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.get(running.url)
    _wait(driver, lambda d: d.find_element("css selector", "body").get_attribute("data-ready") == "true")
    yield driver
    driver.quit()


def _wait(driver: Any, condition: Any, seconds: float = 15) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def _text(driver: Any, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


@pytest.mark.browser
def test_typing_a_rule_changes_the_resource(browser: Any) -> None:
    _wait(browser, lambda d: '"userName": "ada@example.com"' in _text(d, "resource"))
    editor = browser.find_element("id", "editor")
    editor.send_keys("title <- String.toUpperCase(user.title)")  # the text ends in a line break
    _wait(browser, lambda d: '"title": "ANALYST"' in _text(d, "resource"))
    assert "String.toUpperCase(user.title)" in _text(browser, "provenance")
    assert browser.find_elements("css selector", "#highlight .tok-keyword")  # coloured by the lexer


@pytest.mark.browser
def test_a_diagnostic_shows_at_its_line(browser: Any) -> None:
    editor = browser.find_element("id", "editor")
    editor.send_keys("name.givenNme <- user.firstName")
    _wait(browser, lambda d: "unknown attribute 'givenNme' in name" in _text(d, "diagnostics"))
    item = browser.find_element("css selector", "#diagnostics li.error")
    assert item.get_attribute("data-line") == "4"
    assert "mine.mapper:4:6: error: unknown attribute 'givenNme' in name" in item.text
    assert "hint: did you mean `givenName`?" in item.text
    marked = browser.find_elements("css selector", "#highlight .line.error")
    assert [m.get_attribute("data-line") for m in marked] == ["4"]


@pytest.mark.browser
def test_the_patch_follows_the_chosen_style(browser: Any) -> None:
    from selenium.webdriver.support.ui import Select

    browser.find_element("id", "edit-this").click()
    other = browser.find_element("id", "other")
    other.clear()
    other.send_keys('{"login": "ada@example.com", "title": "Engineer"}')
    try:
        _wait(browser, lambda d: '"path": "title"' in _text(d, "patch"))
    except Exception:
        raise AssertionError(
            [_text(browser, i) for i in ("patch", "patch-error", "render-error", "other")]
        ) from None
    assert _text(browser, "touched") == "name.familyName, name.givenName, title" or "title" in _text(
        browser, "touched"
    )
    Select(browser.find_element("id", "style")).select_by_value("no-path")
    # no-path: Okta's body, the new values keyed by path (what is removed still needs a path)
    _wait(
        browser,
        lambda d: '"path": "title"' not in _text(d, "patch") and '"title": "Engineer"' in _text(d, "patch"),
    )
    Select(browser.find_element("id", "style")).select_by_value("put")
    _wait(browser, lambda d: _text(d, "patch").startswith("PUT /Users/{id}"))


@pytest.mark.browser
def test_picking_a_user_from_the_export(browser: Any) -> None:
    search = browser.find_element("id", "search")
    search.send_keys("user17")
    _wait(browser, lambda d: _text(d, "results").startswith("user17@example.com"))

    def click(driver: Any) -> bool:  # the list is redrawn as the search settles
        from selenium.common.exceptions import StaleElementReferenceException

        try:
            driver.find_element("css selector", "#results button").click()
        except StaleElementReferenceException:
            return False
        return True

    _wait(browser, click)
    _wait(browser, lambda d: '"userName": "user17@example.com"' in _text(d, "resource"))
    assert '"title": "T17"' in _text(browser, "resource")
    assert '"externalId": "00u17"' in _text(browser, "resource")


@pytest.mark.browser
def test_save_writes_the_ruleset_formatted(browser: Any, files: Path) -> None:
    editor = browser.find_element("id", "editor")
    editor.send_keys("title<-user.title")
    _wait(browser, lambda d: _text(d, "diagnostic-count") == "(none)")
    browser.find_element("id", "save").click()
    _wait(browser, lambda d: _text(d, "status").startswith("saved to"))
    assert (files / "mine.mapper").read_text() == RULESET.rstrip("\n") + "\ntitle    <- user.title\n"


# -- the command ------------------------------------------------------------------------------------


def test_the_command_prints_its_address_and_stops_cleanly_on_ctrl_c(files: Path) -> None:
    import signal
    import subprocess
    import sys

    # Ctrl-C in a terminal reaches a process whose SIGINT is Python's default handler. A shell's
    # background job (and a CI runner may start the tests as one) passes SIGINT on ignored, and
    # Python keeps an inherited SIG_IGN: this server would never see the signal (the test hung
    # 60 s in a suite started with `&`). The server here starts as from a terminal.
    start = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); import runpy; "
    start += "runpy.run_module('mapper.cli', run_name='__main__')"
    command = [sys.executable, "-c", start, "serve", "mine.mapper", "--port", "0"]
    command += ["--profiles", "users.jsonl"]
    # PYTHONFAULTHANDLER: should the server ever hang on its way out, SIGABRT makes it print
    # where each thread stands, and the failure shows it.
    environment = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    with subprocess.Popen(command, cwd=files, stderr=subprocess.PIPE, text=True, env=environment) as process:
        try:
            assert process.stderr is not None
            first = process.stderr.readline()
            assert first.startswith("mapper serve: http://127.0.0.1:") and "/?token=" in first
            url = first.split()[-1]
            port, token = int(url.split(":")[2].split("/")[0]), url.split("token=")[1]
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/api/state", headers={"X-Mapper-Token": token})
            state = json.loads(connection.getresponse().read())
            connection.close()
            assert state["profiles"] == 30 and state["check"]["ok"] and state["name"] == "mine.mapper"
            process.send_signal(signal.SIGINT)
            try:  # a guard against a hang only, as generous as the other commands' (a loaded machine)
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGABRT)
                process.wait(timeout=60)
                pytest.fail(f"serve did not stop on SIGINT:\n{process.stderr.read()}")
            rest = process.stderr.read()
            assert code == 0, rest
            assert "mapper serve: stopped" in rest
        finally:
            process.kill()


def test_a_port_in_use_is_one_line_and_exit_2(running: PlaygroundServer) -> None:
    from tests.support.cli import mapper_cli

    result = mapper_cli("serve", "okta-default", "--port", str(running.port))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"mapper: serve: 127.0.0.1:{running.port}: ")
    missing = mapper_cli("serve", "okta-default", "--profiles", "nowhere.jsonl")
    assert missing.exit_code == 2 and "nowhere.jsonl" in missing.stderr


# -- from a review ---------------------------------------------------------------------------------


def test_a_parent_changed_on_disk_is_seen_and_a_builtin_extends_files_here(files: Path) -> None:
    (files / "parent.mapper").write_text("ruleset parent\nuserName <- user.login\ntitle <- user.titel +\n")
    child = "ruleset child extends parent\n"
    playground = Playground.open("mine.mapper", [])
    assert not playground.check(child)["ok"]
    (files / "parent.mapper").write_text("ruleset parent\nuserName <- user.login\n")
    assert playground.check(child)["ok"]  # the cache knew the old parent: it keys on the files too
    builtin = Playground.open("okta-default", [])
    assert builtin.check(child)["ok"] and builtin.name == "okta-default (built-in, unsaved)"


def test_a_new_file_is_named_plainly_and_never_replaces_anything(files: Path) -> None:
    builtin = Playground.open("okta-default", [])
    (files / "dangling.mapper").symlink_to(files / "nowhere")
    for name in (
        "a\nb.mapper",
        " .mapper",
        "-rf.mapper",
        "a\u202eb.mapper",
        "x" * 120 + ".mapper",
        "dangling.mapper",
    ):
        with pytest.raises(SaveRefused):
            builtin.save(builtin.text, name)
    assert (files / "dangling.mapper").is_symlink() and not (files / "dangling.mapper").exists()
    assert builtin.save(builtin.text, "mine-2.mapper")["saved"].endswith("mine-2.mapper")
    assert not [p for p in files.iterdir() if p.name.startswith(".mapper-serve-")]  # no temporary left


def test_every_answer_is_the_server_s_own(running: PlaygroundServer, files: Path) -> None:
    for method in ("HEAD", "PUT", "DELETE", "OPTIONS"):
        status, _, headers = _request(running, method, "/api/state")
        assert status == 405 and "default-src 'self'" in headers["Content-Security-Policy"], method
    assert _request(running, "GET", "/api/profile?index=-1")[0] == 404
    (files / "mine.mapper").chmod(0o444)
    if os.access(files / "mine.mapper", os.W_OK):
        pytest.skip("root writes read-only files")
    status, body, _ = _request(running, "POST", "/api/save", {"text": RULESET})
    assert status == 409 and json.loads(body)["error"].startswith("not saved")
