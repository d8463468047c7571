"""Batch inference with Dask: the recipe (examples/dask_predict.py) on 2 workers x 1 thread vs one `predict` process
with 2 threads, over the same N rows; texts/s of each and the ratio, measured in the same run.

    .venv/bin/python benchmarks/dask_predict.py                    # 200,000 rows
    .venv/bin/python benchmarks/dask_predict.py --rows 2000        # a quick look

The file: N texts drawn with a fixed seed from the built-in movie snippets (data/movie-snippets, all three splits,
fetched when missing), written once to --work/rows-N.csv. (a) One process, as `textsift predict` runs: the model
loaded once with `load(model, num_threads=--threads)`, `scores` over chunks of --chunk rows, predict's flat CSV rows
(textsift.inference.outputs) written with csv; in a child process of its own, timed from before the load to the
file closed. (b) The recipe: a LocalCluster of --workers processes x 1 thread, started before the clock (its start
is reported apart), then `predict_table` over --partitions partitions, timed from the call to the last part
written; this includes each worker's import of torch and its one model load, as (a) includes its own. The labels
of (a) and (b) are compared row by row. Writes benchmarks/out/dask_predict.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from clean_throughput import snippets  # the throughput benchmark beside this one (benchmarks/ is on sys.path)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dask_predict.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"), help="model folder")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2, help="(b): worker processes, 1 thread each")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="(a): the one process's threads")
    parser.add_argument("--partitions", type=int, default=16, help="(b): about this many CSV blocks")
    parser.add_argument("--chunk", type=int, default=10_000, help="(a): rows per `scores` call")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/dask_predict"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/dask_predict.json"))
    parser.add_argument("--one-process", type=Path, help=argparse.SUPPRESS)  # the child of (a): its input
    args = parser.parse_args()
    if args.one_process:
        print(json.dumps(one_process(args, args.one_process, args.work / "one-process.csv")))
        return
    rows = write_rows(args.rows, args.work)
    cmd = [sys.executable, __file__, "--one-process", str(rows), "--model", str(args.model), "--work", str(args.work),
           "--threads", str(args.threads), "--chunk", str(args.chunk), "--batch-size", str(args.batch_size)]
    one = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    print(f"(a) one process: {json.dumps(one)}", flush=True)
    recipe = with_dask(args, rows, args.work / "dask")
    print(f"(b) Dask recipe: {json.dumps(recipe)}", flush=True)
    agree = agreement(read_labels([args.work / "one-process.csv"]),
                      read_labels(sorted((args.work / "dask").glob("part-*.csv"))))
    results = {"rows": args.rows, "one_process": one, "dask": recipe, "labels_agree": agree,
               "load_average_1m": os.getloadavg()[0]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(args, results)


def write_rows(n: int, work: Path) -> Path:
    """N real texts, drawn with replacement (seed 0) from the built-in snippets; written once per N."""
    path = work / f"rows-{n}.csv"
    if not path.is_file():
        rng = random.Random(0)
        pool = snippets()
        work.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text"])
            writer.writerows([rng.choice(pool)] for _ in range(n))
    return path


def one_process(args: argparse.Namespace, rows: Path, out: Path) -> dict[str, Any]:
    """(a): what `textsift predict` does with a big file, in chunks so that memory stays flat."""
    from textsift.inference.load import load
    from textsift.inference.outputs import flat_columns, flat_row

    start = time.perf_counter()
    classifier = load(args.model, "cpu", num_threads=args.threads)
    loaded = time.perf_counter() - start
    n = 0
    with rows.open(newline="", encoding="utf-8") as f, out.open("w", newline="", encoding="utf-8") as g:
        writer = csv.DictWriter(g, flat_columns(classifier))
        writer.writeheader()
        reader = csv.DictReader(f)
        while chunk := [row["text"] for row in itertools.islice(reader, args.chunk)]:
            scores = classifier.scores(chunk, args.batch_size)
            writer.writerows(flat_row(classifier, text, row) for text, row in zip(chunk, scores, strict=True))
            n += len(chunk)
    seconds = time.perf_counter() - start
    return {"threads": args.threads, "seconds": seconds, "load_seconds": loaded, "texts_per_s": n / seconds}


def with_dask(args: argparse.Namespace, rows: Path, out: Path) -> dict[str, Any]:
    """(b): the example's own `predict_table` on a fresh local cluster."""
    from dask.distributed import Client, LocalCluster

    shutil.rmtree(out, ignore_errors=True)
    recipe = example()
    blocksize = max(1, math.ceil(rows.stat().st_size / args.partitions))
    start = time.perf_counter()
    with (LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
          Client(cluster)):
        started = time.perf_counter() - start
        start = time.perf_counter()
        recipe.predict_table(args.model, rows, out, blocksize=blocksize, num_threads=1)
        seconds = time.perf_counter() - start
    parts = len(list(out.glob("part-*.csv")))
    return {"workers": args.workers, "partitions": parts, "cluster_start_seconds": started, "seconds": seconds,
            "texts_per_s": args.rows / seconds}


def example() -> ModuleType:
    """examples/dask_predict.py, imported by path: `import dask_predict` would find this file instead."""
    spec = importlib.util.spec_from_file_location("dask_predict_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_labels(paths: list[Path]) -> list[str]:
    labels = []
    for path in paths:
        with path.open(newline="", encoding="utf-8") as f:
            labels += [row["label"] for row in csv.DictReader(f)]
    return labels


def agreement(a: list[str], b: list[str]) -> float:
    if len(a) != len(b):
        raise SystemExit(f"(a) wrote {len(a)} rows and (b) {len(b)}: the recipe lost or added rows")
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def print_table(args: argparse.Namespace, results: dict[str, Any]) -> None:
    one, recipe = results["one_process"], results["dask"]
    print(f"\n{args.rows} rows, model {args.model}, {os.cpu_count()} cores; labels of (b) equal to (a)'s: "
          f"{100 * results['labels_agree']:.2f}%\n")
    print("| run | processes x threads | texts/s | x (a) | wall s | notes |")
    print("|---|---|---|---|---|---|")
    print(f"| (a) one `predict` process | 1 x {one['threads']} | {one['texts_per_s']:.0f} | 1.00 | "
          f"{one['seconds']:.1f} | model load {one['load_seconds']:.1f} s |")
    print(f"| (b) Dask recipe | {recipe['workers']} x 1 | {recipe['texts_per_s']:.0f} | "
          f"{recipe['texts_per_s'] / one['texts_per_s']:.2f} | {recipe['seconds']:.1f} | "
          f"{recipe['partitions']} partitions; cluster start {recipe['cluster_start_seconds']:.1f} s, not timed |")


if __name__ == "__main__":  # required: the cluster's worker processes are spawned and import this file again
    main()
