"""How a server should cut a gathered batch into forward passes: texts/s on arrival-order batches of 32.

    .venv/bin/python benchmarks/forward_batch.py [--model models/movie-snippets] [--batches 12]

A batching server sees texts in arrival order, so one pass over 32 random sentences pads all of them to the
longest. Sorting the gathered batch by length and running passes of `--forward-batch` texts trades padding for
per-pass overhead; this prints texts/s for one text per pass and for passes of 32, 16, 8 and 4, each as a ratio
to one text per pass, measured in the same run on the same batches (`textsift serve --forward-batch`).
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch

from textsift.inference.load import load

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"))
    parser.add_argument("--data", type=Path, default=ROOT / "data/movie-snippets/test.csv")
    parser.add_argument("--batches", type=int, default=12, help="arrival-order batches of 32 texts")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    classifier = load(args.model, args.device)
    texts = [row["text"] for row in csv.DictReader(args.data.open(encoding="utf-8"))]
    rng = random.Random(0)
    batches = [rng.sample(texts, 32) for _ in range(args.batches)]
    classifier.predict_proba(texts[:64])  # warm thread pools and kernels
    print(f"model {args.model}, device {classifier.device}, torch threads {torch.get_num_threads()}")
    single = rate(batches, lambda b: [classifier.predict_proba([t]) for t in b])
    print("| texts per forward pass | texts/s | vs one per pass |\n|---:|---:|---:|")
    print(f"| 1 | {single:.0f} | 1.00x |")
    for size in (32, 16, 8, 4):
        r = rate(batches, lambda b, size=size: classifier.predict_proba(b, batch_size=size))
        print(f"| {size} (length-sorted) | {r:.0f} | {r / single:.2f}x |")


def rate(batches: list[list[str]], run: Callable[[list[str]], object]) -> float:
    start = time.perf_counter()
    for batch in batches:
        run(batch)
    return sum(len(b) for b in batches) / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
