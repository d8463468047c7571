"""`rank`: order candidate texts by how well each goes with a query, with a pair model (textsift rank, /v1/rank).

A pair classifier ranks by the probability of its relevant class, a pair regressor by its predicted value (the
task's `rank_column`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from textsift.config import DataConfig, RankConfig
from textsift.data.io import read_lines, read_table
from textsift.errors import DataError, TextsiftError
from textsift.inference.load import load
from textsift.modeling.settings import ModelSettings


def rank(
    model_dir: Path | str,
    query: str,
    candidates: Path | str | None = None,
    *,
    top: int = RankConfig.top,
    column: str | None = RankConfig.column,
    batch_size: int = RankConfig.batch_size,
    device: str = RankConfig.device,
) -> list[dict[str, Any]]:
    """The `top` candidates (a CSV/TSV/JSONL/Parquet file, or stdin lines when None) best matching `query`, best
    first, each with its score and the line it came from; printed to stdout as JSON lines."""
    if not query.strip():
        raise TextsiftError("the query is empty; pass the text to rank candidates for")
    model = load(model_dir, device)
    if not model.task.pairs:
        raise TextsiftError(f"{model_dir} is a {model.settings.task} model; ranking needs a pair model (train one "
                            "with --task pair or pair-regression)")
    texts, lines = _candidates(model.settings, candidates, column)
    scores = model.scores([(query, text) for text in texts], batch_size)[:, model.task.rank_column(model.settings)]
    order = sorted(range(len(texts)), key=lambda i: -scores[i])[:top]
    rows = [{"rank": r + 1, "score": round(float(scores[i]), 6), "line": lines[i], "candidate": texts[i]}
            for r, i in enumerate(order)]
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return rows


def _candidates(settings: ModelSettings, path: Path | str | None, column: str | None) -> tuple[list[str], list[int]]:
    """Candidate texts and their lines: the file's `column` (default the model's second-text column when the
    file has it, else `text`), or stdin lines."""
    if path is None:
        texts = read_lines(sys.stdin)
        return texts, list(range(1, len(texts) + 1))
    trained = settings.data_columns().text_pair_column
    if column is None and trained:
        try:
            table = read_table(path, DataConfig(text_column=trained), require_labels=False)
            return table.texts, table.lines
        except DataError as e:
            # Only a file without that column falls back to `text`; any other problem is the user's to see.
            if f"no column {trained!r}" not in str(e) and f"no key {trained!r}" not in str(e):
                raise
    table = read_table(path, DataConfig(text_column=column or "text"), require_labels=False)
    return table.texts, table.lines
