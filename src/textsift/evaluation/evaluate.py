"""`evaluate`: score a model folder on labelled files; metrics.json, a table and the task's plots (confusion
matrix; per-label scores and threshold curve; predicted-vs-true scatter) per file, and with several files one
table comparing them."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textsift import files
from textsift.config import DataConfig, EvaluateConfig
from textsift.data.checks import warn_duplicates
from textsift.data.io import Table, read_table
from textsift.evaluation.display import print_comparison
from textsift.inference.load import load
from textsift.inference.predictor import Predictor
from textsift.modeling.settings import ModelSettings

log = logging.getLogger("textsift")


def evaluate(
    model_dir: Path | str,
    data_file: Path | str,
    out: Path | str | None = EvaluateConfig.out,
    data: DataConfig | None = None,
    batch_size: int = EvaluateConfig.batch_size,
    device: str = EvaluateConfig.device,
) -> dict[str, Any]:
    """Evaluate a model folder on a labelled file; writes metrics.json and the task's plots into `out`.

    `out` defaults to `<model_dir>/eval/<data file stem>/`; columns left at their defaults are those the model was
    trained with; the options are those of `EvaluateConfig`.
    """
    out = Path(out) if out is not None else Path(model_dir) / "eval" / Path(data_file).stem
    classifier = load(model_dir, device)
    metrics, written = _score(classifier, data_file, out, data, batch_size)
    classifier.task.print_metrics(metrics)
    log.info("wrote %s", ", ".join(map(str, written)))
    return metrics


def evaluate_files(
    model_dir: Path | str,
    data_files: Sequence[Path | str],
    out: Path | str | None = EvaluateConfig.out,
    data: DataConfig | None = None,
    batch_size: int = EvaluateConfig.batch_size,
    device: str = EvaluateConfig.device,
) -> dict[str, dict[str, Any]]:
    """Evaluate a model folder on several labelled files; returns {file as given: its metrics}.

    Each file gets its metrics.json and plots in `<out or model_dir/eval>/<name>/`, where the name is the file's
    stem, or `<parent folder>-<stem>` when two files share a stem (movie/test.csv, amazon/test.csv); one table
    compares the files. With one file this is `evaluate` exactly: its folder is `out` itself and its own table.
    """
    unique = list(dict.fromkeys(str(f) for f in data_files))  # a file named twice is scored once
    if len(unique) == 1:
        return {unique[0]: evaluate(model_dir, unique[0], out, data, batch_size, device)}
    base = Path(out) if out is not None else Path(model_dir) / "eval"
    names = folder_names([Path(f) for f in unique])
    classifier = load(model_dir, device)  # loaded once: the weights cost more than scoring a small file
    results, written = {}, []
    for data_file, name in zip(unique, names, strict=True):
        results[data_file], paths = _score(classifier, data_file, base / name, data, batch_size)
        written += paths
    print_comparison(str(model_dir), dict(zip(names, results.values(), strict=True)))
    log.info("wrote %s", ", ".join(map(str, written)))
    return results


def folder_names(paths: Sequence[Path]) -> list[str]:
    """One distinct output folder name per file: the stem, the parent folder's name and the stem where stems
    collide, and a running number where even those collide (test.csv and test.jsonl side by side)."""
    stems = Counter(p.stem for p in paths)
    names = [f"{p.parent.name}-{p.stem}" if stems[p.stem] > 1 and p.parent.name else p.stem for p in paths]
    counts, seen = Counter(names), Counter[str]()
    numbered = []
    for name in names:
        seen[name] += 1
        numbered.append(f"{name}-{seen[name]}" if counts[name] > 1 else name)
    return numbered


def _score(classifier: Predictor, data_file: Path | str, out: Path, data: DataConfig | None,
           batch_size: int) -> tuple[dict[str, Any], list[Path]]:
    """Metrics of one file and the files written (metrics.json, the task's plots) into `out`."""
    settings, task = classifier.settings, classifier.task
    table = read_table(data_file, settings.data_columns(data))
    files.writable_dir(out)
    warn_if_seen_in_training(settings, table)
    y = task.targets(table, settings)
    scores = classifier.scores(table.inputs, batch_size)
    metrics = {**task.metrics(y, scores, settings), "task": task.name, "data_file": str(data_file)}
    files.write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics, [out / "metrics.json", *task.plot(metrics, y, scores, out)]


def warn_if_seen_in_training(settings: ModelSettings, table: Table) -> None:
    """Test rows that were also training rows inflate scores; warn with their lines when the train file is at hand."""
    train = settings.data.get("train")
    if train is not None and Path(train.file).is_file():
        warn_duplicates(read_table(train.file, settings.data_columns(), require_labels=False), table)
