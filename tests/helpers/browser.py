"""Headless Chromium with the network blocked, and the log of what a page asked for
(tests/test_publish.py: the student site; tests/test_report.py: the feedback pages)."""
from __future__ import annotations

import json
from pathlib import Path


def offline_chromium(profile: Path):
    """Headless Chromium that can reach 127.0.0.1 only (every other request goes to a closed
    local port, every other host name fails to resolve), with its network log recorded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-default-apps", "--window-size=1280,1600", f"--user-data-dir={profile}",
                 "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def network_log(driver) -> tuple[list[str], list[str]]:
    """The URLs requested since the last call, and those that failed or answered >= 400."""
    requested, failed, urls = [], [], {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            requested.append(params["request"]["url"])
        elif message["method"] == "Network.responseReceived" and params["response"]["status"] >= 400:
            failed.append(f"{params['response']['url']} ({params['response']['status']})")
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{urls.get(params['requestId'], '?')} ({params.get('errorText')})")
    return requested, failed
