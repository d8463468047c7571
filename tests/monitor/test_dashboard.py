"""`textsift monitor serve` in-process (FastAPI TestClient) on the int8 test model and a SQLite store."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.monitor.surges import START, THRESHOLD_RULE, planted, texts_by_answer
from textsift.monitor.alerting import add_rule
from textsift.monitor.config import MonitorServeConfig
from textsift.monitor.dashboard import EVENT_BYTES, create_app
from textsift.monitor.store import Added, Store

PNG = b"\x89PNG\r\n\x1a\n"


def app_client(model: Path, db: Path, **settings: Any) -> TestClient:
    cfg = MonitorServeConfig(db=f"sqlite:///{db}", explain_steps=2, **settings)
    return TestClient(create_app(model, cfg), raise_server_exceptions=False)


@pytest.fixture
def client(int8_model: Path, tmp_path: Path) -> Iterator[TestClient]:
    with app_client(int8_model, tmp_path / "monitor.db", max_events=20) as c:
        yield c


@pytest.fixture(scope="module")
def alerted(int8_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """A store with THRESHOLD_RULE fired once by a planted surge, and the ingest answer that fired it."""
    with app_client(int8_model, tmp_path_factory.mktemp("alerted") / "monitor.db") as c:
        add_rule(c.app.state.pipeline.store, THRESHOLD_RULE)  # type: ignore[attr-defined]
        answer = c.post("/v1/ingest", json={"events": planted(texts_by_answer(int8_model, data_dir))})
        assert answer.status_code == 200, answer.text
        c.app.state.pipeline.explainer().wait()  # type: ignore[attr-defined]  # the words, attributed meanwhile
        yield c, answer.json()


def event(i: int, ts: float = START, source: str = "web", text: str = "a fine, warm film") -> dict[str, Any]:
    return {"id": f"e{i}", "ts": ts, "source": source, "text": text}


def test_ingest_answers_how_many_events_it_stored(client: TestClient) -> None:
    answer = client.post("/v1/ingest", json={"events": [event(1), event(2)]})
    assert answer.status_code == 200
    assert answer.json() == {"stored": 2, "duplicates": 0, "alerts": []}


def test_reposting_a_batch_stores_nothing_twice(client: TestClient) -> None:
    client.post("/v1/ingest", json={"events": [event(1), event(2)]})
    assert client.post("/v1/ingest", json={"events": [event(1), event(2)]}).json()["duplicates"] == 2
    assert client.get("/v1/series?since=1d").json()["volume"] == [2]


def test_an_acknowledged_batch_is_committed(client: TestClient) -> None:
    client.post("/v1/ingest", json={"events": [event(1), event(2), event(3)]})
    other = Store(client.app.state.cfg.db, create=False)  # type: ignore[attr-defined]
    assert other.count() == 3  # seen from another connection: committed, not pending
    other.close()


def test_series_volume_and_shares_match_the_model_answers(client: TestClient, int8_model: Path,
                                                          data_dir: Path) -> None:
    texts = texts_by_answer(int8_model, data_dir)
    batch = [event(1, START, text=texts["negative"][0]), event(2, START + 60, text=texts["positive"][0]),
             event(3, START + 120, text=texts["positive"][1]), event(4, START + 3600, text=texts["negative"][1])]
    client.post("/v1/ingest", json={"events": batch})
    found = client.get("/v1/series?since=1d&width=3600").json()
    assert (found["width"], found["starts"], found["volume"]) == (3600, [START, START + 3600], [3, 1])
    assert found["shares"]["negative"] == [pytest.approx(1 / 3), 1.0]
    assert found["shares"]["positive"] == [pytest.approx(2 / 3), 0.0]


def test_ranges_count_back_from_the_latest_event_not_the_clock(client: TestClient) -> None:
    old = 1_262_304_000  # 2010-01-01: far outside any wall-clock day
    client.post("/v1/ingest", json={"events": [event(1, old), event(2, old + 7200)]})
    found = client.get("/v1/series?since=1h").json()
    assert found["end"] == old + 7201 and found["start"] == old + 7201 - 3600
    assert found["volume"] == [1]


def test_a_source_filter_keeps_only_that_source(client: TestClient) -> None:
    client.post("/v1/ingest", json={"events": [event(1, source="a"), event(2, source="b"), event(3, source="b")]})
    assert client.get("/v1/sources").json() == {"sources": ["a", "b"]}
    assert client.get("/v1/series?since=1d&source=b").json()["volume"] == [2]
    assert client.get("/v1/series?since=1d&source=c").json()["volume"] == []


@pytest.mark.parametrize(("body", "where"), [
    ({}, "events"),
    ({"events": []}, "events"),
    ({"events": [{"id": "1", "text": "fine"}], "extra": 1}, "extra"),
    ({"events": [{"id": "1", "text": "fine", "label": "x"}]}, "events.0.label"),
    ({"events": [{"id": "1"}]}, "events.0.text"),
    ({"events": [{"id": "1", "text": 5}]}, "events.0.text"),
    ({"events": [{"id": True, "text": "fine"}]}, "events.0.id"),
    ({"events": [{"id": "1", "text": "fine"}, {"id": "2", "text": "  "}]}, "events[1]: the event has no text"),
    ({"events": [{"id": "1", "ts": "yesterday", "text": "fine"}]}, "events[0]: ts 'yesterday'"),
    (b'{"events": [{"id": "1", "text": "fine \\ud800"}]}', "events[0]: not valid Unicode"),  # a lone surrogate
])
def test_a_bad_body_is_422_naming_what_is_wrong(client: TestClient, body: dict[str, Any] | bytes, where: str) -> None:
    if isinstance(body, bytes):
        answer = client.post("/v1/ingest", content=body, headers={"content-type": "application/json"})
    else:
        answer = client.post("/v1/ingest", json=body)
    assert answer.status_code == 422
    assert where in answer.json()["error"]["message"]
    assert client.get("/v1/series?since=1d").json()["volume"] == []  # nothing of a refused batch is stored


def test_more_events_than_max_events_is_422(client: TestClient) -> None:
    answer = client.post("/v1/ingest", json={"events": [event(i) for i in range(21)]})
    assert answer.status_code == 422
    assert answer.json()["error"] == {"code": "too_many_events",
                                      "message": "21 events in one request; the limit is 20"}


def test_malformed_json_is_400(client: TestClient) -> None:
    answer = client.post("/v1/ingest", content=b'{"events": [', headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_json")


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    assert client.post("/v1/ingest", content=b"text=hi", headers={"content-type": "text/plain"}).status_code == 415


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    huge = {"events": [event(1, text="x" * (20 * EVENT_BYTES + 1))]}
    assert client.post("/v1/ingest", json=huge).status_code == 413


@pytest.mark.parametrize("query", ["since=abc", "since=0h", "width=7", "since=30d&width=60", "width=hour"])
def test_bad_query_parameters_are_422(client: TestClient, query: str) -> None:
    assert client.get(f"/v1/series?{query}").status_code == 422


def test_unknown_route_is_404_and_wrong_method_is_405(client: TestClient) -> None:
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/ingest").status_code == 405
    assert client.post("/v1/series", json={}).status_code == 405


def test_chart_is_a_png(client: TestClient) -> None:
    client.post("/v1/ingest", json={"events": [event(1), event(2, START + 3600)]})
    answer = client.get("/chart.png?since=7d")
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(PNG)


def test_chart_of_an_empty_store_is_a_png(client: TestClient) -> None:
    answer = client.get("/chart.png")
    assert answer.status_code == 200 and answer.content.startswith(PNG)


def test_the_same_chart_request_again_is_served_from_the_cache(client: TestClient,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import textsift.monitor.dashboard as dashboard

    drawn: list[int] = []
    original = dashboard.chart_png
    monkeypatch.setattr(dashboard, "chart_png", lambda *a, **kw: drawn.append(1) or original(*a, **kw))
    client.post("/v1/ingest", json={"events": [event(1), event(2, START + 3600)]})
    first, second = client.get("/chart.png?since=7d"), client.get("/chart.png?since=7d")
    other = client.get("/chart.png?since=24h")
    assert (first.headers["x-chart-cache"], second.headers["x-chart-cache"]) == ("miss", "hit")
    assert second.content == first.content and other.headers["x-chart-cache"] == "miss" and len(drawn) == 2


def test_new_events_draw_the_chart_afresh(client: TestClient) -> None:
    client.post("/v1/ingest", json={"events": [event(1), event(2, START + 3600)]})
    before = client.get("/chart.png?since=7d")
    client.post("/v1/ingest", json={"events": [event(3, START + 1800)]})  # inside the range: the watermark stays
    after = client.get("/chart.png?since=7d")
    assert after.headers["x-chart-cache"] == "miss" and after.content != before.content


class SlowPipeline:
    """Stands in for the model: each batch takes 0.2 s and records how many ran at once."""

    def __init__(self, store: Store) -> None:
        self.store, self.model, self.running, self.most = store, "slow", 0, 0

    def ingest(self, batch: list[Any]) -> tuple[Added, list[Any]]:
        self.running += 1
        self.most = max(self.most, self.running)
        time.sleep(0.2)
        self.running -= 1
        return Added(len(batch), 0), []


def test_batches_are_stored_one_at_a_time(tmp_path: Path) -> None:
    pipeline = SlowPipeline(Store(f"sqlite:///{tmp_path / 'monitor.db'}"))
    app = create_app("unused", MonitorServeConfig(db=pipeline.store.url), pipeline=pipeline)  # type: ignore[arg-type]
    with TestClient(app) as c, ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda i: c.post("/v1/ingest", json={"events": [event(i)]}), range(3)))
    assert [a.json()["stored"] for a in answers] == [1, 1, 1]
    assert pipeline.most == 1


def test_the_page_of_an_empty_store_says_no_events_yet(client: TestClient) -> None:
    page = client.get("/").text
    assert '<span id="summary">no events yet</span>' in page and 'id="no-alerts"' in page


def test_the_page_escapes_what_the_stream_sent(client: TestClient) -> None:
    client.post("/v1/ingest", json={"events": [event(1, source="<b>x</b>")]})
    page = client.get("/").text
    assert '<option value="&lt;b&gt;x&lt;/b&gt;">&lt;b&gt;x&lt;/b&gt;</option>' in page and "<b>x</b>" not in page


def test_healthz_names_the_model(client: TestClient, int8_model: Path) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "model": int8_model.name}


def test_the_webhook_deliverer_runs_only_while_the_app_serves(int8_model: Path, tmp_path: Path) -> None:
    def running() -> int:
        return sum(t.name == "textsift-webhooks" and t.is_alive() for t in threading.enumerate())

    before = running()
    with app_client(int8_model, tmp_path / "monitor.db", deliver_timeout_s=0):
        assert running() == before + 1
    assert running() == before


def test_the_ingest_that_closes_a_surge_window_answers_its_alert(alerted: tuple[TestClient, dict[str, Any]]
                                                                ) -> None:
    answer = alerted[1]
    assert answer["stored"] == 13
    assert answer["alerts"] == [{"id": 1, "status": "firing", "rule_id": 1, "rule": THRESHOLD_RULE,
                                 "window_start": "2026-03-01T01:00:00Z", "window_end": "2026-03-01T02:00:00Z",
                                 "value": 1.0}]


def test_alerts_lists_the_alert_with_its_evidence(alerted: tuple[TestClient, dict[str, Any]]) -> None:
    (found,) = alerted[0].get("/v1/alerts?since=7d").json()["alerts"]
    e = found["evidence"]
    assert (found["id"], found["rule"], found["status"]) == (1, THRESHOLD_RULE, "firing")
    assert (e["value"], e["volume"], e["hits"], e["detector"]) == (1.0, 6, 6, "threshold")
    assert len(e["examples"]) == 3 and all(x["answer"] == ["negative"] for x in e["examples"])


def test_alerts_whose_window_ended_before_the_range_are_left_out(alerted: tuple[TestClient, dict[str, Any]]
                                                                 ) -> None:
    # The latest event is 2 min into hour 2; the alert's window ended at the start of hour 2.
    assert alerted[0].get("/v1/alerts?since=1m").json()["alerts"] == []
    assert len(alerted[0].get("/v1/alerts?since=5m").json()["alerts"]) == 1


def test_the_page_shows_the_alert_with_its_most_attributed_words(alerted: tuple[TestClient, dict[str, Any]]
                                                                 ) -> None:
    answer = alerted[0].get("/")
    page = answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="alert-1"' in page and "share(negative) &gt; 0.5 over 1h, min 5" in page
    assert "1.000 over 6 events" in page
    assert len(re.findall(r'<mark style="background: rgba\(', page)) >= 3  # each example's strongest words
    assert '<option value="reviews">reviews</option>' in page
    assert '<img id="chart" src="/chart.png?since=7d"' in page


def test_the_page_runs_only_its_own_inline_script(alerted: tuple[TestClient, dict[str, Any]]) -> None:
    answer = alerted[0].get("/")
    nonce = re.search(r"script-src 'nonce-([^']+)'", answer.headers["content-security-policy"])
    assert nonce and f'<script nonce="{nonce[1]}">' in answer.text
    assert "<script src" not in answer.text and "http://" not in answer.text and "https://" not in answer.text


def test_the_alerts_part_is_the_list_the_page_refreshes_in_place(alerted: tuple[TestClient, dict[str, Any]]
                                                                 ) -> None:
    part = alerted[0].get("/alerts.html?since=7d").text
    assert part.lstrip().startswith('<article class="alert firing" id="alert-1"')
    assert "<html" not in part
