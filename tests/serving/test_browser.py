"""End to end against a real `textsift serve` process: the playground in headless Chromium, graceful shutdown."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.helpers import running_server
from textsift import load

ARTIFACTS = Path(__file__).parents[1] / "artifacts"  # tests/artifacts, ignored by git


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


@contextmanager
def headless_chrome(window: str = "1000,1200") -> Iterator[Any]:
    """Debian's Chromium, headless, through selenium; the test skips (fails in CI) without it."""
    binary, driver_path = chrome_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--window-size={window}"):
        options.add_argument(flag)
    # An explicit Service path: selenium-manager never runs, so nothing is downloaded.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser() -> Iterator[Any]:
    with headless_chrome() as driver:
        yield driver


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
    log = tmp_path / "server.log"
    with running_server(full_model, log) as (url, process):
        # Half a body keeps the request inside the server while SIGTERM arrives; the rest follows after it.
        body = json.dumps({"text": "a fine film"}).encode()
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=60) as conn:
            conn.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body[:5]))
            wait_in_flight(url)
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while "Shutting down" not in log.read_text():
                assert time.monotonic() < deadline, "the server never started shutting down"
                time.sleep(0.05)
            conn.sendall(body[5:])
            response = b"".join(iter(lambda: conn.recv(65536), b""))
        # uvicorn re-raises the signal once shut down, so the exit status still says SIGTERM.
        assert process.wait(60) == -signal.SIGTERM
    assert "Application shutdown complete" in log.read_text()
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload)["predictions"][0]["label"] == load(full_model).predict(["a fine film"])[0]


def wait_in_flight(url: str, deadline_s: float = 30) -> None:
    """Until /metrics shows one /v1/predict request being handled."""
    line = 'textsift_requests_in_progress{endpoint="/v1/predict"} 1.0'
    deadline = time.monotonic() + deadline_s
    while line not in httpx.get(f"{url}/metrics", timeout=5).text:
        assert time.monotonic() < deadline, "the request never reached the server"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def pair_server(pair_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("pair-server") / "server.log"
    with running_server(pair_model, log) as (url, _):
        yield url


@pytest.fixture(scope="module")
def regression_server(regression_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("regression-server") / "server.log"
    with running_server(regression_model, log) as (url, _):
        yield url


def open_playground(driver: Any, url: str) -> None:
    """Open the playground and wait until it has read the served model from /v1/models."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    WebDriverWait(driver, 30).until(lambda d: "version" in d.find_element(By.ID, "model-name").text)


def submit_and_wait(driver: Any) -> str:
    """Press Classify; the answer once it is shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "submit").click()
    return WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "result-label").text)


def test_playground_shows_a_second_box_for_a_pair_model(pair_server: str, pair_model: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    question = "How do I report a bug in Debian?"
    answer = "If you have found a bug in Debian, please read the instructions for reporting a bug in Debian."
    open_playground(browser, pair_server)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "pair-box").is_displayed())
    browser.find_element(By.ID, "text").send_keys(question)
    browser.find_element(By.ID, "text-pair").send_keys(answer)
    label = submit_and_wait(browser)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "playground-pair.png"))
    assert label in {"match", "other"}
    assert label == load(pair_model).predict([(question, answer)])[0]
    assert browser.find_element(By.ID, "result-kind").text == "Label"


def test_playground_shows_the_value_of_a_regression_model(regression_server: str, regression_model: Path,
                                                          browser: Any) -> None:
    from selenium.webdriver.common.by import By

    text = "a warm, funny and gripping film"
    open_playground(browser, regression_server)
    browser.find_element(By.ID, "text").send_keys(text)
    shown = submit_and_wait(browser)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "playground-regression.png"))
    assert not browser.find_element(By.ID, "pair-box").is_displayed()
    assert browser.find_element(By.ID, "result-kind").text == "Value"
    # Shown to 3 decimals: within half a step of the value (plus float noise between server and in-process runs).
    assert float(shown) == pytest.approx(load(regression_model).predict([text])[0], abs=6e-4)
