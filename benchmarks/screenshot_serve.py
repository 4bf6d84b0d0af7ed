"""The README's picture of mapper serve: the seed's Appspace ruleset, a user picked from an
export, a second profile and its PATCH, taken in Chromium (Debian's chromium and chromedriver).

    python benchmarks/screenshot_serve.py docs/serve.png
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from mapper.serve.playground import Playground, read_profiles
from mapper.serve.server import PlaygroundServer

ROOT = Path(__file__).resolve().parent.parent


def main(target: str) -> None:
    target = str(Path(target).resolve())
    os.chdir(ROOT)  # the page names the ruleset as mapper serve was given it
    playground = Playground.open("rulesets/appspace.mapper", read_profiles(["examples/okta/users.jsonl"]))
    server = PlaygroundServer(playground, 0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1300"):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(shutil.which("chromedriver") or "chromedriver"), options=options
    )
    try:
        driver.get(server.url)
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element("css selector", "body").get_attribute("data-ready")
        )
        user = playground.profile(0)
        driver.find_element("id", "profile").clear()
        driver.find_element("id", "profile").send_keys(json.dumps(user))
        changed = json.loads(json.dumps(user))
        (changed.get("profile", changed))["title"] = "Principal Engineer"
        driver.find_element("id", "other").send_keys(json.dumps(changed))
        WebDriverWait(driver, 30).until(lambda d: "Principal Engineer" in d.find_element("id", "patch").text)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(target)
    finally:
        driver.quit()
        server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/serve.png")
