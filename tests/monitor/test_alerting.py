"""Rules over stored windows: one alert per episode, resolution, cool-down, evidence, and no double firing."""

from __future__ import annotations

import json
from pathlib import Path

from textsift.monitor.alerting import add_rule, backtest, evaluate, remove_rule, stored_rules
from textsift.monitor.store import Scored, Store

HOUR = 3600
T0 = 1_796_083_200  # 2026-12-01T00:00Z, a day boundary


def hour_of_events(hour: int, negatives: int, total: int = 40, source: str = "wire") -> list[Scored]:
    """`total` events spread over one hour, the first `negatives` of them answered negative."""
    out = []
    for k in range(total):
        negative = k < negatives
        p = 0.9 if negative else 0.1
        out.append(Scored(source, f"{source}-{hour}-{k}", T0 + hour * HOUR + k * (HOUR // total),
                          f"{'awful' if negative else 'lovely'} news {hour} {k}", f"h{hour}-{k}",
                          ["negative" if negative else "positive"], max(p, 1 - p),
                          {"negative": p, "positive": 1 - p}))
    return out


def stream(store: Store, shares: list[int], **kw: object) -> None:
    for hour, negatives in enumerate(shares):
        store.add(hour_of_events(hour, negatives, **kw), model="m", model_version="v")  # type: ignore[arg-type]


def quiet_then_surge(quiet: int = 12, surge: int = 3, after: int = 4) -> list[int]:
    """Negatives per hour of 40: about a quarter, then a surge to three quarters, then quiet again."""
    return [10 + (h % 3) - 1 for h in range(quiet)] + [30] * surge + [10] * after


def test_a_surge_fires_once_and_resolves_after_two_quiet_windows(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20")
    stream(store, quiet_then_surge())
    changes = evaluate(store, lateness=0)
    assert [(c.status, c.evidence["window_start_ts"]) for c in changes] == [
        ("firing", T0 + 12 * HOUR), ("resolved", T0 + 16 * HOUR)]
    assert changes[0].alert_id == changes[1].alert_id


def test_evaluating_again_fires_nothing_new(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20")
    stream(store, quiet_then_surge())
    evaluate(store, lateness=0)
    assert evaluate(store, lateness=0) == []
    assert stored_rules(store)[0].evaluated_until == T0 + 18 * HOUR  # hour 18, the last, is still open


def test_the_open_window_is_not_evaluated_until_the_stream_passes_its_end(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20")
    stream(store, quiet_then_surge(surge=1, after=0))  # the surge hour is the last, still open
    assert evaluate(store, lateness=0) == []
    store.add(hour_of_events(13, 10), model="m", model_version="v")
    assert [c.status for c in evaluate(store, lateness=0)] == ["firing"]


def test_evidence_gives_the_window_the_test_and_the_most_confident_negative_texts(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20")
    stream(store, quiet_then_surge())
    evidence = evaluate(store, lateness=0)[0].evidence
    assert (evidence["window_start"], evidence["volume"], evidence["hits"]) == ("2026-12-01T12:00:00Z", 40, 30)
    assert evidence["value"] == 0.75 and 0.2 < evidence["baseline"] < 0.3 and evidence["z"] > 3
    assert len(evidence["examples"]) == 3
    assert all(x["answer"] == ["negative"] and x["text"].startswith("awful news 12") for x in evidence["examples"])


def test_a_dip_inside_a_surge_does_not_open_a_second_alert(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20")
    stream(store, quiet_then_surge(surge=0, after=0) + [30, 10, 30, 10, 10, 10])
    assert [c.status for c in evaluate(store, lateness=0)] == ["firing", "resolved"]


def test_cooldown_keeps_a_second_surge_soon_after_quiet(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20, cooldown 3h, clear 1 windows")
    stream(store, quiet_then_surge(surge=0, after=0) + [30, 10, 30, 10, 10, 10, 30, 10])
    fired = [c.evidence["window_start_ts"] for c in evaluate(store, lateness=0) if c.status == "firing"]
    assert fired == [T0 + 12 * HOUR, T0 + 18 * HOUR]  # the surge at hour 14 came inside the cool-down


def test_a_source_scoped_rule_ignores_other_sources(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20, source blogs")
    stream(store, quiet_then_surge(), source="wire")
    stream(store, [10] * 19, source="blogs")
    assert evaluate(store, lateness=0) == []


def test_too_few_events_never_fire(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > 0.5 over 1h, min 50")
    stream(store, quiet_then_surge())
    assert evaluate(store, lateness=0) == []


def test_a_second_worker_with_the_same_rule_revision_records_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20")
    stream(store, quiet_then_surge())
    from textsift.monitor import alerting

    stale = stored_rules(store)[0]  # what a second process read before the first one committed
    assert len(evaluate(store, lateness=0)) == 2
    assert alerting._evaluate_rule(store, stale, T0 + 19 * HOUR, None) == []  # noqa: SLF001
    with store.read() as conn:
        assert conn.exec_driver_sql("select count(*) from alerts").scalar() == 1


def test_webhook_rules_queue_one_message_per_alert_and_status(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20", webhook="http://127.0.0.1:9/hook")
    stream(store, quiet_then_surge())
    evaluate(store, lateness=0)
    with store.read() as conn:
        rows = conn.exec_driver_sql("select status, payload from deliveries order by id").all()
    assert [r[0] for r in rows] == ["firing", "resolved"]
    assert json.loads(rows[0][1])["examples"][0]["text"].startswith("awful news 12")


def test_backtest_reports_every_decided_window_without_recording(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    stream(store, quiet_then_surge())
    decided = backtest(store, "share(negative) > baseline + 3 sigma over 1h, min 20", lateness=0)
    assert [w.start for w, s in decided if s.fired] == [T0 + h * HOUR for h in (12, 13, 14)]
    assert len(decided) == 18  # the last hour is still open
    with store.read() as conn:
        assert conn.exec_driver_sql("select count(*) from alerts").scalar() == 0


def test_removing_a_rule_removes_its_alerts(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    rule_id = add_rule(store, "share(negative) > baseline + 3 sigma over 1h, min 20")
    stream(store, quiet_then_surge())
    evaluate(store, lateness=0)
    remove_rule(store, rule_id)
    with store.read() as conn:
        assert conn.exec_driver_sql("select count(*) from alerts").scalar() == 0
