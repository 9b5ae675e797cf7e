"""The dashboard at `/` in real headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium): it lists VMs, updates live from the SSE stream, drives the lifecycle
with its buttons, shows the event timeline and keeps the token for the session only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.serve.server import Server, running_server

TOKEN = "dashboard-token"
CHROMIUM = os.environ.get("VMCORE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VMCORE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,900"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("the dashboard test needs chromium and chromium-driver: run `make tools`")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server("--rate", "0", store="file:./store", cwd=tmp_path,
                        env={"VMCORE_API_TOKEN": TOKEN}) as running:
        yield running


def state_of(driver: webdriver.Chrome, name: str) -> str:
    cells = driver.find_elements(By.CSS_SELECTOR, f'tr[data-vm="{name}"] td.state')
    return cells[0].text if cells else ""


def click(driver: webdriver.Chrome, name: str, action: str) -> None:
    WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(
            By.CSS_SELECTOR, f'tr[data-vm="{name}"] button[data-action="{action}"]'
        ).click() or True)


def test_dashboard_lists_drives_and_updates_live(server: Server, browser: webdriver.Chrome,
                                                 tmp_path: Path) -> None:
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=30)
    assert 201 == api.post("/v1/vms", json={"name": "web", "vcpus": 2,
                                            "memory": "512M"}).status_code
    # Rows are re-rendered on every event: re-find elements rather than hold them.
    wait = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(f"{server.url}/?token={TOKEN}")
    wait.until(lambda d: state_of(d, "web") == "created")
    assert "token" not in browser.current_url
    assert TOKEN == browser.execute_script("return sessionStorage.getItem('vmcore-token')")
    wait.until(lambda d: d.find_element(By.ID, "status").text == "live")
    wait.until(lambda d: ["web", "created", "1", "2", "512M"] == [
        cell.text for cell in d.find_elements(By.CSS_SELECTOR, 'tr[data-vm="web"] td')[:5]])

    click(browser, "web", "start")
    wait.until(lambda d: state_of(d, "web") == "running")
    assert 201 == api.post("/v1/vms", json={"name": "db"}).status_code  # from elsewhere
    assert 200 == api.post("/v1/vms/web/pause").status_code
    wait.until(lambda d: state_of(d, "web") == "paused" and state_of(d, "db") == "created")
    click(browser, "web", "delete")
    wait.until(lambda d: "cannot delete while paused" in d.find_element(By.ID, "error").text)
    wait.until(lambda d: ["vm.paused", "vm.created", "vm.started", "vm.created"] == [
        item.text.split()[2] for item in d.find_elements(By.CSS_SELECTOR, "#timeline li")])
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    shots = os.environ.get("VMCORE_SCREENSHOT_DIR")
    if shots:
        shutil.copy(tmp_path / "dashboard.png", Path(shots) / "dashboard.png")
    browser.refresh()  # the token stays for the session
    wait.until(lambda d: state_of(d, "web") == "paused")
    api.close()
