"""The demo stream: seeded, in time order, with the surge planted where its plan says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textsift.errors import TextsiftError
from textsift.monitor.demo import Plan, build_stream, check
from textsift.monitor.stream import events


def test_the_stream_is_seeded_time_ordered_and_holds_the_planted_surge(data_dir: Path, tmp_path: Path) -> None:
    plan = build_stream(data_dir / "test.csv", tmp_path / "s.jsonl", Plan(days=2, surge_hour=30))
    again = build_stream(data_dir / "test.csv", tmp_path / "t.jsonl", Plan(days=2, surge_hour=30))
    assert (tmp_path / "s.jsonl").read_text() == (tmp_path / "t.jsonl").read_text()
    stream = list(events(tmp_path / "s.jsonl", source="x"))
    assert len(stream) == plan["events"] == again["events"]
    assert [e.ts for e in stream] == sorted(e.ts for e in stream)
    assert plan["true_share_in_surge"] > 2 * plan["true_share_outside_surge"]
    assert plan["surge_start"] == "2026-01-06T06:00:00Z"


def test_check_fails_without_an_alert_inside_the_surge(data_dir: Path, tmp_path: Path) -> None:
    build_stream(data_dir / "test.csv", tmp_path / "s.jsonl", Plan(days=2, surge_hour=30))
    plan = json.loads((tmp_path / "s.plan.json").read_text())
    (tmp_path / "hook.jsonl").write_text("")
    with pytest.raises(TextsiftError, match="no alert reached the webhook"):
        check(tmp_path / "s.plan.json", tmp_path / "hook.jsonl")
    message = {"alert_id": 1, "status": "firing", "rule_id": 1, "rule": "r", "window_start": "w", "window_end": "e",
               "value": 0.7, "volume": 40, "window_start_ts": plan["surge_start_ts"],
               "window_end_ts": plan["surge_start_ts"] + 3600}
    (tmp_path / "hook.jsonl").write_text(json.dumps(message) + "\n")
    assert check(tmp_path / "s.plan.json", tmp_path / "hook.jsonl")[-1].startswith("OK: the surge fired alert 1")
