"""Cost of one AdamW step over all MiniLM classifier weights: the default, foreach and fused implementations.

    python benchmarks/optimizer_step.py --threads 2

Gradients are filled with random values once; each implementation then takes --steps steps (after 3 warm-up
steps) and the median is printed with its ratio to the default (the per-parameter loop).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from textsift.modeling.build import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = build("default", ["negative", "positive"], "cls")
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    print(f"{sum(p.numel() for p in params) / 1e6:.1f} M parameters, {args.threads} threads")
    times = {}
    for name, options in (("default (for-loop)", {"foreach": False}), ("foreach", {"foreach": True}),
                          ("fused", {"fused": True})):
        optimizer = torch.optim.AdamW(params, lr=5e-5, **options)
        for _ in range(3):
            optimizer.step()
        samples = []
        for _ in range(args.steps):
            start = time.perf_counter()
            optimizer.step()
            samples.append(time.perf_counter() - start)
        times[name] = statistics.median(samples) * 1000
    base = times["default (for-loop)"]
    print("| AdamW | ms per step | × faster than default |\n|---|---:|---:|")
    for name, ms in times.items():
        print(f"| {name} | {ms:.1f} | {base / ms:.2f} |")


if __name__ == "__main__":
    main()
