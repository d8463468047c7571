"""Why the server freezes the heap after warm-up: the cost of a full garbage collection with a model loaded.

    python benchmarks/gc_pause.py --model models/movie-snippets

Loads the folder as `textsift serve` does, predicts once, then times --repeat full collections (gc.collect())
before and after gc.freeze(), and counts the objects the collector tracks.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

from textsift.inference.load import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    load(args.model).predict_proba(["a short warm-up sentence for the model"])
    print(f"{len(gc.get_objects()):,} objects tracked by the collector after loading {args.model}")
    before = collect_ms(args.repeat)
    gc.freeze()
    after = collect_ms(args.repeat)
    print(f"full collection: median {before:.1f} ms before gc.freeze(), {after:.1f} ms after "
          f"({gc.get_freeze_count():,} objects frozen)")


def collect_ms(repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        gc.collect()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


if __name__ == "__main__":
    main()
