"""End to end: `textsift monitor serve` as a real process, its dashboard in headless Chromium, a planted surge."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.monitor.surges import ZSCORE_RULE, surge, texts_by_answer
from tests.serving.helpers import free_port, wait_ready
from tests.serving.test_browser import headless_chrome
from textsift.monitor.alerting import add_rule
from textsift.monitor.store import Store

ARTIFACTS = Path(__file__).parents[1] / "artifacts"  # tests/artifacts, ignored by git


@pytest.fixture
def server(int8_model: Path, tmp_path: Path) -> Iterator[str]:
    """`monitor serve` on a fresh store holding ZSCORE_RULE, the page refreshing every half second."""
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = Store(db)
    add_rule(store, ZSCORE_RULE)
    store.close()
    port, log = free_port(), tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "textsift", "monitor", "serve", str(int8_model), "--db", db,
                                    "--port", str(port), "--refresh-s", "0.5", "--explain-steps", "4"],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log, 120, route="/healthz")
        yield url
    finally:
        process.terminate()
        process.wait(60)


@pytest.fixture
def browser() -> Iterator[Any]:
    with headless_chrome("1100,1400") as driver:
        yield driver


def test_the_open_dashboard_shows_a_surge_alert_once_it_fires(server: str, browser: Any, int8_model: Path,
                                                              data_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/?since=24h")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "no-alerts"))
    # Six quiet hours at 20 % negative, then two at 90 %: the z-score rule fires on hour 6 and stays open.
    events = surge(texts_by_answer(int8_model, data_dir), hours=8, surge_from=6, per_hour=20, quiet_share=0.2,
                   surge_share=0.9)
    answer = httpx.post(f"{server}/v1/ingest", json={"events": events}, timeout=120)
    assert answer.status_code == 200, answer.text
    (fired,) = answer.json()["alerts"]
    assert (fired["status"], fired["rule"], fired["window_start"]) == ("firing", ZSCORE_RULE, "2026-03-01T06:00:00Z")

    # The page polls /v1/alerts and redraws itself: no reload here.
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, f"alert-{fired['id']}"))
    # The words are attributed after the alert is stored; the page redraws the card once they are.
    marks = f"#alert-{fired['id']} .examples mark"
    WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, marks))
    card = browser.find_element(By.ID, f"alert-{fired['id']}")
    redrawn = "const img = document.getElementById('chart'); return img.src.includes('&t=') && img.complete " \
              "&& img.naturalWidth"
    chart_width = WebDriverWait(browser, 30).until(lambda d: d.execute_script(redrawn))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "monitor-dashboard.png"))
    assert card.get_attribute("data-status") == "firing"
    assert card.find_element(By.CSS_SELECTOR, "code.rule").text == ZSCORE_RULE
    assert "0.900 over 20 events vs baseline 0.200 ±" in card.text
    assert len(card.find_elements(By.CSS_SELECTOR, ".examples li")) == 3
    assert card.find_elements(By.CSS_SELECTOR, ".examples mark")  # the most attributed words
    assert chart_width == 1000
    assert not browser.find_elements(By.ID, "no-alerts")
