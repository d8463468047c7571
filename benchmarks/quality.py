"""Test-split accuracy on movie-snippets: textsift strategies against classic baselines, in one run.

    python benchmarks/quality.py                      # all rows below (about 25 minutes on 2 cores)
    python benchmarks/quality.py --only tfidf,frozen_lr,head

Rows: TF-IDF + logistic regression; frozen MiniLM mean-pooled features + scikit-learn logistic regression;
textsift --strategy head; textsift --strategy full with CLS pooling and with mean pooling.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
ROWS = ("tfidf", "frozen_lr", "head", "full_cls", "full_mean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated subset of {ROWS}")
    parser.add_argument("--keep", type=Path, default=None, help="keep trained model folders here")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/quality.json"))
    args = parser.parse_args()
    if not (args.data / "train.csv").is_file():
        from textsift.data.catalogue import fetch

        fetch("movie-snippets", args.data)
    train, test = read(args.data / "train.csv"), read(args.data / "test.csv")
    print(f"train {len(train[0])} rows, test {len(test[0])} rows")
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    keep = args.keep or Path(tempfile.mkdtemp())
    for row in args.only.split(","):
        start = time.perf_counter()
        if row == "tfidf":
            accuracy, f1 = tfidf_lr(train, test)
        elif row == "frozen_lr":
            accuracy, f1 = frozen_lr(train, test)
        else:
            accuracy, f1, start = textsift_row(row, args.data, keep / row)
        results[row] = {"accuracy": accuracy, "macro_f1": f1, "seconds": round(time.perf_counter() - start, 1)}
        print(f"{row:10s} accuracy {accuracy:.4f}  macro-F1 {f1:.4f}  {results[row]['seconds']:.0f} s", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


def read(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def scores(y_true: list[str], y_pred: list[str]) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(y_true, y_pred)), float(f1_score(y_true, y_pred, average="macro"))


def tfidf_lr(train: tuple, test: tuple) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                          LogisticRegression(max_iter=2000, C=4.0))
    model.fit(*train)
    return scores(test[1], model.predict(test[0]))


def frozen_lr(train: tuple, test: tuple) -> tuple[float, float]:
    """Mean-pooled frozen MiniLM features, scikit-learn logistic regression (the issue's reference point)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from textsift.data.batching import sorted_batches
    from textsift.inference.torch_backend import collate
    from textsift.modeling.build import build

    model, tokenizer = build("default", ["negative", "positive"], "mean")
    model.eval()

    def embed(texts: list[str]) -> torch.Tensor:
        ids = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
        out = torch.zeros(len(ids), model.config.hidden_size)
        with torch.inference_mode():
            for batch in sorted_batches([len(s) for s in ids], 128):
                out[batch] = model.features(**collate([ids[i] for i in batch], tokenizer.pad_token_id))
        return out

    clf = LogisticRegression(max_iter=2000).fit(embed(train[0]).numpy(), train[1])
    return scores(test[1], clf.predict(embed(test[0]).numpy()))


def textsift_row(row: str, data: Path, out: Path) -> tuple[float, float, float]:
    from textsift import ModelConfig, TrainConfig, evaluate, train

    strategy = "head" if row == "head" else "full"
    pooling = {"head": "mean", "full_cls": "cls", "full_mean": "mean"}[row]
    cfg = TrainConfig(train_file=data / "train.csv", validation_file=data / "validation.csv", out=out,
                      strategy=strategy, model=ModelConfig(pooling=pooling))
    start = time.perf_counter()
    train(cfg)
    metrics = evaluate(out, data / "test.csv", out / "eval-test")
    return metrics["accuracy"], metrics["macro"]["f1"], start


if __name__ == "__main__":
    main()
