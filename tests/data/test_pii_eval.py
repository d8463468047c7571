"""The PII evaluation set (tests/data/pii-eval) is well formed; benchmarks/pii_quality.py scores detectors on it."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

EVAL_FILE = Path(__file__).parent / "pii-eval" / "pii_eval.jsonl"
TYPES = {"email", "phone", "url", "ip", "card", "iban", "ssn"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    lines = EVAL_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_every_line_is_an_object_with_text_spans_and_note(rows: list[dict]) -> None:
    for n, row in enumerate(rows, start=1):
        assert set(row) == {"text", "spans", "note"}, n
        assert isinstance(row["text"], str) and row["text"].strip(), n
        assert isinstance(row["note"], str) and row["note"], n
        assert isinstance(row["spans"], list), n


def test_spans_lie_inside_the_text_do_not_overlap_and_have_known_types(rows: list[dict]) -> None:
    for n, row in enumerate(rows, start=1):
        spans = sorted(row["spans"], key=lambda s: s["start"])
        for span in spans:
            assert set(span) == {"start", "end", "type"}, n
            assert span["type"] in TYPES, n
            assert 0 <= span["start"] < span["end"] <= len(row["text"]), n
            value = row["text"][span["start"]:span["end"]]
            assert value == value.strip(), n  # gold spans carry no surrounding whitespace
        for left, right in pairwise(spans):
            assert left["end"] <= right["start"], n


def test_the_set_is_large_enough_for_per_type_scores(rows: list[dict]) -> None:
    per_type = Counter(span["type"] for row in rows for span in row["spans"])
    assert len(rows) >= 300
    assert {kind: per_type[kind] for kind in TYPES if per_type[kind] < 25} == {}
    assert sum(1 for row in rows if not row["spans"]) >= 100


def test_texts_are_not_repeated(rows: list[dict]) -> None:
    repeated = [text for text, count in Counter(row["text"] for row in rows).items() if count > 1]
    assert repeated == []
