"""The one ingest path on the real small models: what is stored for each task, and what is not run twice."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from textsift.errors import TextsiftError
from textsift.monitor.alerting import add_rule
from textsift.monitor.config import IngestConfig
from textsift.monitor.pipeline import Pipeline
from textsift.monitor.queries import recent_alerts
from textsift.monitor.store import Store
from textsift.monitor.stream import Event

T0 = 1_796_083_200


def texts(folder: Path, n: int = 20) -> list[str]:
    with (folder / "test.csv").open() as f:
        return [row["text"] for row in csv.DictReader(f)][:n]


def batch(lines: list[str], source: str = "wire", start: float = T0) -> list[Event]:
    return [Event(f"{start:.0f}-{i}", start + i, source, text) for i, text in enumerate(lines)]


def rows(pipeline: Pipeline, sql: str) -> list[tuple]:
    with pipeline.store.read() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).all()]


def test_a_classifier_stores_its_answer_scores_and_model_version(int8_model: Path, data_dir: Path,
                                                                  tmp_path: Path) -> None:
    pipeline = Pipeline(int8_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db"))
    lines = texts(data_dir)
    added, _ = pipeline.ingest(batch(lines))
    expected = pipeline.predictor.predict(lines)
    stored = rows(pipeline, "select label, labels, value, scores, model, model_version from events order by event_ts")
    assert added.stored == 20 and [r[0] for r in stored] == expected
    assert all(r[1] == f"|{r[0]}|" and r[2] == pytest.approx(max(json.loads(r[3]).values()), abs=1e-6)
               for r in stored)
    assert {r[4] for r in stored} == {int8_model.name} and len(stored[0][5]) == 12


def test_known_events_are_neither_scored_nor_stored_again(int8_model: Path, data_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = Pipeline(int8_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db"))
    events = batch(texts(data_dir))
    pipeline.ingest(events[:12])
    scored: list[int] = []
    original = pipeline.predictor.scores
    monkeypatch.setattr(pipeline.predictor, "scores", lambda items, **kw: scored.append(len(items)) or original(
        items, **kw))
    added, _ = pipeline.ingest(events + events[:3])  # 15 repeats, 8 new
    assert (added.stored, added.duplicates, scored) == (8, 15, [8])


def test_rollups_count_each_label_of_a_multilabel_answer(multilabel_model: Path, debtags_dir: Path,
                                                         tmp_path: Path) -> None:
    pipeline = Pipeline(multilabel_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db", int8=False))
    lines = texts(debtags_dir)
    pipeline.ingest(batch(lines))
    answers = pipeline.predictor.predict(lines)
    hits = dict(rows(pipeline, "select label, hits from rollups where width = 86400"))
    for label in pipeline.predictor.labels:
        assert hits[label] == sum(label in answer for answer in answers)
    assert hits["*"] == 20
    stored = [r[0] for r in rows(pipeline, "select labels from events order by event_ts")]
    assert stored == ["|" + "|".join(a) + "|" for a in answers]


def test_a_regression_model_stores_values_and_a_mean_rule_reads_them(regression_model: Path, data_dir: Path,
                                                                     tmp_path: Path) -> None:
    pipeline = Pipeline(regression_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db", int8=False))
    lines = texts(data_dir)
    pipeline.ingest(batch(lines))
    values = pipeline.predictor.predict(lines)
    [(label, hits, total, n)] = rows(pipeline, "select r.label, r.hits, r.total, a.hits from rollups r join rollups a"
                                               " on a.width = r.width and a.bucket = r.bucket and a.label = '*'"
                                               " where r.width = 86400 and r.label != '*'")
    assert label == pipeline.predictor.labels[0] and hits == 0 and n == 20
    assert total == pytest.approx(sum(values), abs=1e-4)
    stored = [r[0] for r in rows(pipeline, "select value from events order by event_ts")]
    assert stored == pytest.approx(values, abs=1e-5)


def test_a_pair_model_is_refused_with_the_reason(pair_model: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match="one text per event"):
        Pipeline(pair_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db"))


def test_no_store_text_keeps_only_the_hash(int8_model: Path, data_dir: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(int8_model, IngestConfig(db=f"sqlite:///{tmp_path}/m.db", store_text=False))
    pipeline.ingest(batch(texts(data_dir, 3)))
    stored = rows(pipeline, "select text, length(text_hash) from events")
    assert stored == [(None, 64)] * 3


def test_alert_examples_carry_word_attributions_from_the_torch_model(full_model: Path, data_dir: Path,
                                                                      tmp_path: Path) -> None:
    cfg = IngestConfig(db=f"sqlite:///{tmp_path}/m.db", explain_steps=4, lateness_s=0, int8=False)
    pipeline = Pipeline(full_model, cfg)
    label = pipeline.predictor.labels[0]
    add_rule(pipeline.store, f"mean({label}) > -1 over 1h, min 1")  # fires on every window with events
    pipeline.ingest(batch(texts(data_dir, 6)))
    pipeline.ingest(batch(texts(data_dir, 1), start=T0 + 3600))
    pipeline.close(drain=True)  # the words are attributed off the ingest path, then stored in the alert
    (alert,) = recent_alerts(Store(pipeline.cfg.db))
    example = alert["evidence"]["examples"][0]
    assert example["score"] == max(x["score"] for x in alert["evidence"]["examples"]) and example["words"]
    assert " ".join(w for w, _ in example["words"]).replace(" ", "") in example["text"].replace(" ", "")
