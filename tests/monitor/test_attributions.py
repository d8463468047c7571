"""Alert word attributions off the ingest path: the alert first, its examples' words attached afterwards."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.monitor.helpers import add, binary
from tests.monitor.test_pipeline import T0, batch, texts
from textsift.monitor.alerting import add_rule, evaluate
from textsift.monitor.attributions import Explainer, attach
from textsift.monitor.config import IngestConfig
from textsift.monitor.pipeline import Pipeline
from textsift.monitor.queries import recent_alerts
from textsift.monitor.store import Store

EVERY_WINDOW = "mean(negative) > -1 over 1h, min 1"  # fires on the first window with events


class Gate:
    """A fake explainer that blocks until released (what Integrated Gradients does for seconds), counting calls."""

    def __init__(self) -> None:
        self.open, self.calls = threading.Event(), []

    def __call__(self, text: str, target: str | None) -> list[tuple[str, float]]:
        self.calls.append((text, target))
        assert self.open.wait(60), "the test never released the explainer"
        return [(word, 0.5) for word in text.split()[:2]]


def stored_evidence(store: Store) -> dict:
    (alert,) = recent_alerts(store)
    return alert["evidence"]


def test_an_alerting_batch_returns_while_its_words_are_still_being_attributed(int8_model: Path, data_dir: Path,
                                                                               tmp_path: Path) -> None:
    gate = Gate()
    pipeline = Pipeline(int8_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db", lateness_s=0), attribute=gate)
    add_rule(pipeline.store, EVERY_WINDOW)
    pipeline.ingest(batch(texts(data_dir, 6)))
    _, changes = pipeline.ingest(batch(texts(data_dir, 1), start=T0 + 3600))  # returns with the gate shut
    evidence = stored_evidence(pipeline.store)
    assert [c.status for c in changes] == ["firing"]
    assert evidence["attributions"] == {"status": "pending", "target": "negative"}
    assert len(evidence["examples"]) == 3 and not any("words" in x for x in evidence["examples"])
    gate.open.set()
    pipeline.close(drain=True)


def test_the_words_are_stored_in_the_alert_once_attributed(int8_model: Path, data_dir: Path, tmp_path: Path) -> None:
    gate = Gate()
    gate.open.set()
    pipeline = Pipeline(int8_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db", lateness_s=0), attribute=gate)
    add_rule(pipeline.store, EVERY_WINDOW)
    pipeline.ingest(batch(texts(data_dir, 6)))
    pipeline.ingest(batch(texts(data_dir, 1), start=T0 + 3600))
    pipeline.explainer().wait()  # type: ignore[union-attr]
    evidence = stored_evidence(pipeline.store)
    assert evidence["attributions"] == {"status": "ready"}
    assert [x["words"] for x in evidence["examples"]] == [[[w, 0.5] for w in x["text"].split()[:2]]
                                                         for x in evidence["examples"]]
    assert [target for _, target in gate.calls] == ["negative"] * 3
    pipeline.close()


def test_the_webhook_message_is_queued_with_the_alert_not_after_its_words(store_url: str) -> None:
    store = Store(store_url)
    add_rule(store, "share(negative) > 0.5 over 1m, min 5", webhook="http://127.0.0.1:9/hook")
    add(store, [binary(f"e{i}", T0 + i, negative=True) for i in range(6)] + [binary("late", T0 + 90, False)])
    [fired] = evaluate(store, lateness=0, explain=["negative", "positive"])
    with store.read() as conn:
        (payload,) = conn.exec_driver_sql("select payload from deliveries").scalars()
    assert json.loads(payload)["alert_id"] == fired.alert_id
    assert json.loads(payload)["attributions"]["status"] == "pending"
    store.close()


def test_alerts_left_pending_by_an_ended_process_are_attributed_by_the_next(store_url: str) -> None:
    store = Store(store_url)
    add_rule(store, "share(negative) > 0.5 over 1m, min 5")
    add(store, [binary(f"e{i}", T0 + i, negative=True) for i in range(6)] + [binary("late", T0 + 90, False)])
    evaluate(store, lateness=0, explain=["negative", "positive"])  # stored pending; nobody attributes it here
    explainer = Explainer(store, lambda text, target: [(text.split()[0], 1.0)])
    explainer.submit([])
    explainer.wait()
    evidence = stored_evidence(store)
    assert evidence["attributions"] == {"status": "ready"}
    assert [x["words"] for x in evidence["examples"]] == [[["event", 1.0]]] * 3
    explainer.stop(drain=True)
    store.close()


def test_a_failing_explainer_leaves_the_alert_standing_without_words(store_url: str) -> None:
    store = Store(store_url)
    add_rule(store, "share(negative) > 0.5 over 1m, min 5")
    add(store, [binary(f"e{i}", T0 + i, negative=True) for i in range(6)] + [binary("late", T0 + 90, False)])
    [fired] = evaluate(store, lateness=0, explain=["negative", "positive"])

    def broken(text: str, target: str | None) -> list[tuple[str, float]]:
        raise RuntimeError("no gradients today")

    attach(store, fired.alert_id, broken)
    evidence = stored_evidence(store)
    assert evidence["attributions"] == {"status": "failed", "error": "no gradients today"}
    assert len(evidence["examples"]) == 3 and not any("words" in x for x in evidence["examples"])
    store.close()


def test_monitor_alerts_says_when_the_words_are_still_coming(store_url: str) -> None:
    from textsift.monitor.render import alert_text

    store = Store(store_url)
    add_rule(store, "share(negative) > 0.5 over 1m, min 5")
    add(store, [binary(f"e{i}", T0 + i, negative=True) for i in range(6)] + [binary("late", T0 + 90, False)])
    evaluate(store, lateness=0, explain=["negative", "positive"])
    (alert,) = recent_alerts(store)
    assert "  word attributions: still being computed" in alert_text(alert).splitlines()[3]
    store.close()
