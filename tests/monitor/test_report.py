"""`textsift monitor report`: one self-contained HTML file over a range of the stream."""

from __future__ import annotations

import base64
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.surges import START, THRESHOLD_RULE, planted, texts_by_answer
from textsift import load
from textsift.errors import TextsiftError
from textsift.monitor.alerting import add_rule
from textsift.monitor.config import IngestConfig, MonitorReportConfig
from textsift.monitor.pipeline import Pipeline
from textsift.monitor.report import write_report
from textsift.monitor.store import Store
from textsift.monitor.stream import parse


@pytest.fixture(scope="module")
def stream(int8_model: Path, data_dir: Path) -> list[dict[str, Any]]:
    """The planted surge on 'reviews' (THRESHOLD_RULE fires on hour 1) and three quiet 'support' events."""
    texts = texts_by_answer(int8_model, data_dir)
    support = [{"id": f"s{i}", "ts": START + 600 * i, "source": "support", "text": texts["positive"][i]}
               for i in range(3)]
    return planted(texts) + support


@pytest.fixture(scope="module")
def db(int8_model: Path, stream: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'monitor.db'}"
    pipeline = Pipeline(int8_model, IngestConfig(db=url, explain_steps=2))
    add_rule(pipeline.store, THRESHOLD_RULE)
    pipeline.ingest([parse(row, "test", i + 1, "default") for i, row in enumerate(stream)])
    pipeline.close(drain=True)  # the alert's words are attributed off the ingest path
    return url


def report_of(db: str, out: Path, **settings: Any) -> str:
    path = write_report(MonitorReportConfig(db=db, out=out, **settings))
    assert path == out
    return out.read_text(encoding="utf-8")


def table_rows(page: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table class="numbers" id="{table_id}">(.*?)</table>', page, re.S)
    assert table, table_id
    return [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table[1], re.S)
            if "<td>" in row]


def test_report_is_one_self_contained_file(db: str, tmp_path: Path) -> None:
    page = report_of(db, tmp_path / "report.html")
    (uri,) = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert base64.b64decode(uri).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # written by rename: no temporary left


def test_report_lists_the_alert_with_its_highlighted_examples(db: str, tmp_path: Path) -> None:
    page = report_of(db, tmp_path / "report.html")
    assert 'id="alert-1"' in page and "share(negative) &gt; 0.5 over 1h, min 5" in page
    assert "2026-03-01T01:00:00Z – 2026-03-01T02:00:00Z" in page
    examples = re.search(r'<ol class="examples">(.*?)</ol>', page, re.S)
    assert examples and examples[1].count("<li>") == 3 and "<mark style=" in examples[1]


def test_report_label_table_counts_the_model_answers(db: str, stream: list[dict[str, Any]], int8_model: Path,
                                                     tmp_path: Path) -> None:
    answers = Counter(load(int8_model).predict([row["text"] for row in stream]))
    rows = {row[0]: row for row in table_rows(report_of(db, tmp_path / "report.html"), "labels")}
    assert int(rows["negative"][1]) == answers["negative"] == 6
    assert int(rows["positive"][1]) == answers["positive"] == len(stream) - 6
    assert rows["negative"][2] == f"{6 / len(stream):.3f}"


def test_report_totals_the_volume_per_source(db: str, stream: list[dict[str, Any]], tmp_path: Path) -> None:
    page = report_of(db, tmp_path / "report.html")
    assert table_rows(page, "volume")[0] == [str(len(stream))]
    assert table_rows(page, "sources") == [["reviews", str(len(stream) - 3)], ["support", "3"]]


def test_report_of_one_source_counts_only_its_events(db: str, tmp_path: Path) -> None:
    page = report_of(db, tmp_path / "report.html", source="support")
    assert table_rows(page, "volume")[0] == ["3"]
    assert 'id="sources"' not in page
    assert 'id="alert-1"' in page  # a rule over all sources watches every source


def test_report_range_counts_back_from_the_latest_event(db: str, tmp_path: Path) -> None:
    # The latest event is 2 min into hour 2, the one before it 10 min before hour 2: the last 10 min hold it alone.
    page = report_of(db, tmp_path / "report.html", since="10m")
    assert table_rows(page, "volume")[0] == ["1"]
    assert "2026-03-01T02:02:00Z (its latest event)" in page


def test_report_of_an_empty_store_says_no_events_yet(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    Store(db).close()
    page = report_of(db, tmp_path / "report.html")
    assert 'id="no-events"' in page and 'id="no-alerts"' in page
    assert "data:image/png;base64," in page


def test_report_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="monitor init"):
        write_report(MonitorReportConfig(db=f"sqlite:///{tmp_path / 'none.db'}", out=tmp_path / "report.html"))
    assert not (tmp_path / "report.html").exists()


def test_a_malformed_range_is_refused_before_anything_is_written(db: str, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="not a duration"):
        write_report(MonitorReportConfig(db=db, out=tmp_path / "report.html", since="week"))
    assert list(tmp_path.iterdir()) == []
