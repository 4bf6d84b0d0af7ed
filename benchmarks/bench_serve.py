"""mapper serve's latencies for a 100-rule ruleset, on this machine, in one run:

- the page's load: in Chromium (Debian's chromium and chromedriver, when installed), from the
  navigation to the page showing its first resource; and the requests it makes, timed alone;
- an update after a profile edit (POST /api/render);
- an update after a ruleset edit (POST /api/check, then /api/render: what the page sends).

    python benchmarks/bench_serve.py [--quick]

Goals (issue 24): load under 200 ms, a profile edit under 50 ms, a ruleset edit under 150 ms.
Prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from machine import describe

from mapper.serve.playground import Playground
from mapper.serve.server import PlaygroundServer

RULES = 100


def ruleset_text() -> str:
    """A ruleset of RULES rules: okta-default's and copies of custom attributes, with a few
    functions, as a real app's mapping has."""
    attributes = "".join(f"  attr{i}: string\n" for i in range(RULES - 11))
    rules = "".join(
        f"app:attr{i} <- {f'String.toUpperCase(user.custom{i})' if i % 5 == 0 else f'user.custom{i}'}\n"
        for i in range(RULES - 11)
    )
    return (
        "ruleset hundred extends okta-default\n\n"
        f'schema app = "urn:example:params:scim:schemas:extension:hundred:2.0:User" {{\n{attributes}}}\n\n{rules}'
    )


def profile(version: int) -> str:
    """A profile that fills every attribute the ruleset reads."""
    user = {"login": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "title": f"T{version}"}
    user.update({f"custom{i}": f"value {i}" for i in range(RULES - 11)})
    return json.dumps(user)


def _post(server: PlaygroundServer, path: str, body: dict[str, Any]) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    start = time.perf_counter()
    connection.request("POST", path, json.dumps(body), {"Host": f"127.0.0.1:{server.port}",
                       "X-Mapper-Token": server.token, "Content-Type": "application/json"})  # fmt: skip
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    connection.close()
    assert response.status == 200
    return elapsed * 1000


def _browser_load(server: PlaygroundServer, runs: int) -> float | None:
    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver_path):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    times = []
    try:
        for _ in range(runs + 1):  # the first load warms the browser's process
            driver.get(server.url)
            WebDriverWait(driver, 30, poll_frequency=0.01).until(
                lambda d: d.find_element("css selector", "body").get_attribute("data-ready") == "true"
            )
            # The page notes when it showed its first resource, counted from the navigation's start.
            times.append(float(driver.find_element("css selector", "body").get_attribute("data-ready-ms")))
    finally:
        driver.quit()
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    runs = 5 if parser.parse_args().quick else 30
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hundred.mapper"
        text = ruleset_text()
        path.write_text(text)
        playground = Playground.open(str(path), [])
        assert playground.check(text)["ok"], playground.check(text)["diagnostics"][:3]  # as mapper serve does
        server = PlaygroundServer(playground, 0)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        try:
            first = profile(0)
            _post(server, "/api/render", {"text": text, "profile": first})  # compiled once, as on load
            profile_edit = statistics.median(
                _post(server, "/api/render", {"text": text, "profile": profile(n)})
                for n in range(1, runs + 1)
            )
            ruleset_edit = []
            for n in range(runs):
                edited = text + f"# edit {n}\n"  # new text: checked and compiled again
                ruleset_edit.append(
                    _post(server, "/api/check", {"text": edited})
                    + _post(server, "/api/render", {"text": edited, "profile": first})
                )
            playground.check(text)  # the edits above pushed it out of the cache; mapper serve checks at start
            load = _browser_load(server, max(3, runs // 5))
        finally:
            server.shutdown()
            server.server_close()
    print(describe())
    print(f"a {RULES}-rule ruleset; median ms")
    print(
        f"  page load in Chromium (to the first resource): {load:7.1f}"
        if load
        else "  page load: no chromium here"
    )
    print(f"  update after a profile edit (render):         {profile_edit:7.1f}   goal < 50")
    print(
        f"  update after a ruleset edit (check + render): {statistics.median(ruleset_edit):7.1f}   goal < 150"
    )


if __name__ == "__main__":
    main()
