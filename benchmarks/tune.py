"""Tune (issue 14): 20 trials of `textsift tune` against the defaults, for the head and the full strategy.

Reproduce (CPU, 2 cores: about an hour per strategy, estimated from the smoke test's rates — each head trial
encodes the 8.4k training texts again, each full trial trains one epoch of 2000; a GPU cuts both to minutes):

    .venv/bin/python benchmarks/tune.py --out benchmarks/out/tune

head: `textsift tune` on the whole movie-snippets training file (validated on its validation file), 20 trials of
    the default head space, against `textsift train --strategy head` with the defaults.
full: the short budget: a seeded sample of 2000 training rows (--full-rows) and one epoch per run (--full-epochs),
    20 trials of the default full space, against `textsift train` (full, defaults) on the same rows and epochs.
Both models of a strategy are scored on the test file no run has seen: accuracy and macro-F1 (the metric every
trial was selected by, on validation). Each command is a `textsift` process timed from start to exit. The study
is resumable: running the script again finishes an interrupted search (--fresh starts over).
Smoke test (8 minutes on 2 cores): --trials 2 --rows 200 --out /tmp/tune-smoke.
Writes <out>/tune.json and a markdown table on stdout; when the defaults score higher on test, the verdict says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MOVIE = Path("data/movie-snippets")


def textsift(*args: str) -> float:
    """Run one textsift command; its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "textsift", *args])
    if done.returncode != 0:
        raise SystemExit(f"textsift {' '.join(args)} failed with exit code {done.returncode}")
    return time.perf_counter() - started


def sample(source: Path, rows: int | None, out: Path, seed: int = 0) -> Path:
    """`rows` training rows drawn with a fixed seed (all of them when None), written as a CSV of their own."""
    with source.open(newline="") as f:
        reader = csv.DictReader(f)
        table, fields = list(reader), list(reader.fieldnames or [])
    if rows is not None and rows < len(table):
        table = random.Random(seed).sample(table, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(table)
    return out


def test_scores(model: Path) -> dict[str, float]:
    from textsift import evaluate

    metrics = evaluate(model, MOVIE / "test.csv", out=model / "eval" / "test")
    return {"accuracy": round(float(metrics["accuracy"]), 4), "macro_f1": round(float(metrics["macro"]["f1"]), 4)}


def validation_f1(model: Path) -> float:
    return round(float(json.loads((model / "metrics.json").read_text())["validation"]["macro"]["f1"]), 4)


def compare(strategy: str, rows: int | None, epochs: int | None, trials: int, out: Path, threads: str,
            earlier: dict[str, Any]) -> dict[str, Any]:
    """Defaults and the tuned best of one strategy on the same rows and epochs; a finished part is reused."""
    train = sample(MOVIE / "train.csv", rows, out / "data" / f"{strategy}-train.csv")
    common = [str(train), "--validation", str(MOVIE / "validation.csv"), "--strategy", strategy,
              "--num-threads", threads, *(["--epochs", str(epochs)] if epochs else [])]
    defaults, search = out / f"{strategy}-defaults", out / f"{strategy}-tune"
    budget = [rows, epochs, trials]
    row: dict[str, Any] = dict(earlier) if earlier.get("budget") == budget else {}
    # The budget the folders were made with is written before any run, so an interrupted run resumes them; only
    # another budget (other data, other trials) starts them again.
    marker = out / f"{strategy}-budget.json"
    if marker.is_file() and json.loads(marker.read_text()) != budget:
        for folder in (defaults, search):
            shutil.rmtree(folder, ignore_errors=True)
    marker.write_text(json.dumps(budget) + "\n")
    row.update(strategy=strategy, budget=budget, rows=sum(1 for _ in train.open()) - 1, epochs=epochs, trials=trials)
    if "defaults_seconds" not in row or not (defaults / "textsift.json").is_file():
        row["defaults_seconds"] = round(textsift("train", *common, "--out", str(defaults)), 1)
    if "tune_seconds" not in row or not (search / "best" / "textsift.json").is_file():
        # An interrupted search resumes here: the study in <search>/study.db keeps the finished trials.
        row["tune_seconds"] = round(textsift("tune", *common, "--trials", str(trials), "--out", str(search)), 1)
    summary = json.loads((search / "tune.json").read_text())
    states = [trial["state"] for trial in summary["trials"]]
    row.update(defaults_validation_f1=validation_f1(defaults), best_validation_f1=round(summary["best"]["value"], 4),
               best_trial=summary["best"]["trial"], best_params=summary["best"]["params"],
               complete=states.count("complete"), pruned=states.count("pruned"),
               defaults_test=test_scores(defaults), best_test=test_scores(search / "best"),
               importance=summary["importance"])
    return row


def show(rows: list[dict[str, Any]]) -> None:
    print("| strategy | rows | epochs | trials (complete/pruned) | defaults val F1 | best val F1 | defaults test acc "
          "| best test acc | Δ acc (pts) | defaults test F1 | best test F1 | best params | defaults s | tune s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["best_params"].items())
        delta = 100 * (r["best_test"]["accuracy"] - r["defaults_test"]["accuracy"])
        print(f"| {r['strategy']} | {r['rows']} | {r['epochs'] or 'default'} | {r['trials']} ({r['complete']}/"
              f"{r['pruned']}) | {r['defaults_validation_f1']:.4f} | {r['best_validation_f1']:.4f} | "
              f"{r['defaults_test']['accuracy']:.4f} | {r['best_test']['accuracy']:.4f} | {delta:+.2f} | "
              f"{r['defaults_test']['macro_f1']:.4f} | {r['best_test']['macro_f1']:.4f} | {params} | "
              f"{r['defaults_seconds']:.0f} | {r['tune_seconds']:.0f} |")
    for r in rows:
        winner = "the tuned best" if r["best_test"]["accuracy"] > r["defaults_test"]["accuracy"] else "the defaults"
        print(f"\n{r['strategy']}: {winner} score higher on test accuracy "
              f"({r['best_test']['accuracy']:.4f} tuned vs {r['defaults_test']['accuracy']:.4f} defaults), "
              f"for {r['tune_seconds'] / r['defaults_seconds']:.1f}x the defaults' wall time.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/tune"))
    parser.add_argument("--strategies", nargs="+", default=["head", "full"], choices=["head", "full"])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--full-rows", type=int, default=2000, help="training rows of the full strategy's budget")
    parser.add_argument("--full-epochs", type=int, default=1, help="epochs per full run (the short budget)")
    parser.add_argument("--rows", type=int, help="training rows for every strategy (a smoke test: --rows 200)")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--fresh", action="store_true", help="remove <out> first and run everything again")
    args = parser.parse_args()
    if args.fresh and args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    if not (MOVIE / "train.csv").is_file():
        textsift("data", "fetch", "movie-snippets", "--out", str(MOVIE))
    result_file = args.out / "tune.json"
    results = json.loads(result_file.read_text()) if result_file.is_file() else {}
    budgets = {"head": (args.rows, None), "full": (args.rows or args.full_rows, args.full_epochs)}
    for strategy in args.strategies:
        rows, epochs = budgets[strategy]
        results[strategy] = compare(strategy, rows, epochs, args.trials, args.out, args.threads,
                                    results.get(strategy, {}))
        result_file.write_text(json.dumps(results, indent=2) + "\n")
    show([results[s] for s in args.strategies])


if __name__ == "__main__":
    main()
