"""textsift's own models on the issue-11 tasks, and each task's int8 export against its torch model.

Reproduce (CPU; after `benchmarks/real_datasets.py` has built the two real sets and `textsift data fetch`
movie-snippets; about 25 minutes on 2 cores):

    .venv/bin/python benchmarks/task_models.py --models benchmarks/out/task-models

multilabel: `textsift train ML/train.csv --validation ML/validation.csv --task multi-label --label-sep ';'`
    (full fine-tuning, defaults otherwise), then `textsift evaluate` on ML/test.csv: micro-F1 with the
    per-label thresholds tuned on validation, and at a flat 0.5 (the same model's probabilities).
pairs: `textsift train PAIRS/train.csv --validation PAIRS/validation.csv --task pair --text-column question
    --text-pair-column answer` (full), then for each test question of PAIRS/test.jsonl the probability of "match"
    for its 10 candidates (`textsift rank`'s score): recall@1 and MRR, ties counted against the true answer as in
    real_baselines.py.
speed: each task's model (the two above, and the regression model of regression_valence.py when --regression is
    given) exported with `textsift export --quantize int8`; texts (pairs) per second of `predict` over the same
    512 inputs (batches of 64), torch first, int8 second, one warm-up call each; the parity the export recorded.
Writes benchmarks/out/task_models.json and markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ML_DATA, PAIR_DATA = Path("benchmarks/out/multilabel"), Path("benchmarks/out/pairs")


def textsift(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "textsift", *args], check=True)


def train_once(out: Path, *args: str) -> Path:
    if not (out / "textsift.json").is_file():
        textsift("train", *args, "--out", str(out))
    return out


def multilabel(models: Path, flags: list[str]) -> dict[str, Any]:
    model = train_once(models / "multilabel", str(ML_DATA / "train.csv"), "--validation",
                       str(ML_DATA / "validation.csv"), "--task", "multi-label", "--label-sep", ";", *flags)
    textsift("evaluate", str(model), str(ML_DATA / "test.csv"))
    metrics = json.loads((model / "eval" / "test" / "metrics.json").read_text())
    return {"micro_f1_tuned": metrics["micro"]["f1"], "micro_f1_flat_0.5": metrics["micro_f1_at_0.5"],
            "macro_f1_tuned": metrics["macro"]["f1"], "n": metrics["n"], "labels": len(metrics["labels"])}


def pairs(models: Path, flags: list[str]) -> dict[str, Any]:
    from textsift import load

    model = train_once(models / "pairs", str(PAIR_DATA / "train.csv"), "--validation",
                       str(PAIR_DATA / "validation.csv"), "--task", "pair", "--text-column", "question",
                       "--text-pair-column", "answer", *flags)
    predictor = load(model)
    column = predictor.task.rank_column(predictor.settings)
    rows = [json.loads(line) for line in (PAIR_DATA / "test.jsonl").read_text().splitlines()]
    ranks = []
    for row in rows:
        scores = predictor.scores([(row["query"], c) for c in row["candidates"]])[:, column]
        true = scores[row["answer_index"]]
        ranks.append(1 + int((np.delete(scores, row["answer_index"]) >= true).sum()))  # ties count against it
    ranks_arr = np.array(ranks)
    return {"recall_at_1": float((ranks_arr == 1).mean()), "mrr": float((1 / ranks_arr).mean()), "queries": len(rows)}


def speed(model: Path, inputs: list[Any]) -> dict[str, Any]:
    from textsift import load

    int8 = model.parent / f"{model.name}-int8"
    if not (int8 / "textsift.json").is_file():
        textsift("export", str(model), "--out", str(int8), "--quantize", "int8")
    rates = {}
    for name, folder in (("torch", model), ("int8", int8)):
        predictor = load(folder)
        predictor.scores(inputs[:8])
        started = time.perf_counter()
        predictor.scores(inputs, 64)
        rates[name] = len(inputs) / (time.perf_counter() - started)
    parity = load(int8).settings.parity or {}
    return {"torch_per_s": rates["torch"], "int8_per_s": rates["int8"], "speedup": rates["int8"] / rates["torch"],
            "int8_max_abs_logit_diff": parity["int8"]["max_abs_logit_diff"],
            "int8_agreement": parity["int8"]["label_agreement"], "parity_sample": parity["sample"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("benchmarks/out/task-models"))
    parser.add_argument("--regression", type=Path, default=None, help="a regression model folder to time as well")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/task_models.json"))
    parser.add_argument("--multilabel-flags", default="", help="extra `textsift train` flags, e.g. '--strategy head'")
    parser.add_argument("--pair-flags", default="", help="extra `textsift train` flags, e.g. '--epochs 8'")
    parser.add_argument("--no-speed", action="store_true", help="skip the export speed part")
    args = parser.parse_args()
    from textsift.config import DataConfig
    from textsift.data.io import read_table

    results: dict[str, Any] = {"multilabel": multilabel(args.models, args.multilabel_flags.split()),
                               "pairs": pairs(args.models, args.pair_flags.split()),
                               "flags": {"multilabel": args.multilabel_flags, "pairs": args.pair_flags}}
    if args.no_speed:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return
    texts = read_table(ML_DATA / "test.csv", require_labels=False).texts[:512]
    pair_inputs = read_table(PAIR_DATA / "validation.csv", DataConfig(text_column="question",
                                                                      text_pair_column="answer")).inputs
    results["speed"] = {"multi-label": speed(args.models / "multilabel", texts),
                        "pair": speed(args.models / "pairs", (pair_inputs * 4)[:512])}
    if args.regression is not None:
        snippets = read_table(Path("benchmarks/out/movie-snippets/test.csv"), require_labels=False).texts[:512]
        results["speed"]["regression"] = speed(args.regression, snippets)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
