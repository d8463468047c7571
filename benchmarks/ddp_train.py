"""Training throughput on two processes (DistributedDataParallel, gloo) against one, on this machine (issue 16).

    .venv/bin/python benchmarks/ddp_train.py                      # 2,048 movie-snippets rows, 2 epochs per run
    .venv/bin/python benchmarks/ddp_train.py --rows 256 --epochs 1 # smoke run

Three `textsift train` processes on the same seeded sample, with the same global batch of 32:
  one-2t   one process, batch 32, 2 threads           (what a user runs today on this machine)
  one-1t   one process, batch 32, 1 thread            (the per-process baseline of a scaling efficiency)
  two      --nproc 2, batch 16 per rank, 1 thread each
texts/s is the training rate the loop records (validation and loading excluded), averaged over epochs; wall is
the whole command. Scaling efficiency = two / (2 x one-1t): the figure the HF accelerate blog reports as 85% from
one to two CPU nodes for BERT fine-tuning. On two cores the two ranks share the cores one process already used, so
two / one-2t is bounded near 1. Writes <out>/results.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
RUNS = {"one-2t": ("32", "2", "1"), "one-1t": ("32", "1", "1"), "two": ("16", "1", "2")}  # batch, threads, nproc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/ddp"))
    args = parser.parse_args()
    if not (args.data / "train.csv").is_file():
        subprocess.run([sys.executable, "-m", "textsift", "data", "fetch", "movie-snippets", "--out", str(args.data)],
                       check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    train_file = sample(args.data / "train.csv", args.rows, args.out / "train.csv")
    results: dict[str, Any] = {}
    for name, (batch, threads, nproc) in RUNS.items():
        folder = args.out / name
        command = [sys.executable, "-m", "textsift", "train", str(train_file), "--validation",
                   str(args.data / "validation.csv"), "--out", str(folder), "--epochs", str(args.epochs),
                   "--batch-size", batch, "--num-threads", threads, "--nproc", nproc, "--patience", "100"]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        metrics = json.loads((folder / "metrics.json").read_text())
        rates = [h["texts_per_s"] for h in metrics["history"]]
        results[name] = {"texts_per_s": sum(rates) / len(rates), "wall_s": time.perf_counter() - started,
                         "accuracy": metrics["validation"]["accuracy"], "batch": batch, "threads": threads,
                         "nproc": nproc}
        print(f"{name}: {results[name]['texts_per_s']:.1f} texts/s", file=sys.stderr)
    ratios = {"two / one-2t": results["two"]["texts_per_s"] / results["one-2t"]["texts_per_s"],
              "scaling efficiency two / (2 x one-1t)": results["two"]["texts_per_s"]
              / (2 * results["one-1t"]["texts_per_s"])}
    (args.out / "results.json").write_text(json.dumps({"rows": args.rows, "epochs": args.epochs, "runs": results,
                                                       "ratios": ratios}, indent=2) + "\n")
    show(results, ratios, args)


def sample(source: Path, rows: int, target: Path) -> Path:
    with source.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, table = reader.fieldnames or [], list(reader)
    random.Random(0).shuffle(table)
    with target.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(table[:rows])
    return target


def show(results: dict[str, Any], ratios: dict[str, float], args: argparse.Namespace) -> None:
    print(f"\n{args.rows} rows, {args.epochs} epochs, global batch 32, {os.cpu_count()} cores\n")
    print("| run | processes x threads | batch per process | train texts/s | wall s | validation accuracy |")
    print("|---|---|---|---|---|---|")
    for name, row in results.items():
        print(f"| {name} | {row['nproc']} x {row['threads']} | {row['batch']} | {row['texts_per_s']:.1f} | "
              f"{row['wall_s']:.0f} | {row['accuracy']:.3f} |")
    print()
    for name, value in ratios.items():
        print(f"- {name}: {value:.2f}")


if __name__ == "__main__":
    main()
