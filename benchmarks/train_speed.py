"""Training throughput: textsift vs a plain Hugging Face Trainer, same model, data and steps, in one run.

    python benchmarks/train_speed.py --rows 1280

(a) textsift: dynamic padding + length-bucketed batches.
(b) HF Trainer, tokenizer padding="max_length" (the common tutorial default).
(c) HF Trainer with DataCollatorWithPadding (dynamic padding, random batches) to split the gain in two.
Also prints achieved GFLOP/s against a measured fp32 matmul peak and the top operators of a profile.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--rows", type=int, default=1280, help="training rows = steps x batch size")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/train_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.data / "train.csv").is_file():
        from textsift.data.catalogue import fetch

        fetch("movie-snippets", args.data)
    texts, labels = read_rows(args.data / "train.csv", args.rows)
    steps = args.rows // args.batch_size
    print(f"{len(texts)} texts, batch {args.batch_size}, {steps} steps, {args.threads} threads")

    peak = matmul_peak_gflops()
    results = {"rows": len(texts), "steps": steps, "matmul_peak_gflops": peak}
    results["textsift"] = run_textsift(args.data, texts, labels, args.batch_size)
    results["hf_trainer_max_length"] = run_hf_trainer(texts, labels, args.batch_size, dynamic=False)
    results["hf_trainer_dynamic"] = run_hf_trainer(texts, labels, args.batch_size, dynamic=True)
    base = results["hf_trainer_max_length"]["samples_per_s"]
    flops_per_token = train_flops_per_token()
    for name in ("textsift", "hf_trainer_max_length", "hf_trainer_dynamic"):
        r = results[name]
        r["speedup_vs_hf_max_length"] = r["samples_per_s"] / base
        r["achieved_gflops"] = flops_per_token * r["tokens_computed"] / r["seconds"] / 1e9
        r["useful_gflops"] = flops_per_token * r["real_tokens"] / r["seconds"] / 1e9
        print(f"{name:24s} {r['samples_per_s']:7.1f} samples/s  x{r['speedup_vs_hf_max_length']:.2f}  "
              f"padding {1 - r['real_tokens'] / r['tokens_computed']:.0%}  "
              f"achieved {r['achieved_gflops']:.1f} GFLOP/s ({r['achieved_gflops'] / peak:.0%} of matmul peak "
              f"{peak:.0f}), useful {r['useful_gflops']:.1f}")
    results["profile_top_ops"] = profile_textsift_steps(texts, labels, args.batch_size)
    print("textsift step profile (self CPU time):")
    for row in results["profile_top_ops"]:
        print(f"  {row['op']:40s} {row['share']:.0%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


def read_rows(path: Path, n: int) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def matmul_peak_gflops(n: int = 2048, repeat: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n**3 * repeat / (time.perf_counter() - start) / 1e9


def train_flops_per_token() -> float:
    """6 x non-embedding parameters per token (forward + backward), the usual estimate for dense layers."""
    from transformers import AutoModel

    from textsift.modeling.build import resolve_backbone

    model = AutoModel.from_pretrained(resolve_backbone("default"))
    params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    return 6.0 * params


def token_counts(tokenizer, texts: list[str], batches: list[list[int]], max_length: int | None) -> tuple[int, int]:
    lengths = [len(x) for x in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    real = sum(lengths)
    computed = sum(len(b) * (max_length or max(lengths[i] for i in b)) for b in batches)
    return real, computed


def run_textsift(data: Path, texts: list[str], labels: list[str], batch_size: int) -> dict:
    from textsift import ModelConfig, TrainConfig, load, train
    from textsift.data.batching import bucketed_batches

    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.csv"
        write_csv(train_file, texts, labels)
        cfg = TrainConfig(train_file=train_file, validation_file=data / "validation.csv", out=Path(tmp) / "m",
                          epochs=1, batch_size=batch_size, model=ModelConfig(pooling="cls"))
        start = time.perf_counter()
        train(cfg)
        total = time.perf_counter() - start
        history = json.loads((cfg.out / "metrics.json").read_text())["history"][0]
        tokenizer = load(cfg.out).tokenizer
    lengths = [len(x) for x in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    real, computed = token_counts(tokenizer, texts, bucketed_batches(lengths, batch_size, 50, cfg.seed), None)
    seconds = len(texts) / history["texts_per_s"]
    return {"samples_per_s": history["texts_per_s"], "seconds": seconds, "wall_with_setup_s": total,
            "real_tokens": real, "tokens_computed": computed}


def run_hf_trainer(texts: list[str], labels: list[str], batch_size: int, dynamic: bool) -> dict:
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from textsift.modeling.build import resolve_backbone

    location = resolve_backbone("default")
    tokenizer = AutoTokenizer.from_pretrained(location)
    names = sorted(set(labels))
    torch.manual_seed(42)
    model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=len(names))
    padding = {"truncation": True, "max_length": 128} | ({} if dynamic else {"padding": "max_length"})
    enc = tokenizer(texts, **padding)
    dataset = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                "labels": names.index(labels[i])} for i in range(len(texts))]
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=batch_size, num_train_epochs=1, learning_rate=5e-5,
            warmup_steps=len(texts) // batch_size // 10, report_to=[], save_strategy="no", logging_strategy="no",
            disable_tqdm=True, use_cpu=True, seed=42, dataloader_num_workers=0,
        )
        collator = DataCollatorWithPadding(tokenizer) if dynamic else None
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
        start = time.perf_counter()
        out = trainer.train()
        seconds = time.perf_counter() - start
    # Trainer's sampler is random; approximate its padding with random batches of the same size.
    import random

    order = list(range(len(texts)))
    random.Random(42).shuffle(order)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    real, computed = token_counts(tokenizer, texts, batches, None if dynamic else 128)
    return {"samples_per_s": out.metrics["train_samples_per_second"], "seconds": seconds,
            "real_tokens": real, "tokens_computed": computed}


def profile_textsift_steps(texts: list[str], labels: list[str], batch_size: int, steps: int = 8) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    from textsift.data.batching import bucketed_batches
    from textsift.inference.torch_backend import collate
    from textsift.modeling.build import build

    names = sorted(set(labels))
    model, tokenizer = build("default", names, "cls")
    model.train()
    ids = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
    y = torch.tensor([names.index(x) for x in labels])
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=True)
    batches = bucketed_batches([len(s) for s in ids], batch_size, 50, 0)[:steps]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for idx in batches:
            loss = torch.nn.functional.cross_entropy(model(**collate([ids[i] for i in idx], 0)).logits, y[idx])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{"op": e.key, "share": e.self_cpu_time_total / total} for e in events[:8]]


def write_csv(path: Path, texts: list[str], labels: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))


if __name__ == "__main__":
    main()
