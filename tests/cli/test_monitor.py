"""`textsift monitor …` in-process: the verbs a user types, their output, and one-line errors with exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

T0 = 1_796_083_200
RULE = "share(negative) > baseline + 3 sigma over 1h, min 10"


def surge_stream(model: Path, data_dir: Path, path: Path) -> Path:
    """20 hours of 12 real snippets each: a quarter of them ones the model calls negative, three quarters in hour
    16 (split by the model's own answers, so the surge is one it can see however well it was trained)."""
    from textsift import load

    with (data_dir / "train.csv").open() as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    answers = load(model).predict(texts)
    negative = [t for t, a in zip(texts, answers, strict=True) if a == "negative"]
    positive = [t for t, a in zip(texts, answers, strict=True) if a == "positive"]
    with path.open("w") as f:
        for hour in range(20):
            bad = 9 if hour == 16 else 3
            for k in range(12):
                pool, i = (negative, k) if k < bad else (positive, hour * 12 + k)
                f.write(json.dumps({"id": f"{hour}-{k}", "ts": T0 + hour * 3600 + k * 300,
                                    "text": pool[(hour * 12 + i) % len(pool)]}) + "\n")
    return path


def test_init_rules_ingest_and_alerts_show_the_planted_surge(monkeypatch: pytest.MonkeyPatch, int8_model: Path,
                                                             data_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path}/m.db"
    events = surge_stream(int8_model, data_dir, tmp_path / "news.jsonl")
    assert run_cli(monkeypatch, "monitor", "init", "--db", db) == 0
    assert run_cli(monkeypatch, "monitor", "rules", "add", RULE, "--db", db) == 0
    assert run_cli(monkeypatch, "monitor", "ingest", str(int8_model), str(events), "--db", db, "--source", "wire",
                   "--deliver-timeout-s", "0") == 0
    assert "stored 240, already stored 0" in capsys.readouterr().out
    assert run_cli(monkeypatch, "monitor", "alerts", "--db", db, "--since", "1h") == 0
    out = capsys.readouterr().out
    assert "window 2026-12-01T16:00:00Z .. 2026-12-01T17:00:00Z" in out and "1 alert(s)" in out
    assert run_cli(monkeypatch, "monitor", "rules", "list", "--db", db) == 0
    assert "evaluated until 2026-12-01T19:00:00Z" in capsys.readouterr().out


def test_ingesting_the_same_file_again_stores_nothing(monkeypatch: pytest.MonkeyPatch, int8_model: Path,
                                                      data_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path}/m.db"
    events = surge_stream(int8_model, data_dir, tmp_path / "news.jsonl")
    for _ in range(2):
        assert run_cli(monkeypatch, "monitor", "ingest", str(int8_model), str(events), "--db", db) == 0
    assert "stored 0, already stored 240" in capsys.readouterr().out


def test_rules_test_prints_the_windows_that_fire_and_remove_drops_a_rule(
        monkeypatch: pytest.MonkeyPatch, int8_model: Path, data_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path}/m.db"
    events = surge_stream(int8_model, data_dir, tmp_path / "n.jsonl")
    run_cli(monkeypatch, "monitor", "ingest", str(int8_model), str(events), "--db", db)
    capsys.readouterr()
    assert run_cli(monkeypatch, "monitor", "rules", "test", RULE, "--db", db) == 0
    out = capsys.readouterr().out
    assert "2026-12-01T16:00:00Z\tfires" in out and "1 of 19 windows fire" in out
    run_cli(monkeypatch, "monitor", "rules", "add", RULE, "--db", db)
    assert run_cli(monkeypatch, "monitor", "rules", "remove", "1", "--db", db) == 0
    capsys.readouterr()
    run_cli(monkeypatch, "monitor", "rules", "list", "--db", db)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("argv", "says"), [
    (["monitor", "rules", "add", "share(negative) > lots over 1h"], "unknown bound"),
    (["monitor", "rules", "add", RULE, "--webhook", "ftp://x"], "not an http(s) URL"),
    (["monitor", "rules", "remove", "7"], "no rule 7"),
    (["monitor", "alerts", "--since", "yesterday"], "not a duration"),
    (["monitor", "init", "--db", "mysql://x/y"], "stores to sqlite"),
])
def test_monitor_usage_errors_are_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str], argv: list[str],
                                                      says: str) -> None:
    run_cli(monkeypatch, "monitor", "init", "--db", f"sqlite:///{tmp_path}/m.db")
    db = ["--db", f"sqlite:///{tmp_path}/m.db"] if "--db" not in argv else []
    capsys.readouterr()
    assert run_cli(monkeypatch, *argv, *db) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_bad_event_line_stops_ingest_with_file_and_line(monkeypatch: pytest.MonkeyPatch, int8_model: Path,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "e.jsonl").write_text('{"text": "fine"}\n{"text": "late", "ts": "soon"}\n')
    assert run_cli(monkeypatch, "monitor", "ingest", str(int8_model), str(tmp_path / "e.jsonl"),
                   "--db", f"sqlite:///{tmp_path}/m.db") == 2
    lines = capsys.readouterr().err.strip().splitlines()  # the progress bar's lines, then the error
    assert "e.jsonl:2: ts 'soon' is neither" in lines[-1] and sum(line.startswith("error") for line in lines) == 1


def test_ingest_given_a_torch_folder_scores_with_its_int8_export_and_says_so(
        monkeypatch: pytest.MonkeyPatch, full_model: Path, int8_model: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.monitor.test_models import export_of, linked

    torch = linked(full_model, tmp_path / "models" / "reviews")
    beside = export_of(int8_model, torch, tmp_path / "models" / "reviews-int8")
    (tmp_path / "e.jsonl").write_text('{"id": "1", "text": "a fine, warm film"}\n')
    assert run_cli(monkeypatch, "monitor", "ingest", str(torch), str(tmp_path / "e.jsonl"),
                   "--db", f"sqlite:///{tmp_path}/m.db", "--deliver-timeout-s", "0") == 0
    assert f"scored with {beside} (int8 ONNX export of {torch}, found beside it)" in capsys.readouterr().out
