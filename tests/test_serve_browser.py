"""End to end against a real `textsift serve` process: the playground in headless Chromium, graceful shutdown."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import running_server

ARTIFACTS = Path(__file__).parent / "artifacts"


def chrome_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver; CI installs them, elsewhere the test skips without them."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    message = "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(full_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(full_model, log, "--explain-steps", "4") as (url, _):
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    binary, driver_path = chrome_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1000,1200"):
        options.add_argument(flag)
    # An explicit Service path: selenium-manager never runs, so nothing is downloaded.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def classify_in_page(driver: Any, url: str, text: str, explain: bool = False) -> str:
    """Open the playground, type `text`, submit with the button; the label once it is shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    WebDriverWait(driver, 30).until(lambda d: "version" in d.find_element(By.ID, "model-name").text)
    driver.find_element(By.ID, "text").send_keys(text)
    if explain:
        driver.find_element(By.ID, "explain").click()
    driver.find_element(By.ID, "submit").click()
    return WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "result-label").text)


def test_playground_shows_the_predicted_label(server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    label = classify_in_page(browser, server, "a gripping, beautifully acted story")
    bars = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#bars li")]
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "playground.png"))
    assert label == "positive"
    assert len(bars) == 2 and bars[0].startswith("positive") and bars[0].endswith("%")


def test_playground_highlights_words_when_explain_is_on(server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    classify_in_page(browser, server, "a gripping, beautifully acted story", explain=True)
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "highlights").is_displayed())
    words = [span.text for span in browser.find_elements(By.CSS_SELECTOR, "#words span")]
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "playground-explain.png"))
    assert "gripping," in words or "gripping" in words


def test_sigterm_lets_the_request_in_flight_finish(full_model: Path, tmp_path: Path) -> None:
    # A 3 s batching window holds the request inside the server while SIGTERM arrives.
    with running_server(full_model, tmp_path / "server.log", "--max-wait-ms", "3000") as (url, process):
        result: dict[str, Any] = {}

        def send() -> None:
            result["response"] = httpx.post(f"{url}/v1/predict", json={"text": "a fine film"}, timeout=60)

        sender = threading.Thread(target=send)
        sender.start()
        wait_in_flight(url)
        process.send_signal(signal.SIGTERM)
        sender.join(60)
        # uvicorn re-raises the signal once shut down, so the exit status still says SIGTERM.
        assert process.wait(60) == -signal.SIGTERM
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()
    response = result["response"]
    assert response.status_code == 200 and response.json()["predictions"][0]["label"] in ("negative", "positive")


def wait_in_flight(url: str, deadline_s: float = 30) -> None:
    """Until /metrics shows one /v1/predict request being handled."""
    line = 'textsift_requests_in_progress{endpoint="/v1/predict"} 1.0'
    deadline = time.monotonic() + deadline_s
    while line not in httpx.get(f"{url}/metrics", timeout=5).text:
        assert time.monotonic() < deadline, "the request never reached the server"
        time.sleep(0.01)
