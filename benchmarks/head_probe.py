"""How the head strategy's defaults were chosen: frozen MiniLM features of several kinds, several heads, one run.

    python benchmarks/head_probe.py --data data/movie-snippets

One pass of the frozen backbone over the train, validation and test splits gives three features per text: the CLS
state of the last layer, the mean of the last layer's token states, and the means of the last two layers side by
side. Each feature goes to scikit-learn logistic regression, and the mean pools also to the two heads textsift can
train on them (linear, and a 1024-unit GELU MLP), trained by textsift's own loop with the head strategy's defaults
(AdamW 1e-3, batch 32, up to 30 epochs, best validation macro-F1, patience 5). Prints test accuracy for each pair.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from textsift.config import LoopConfig
from textsift.data.batching import sorted_batches
from textsift.evaluation.metrics import compute_metrics
from textsift.inference.torch_backend import collate
from textsift.modeling.build import resolve_backbone
from textsift.training.loop import Objective, Scores, fit, prepare

LABELS = ["negative", "positive"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/head_probe.json"))
    args = parser.parse_args()
    splits = {name: read(args.data / f"{name}.csv") for name in ("train", "validation", "test")}
    start = time.perf_counter()
    features = {name: embed(texts) for name, (texts, _) in splits.items()}
    print(f"features of {sum(len(t) for t, _ in splits.values())} texts in {time.perf_counter() - start:.0f} s")
    y = {name: np.array([LABELS.index(label) for label in labels]) for name, (_, labels) in splits.items()}
    rows = []
    for kind in ("cls", "mean_last", "mean_last_two"):
        feats = {name: f[kind] for name, f in features.items()}
        rows.append((kind, "scikit-learn logistic regression", logistic_regression(feats, y)))
        if kind != "cls":
            for hidden in (0, 1024):
                head = "linear head (AdamW)" if hidden == 0 else f"MLP {hidden} head (AdamW)"
                rows.append((kind, head, trained_head(feats, y, hidden)))
    print("| frozen features | head | test accuracy |\n|---|---|---:|")
    for kind, head, accuracy in rows:
        print(f"| {kind} | {head} | {accuracy:.4f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([{"features": k, "head": h, "test_accuracy": a} for k, h, a in rows], indent=2))


def read(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def embed(texts: list[str]) -> dict[str, torch.Tensor]:
    """CLS, last-layer mean and last-two-layers mean features of the frozen backbone (one forward pass each)."""
    from transformers import AutoModel, AutoTokenizer

    location = resolve_backbone("default")
    tokenizer, model = AutoTokenizer.from_pretrained(location), AutoModel.from_pretrained(location).eval()
    ids = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
    width = model.config.hidden_size
    out = {"cls": torch.zeros(len(ids), width), "mean_last": torch.zeros(len(ids), width),
           "mean_last_two": torch.zeros(len(ids), 2 * width)}
    with torch.inference_mode():
        for batch in sorted_batches([len(s) for s in ids], 128):
            inputs = collate([ids[i] for i in batch], tokenizer.pad_token_id)
            states = model(**inputs, output_hidden_states=True).hidden_states
            mask = inputs["attention_mask"].unsqueeze(-1).float()
            means = [(layer * mask).sum(1) / mask.sum(1) for layer in (states[-1], states[-2])]
            out["cls"][batch], out["mean_last"][batch] = states[-1][:, 0], means[0]
            out["mean_last_two"][batch] = torch.cat(means, dim=-1)
    return out


def logistic_regression(feats: dict[str, torch.Tensor], y: dict[str, np.ndarray]) -> float:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000).fit(feats["train"].numpy(), y["train"])
    return float((clf.predict(feats["test"].numpy()) == y["test"]).mean())


def trained_head(feats: dict[str, torch.Tensor], y: dict[str, np.ndarray], hidden: int) -> float:
    """A head on cached features, trained by textsift's loop exactly as the head strategy trains its own."""
    with tempfile.TemporaryDirectory() as out:
        cfg = LoopConfig(train_file=Path("unused.csv"), out=Path(out), epochs=30, learning_rate=1e-3, patience=5)
        device = prepare(cfg)
        size = feats["train"].shape[1]
        layers = [torch.nn.Linear(size, hidden), torch.nn.GELU(), torch.nn.Dropout(0.1)] if hidden else []
        head = torch.nn.Sequential(torch.nn.Dropout(0.1), *layers, torch.nn.Linear(hidden or size, 2))
        y_train = torch.from_numpy(y["train"])
        best: dict[str, torch.Tensor] = {}

        def validate() -> Scores:
            head.eval()
            with torch.inference_mode():
                logits = head(feats["validation"]).numpy()
            metrics = compute_metrics(list(y["validation"]), logits.argmax(axis=1), LABELS)
            f1 = metrics["macro"]["f1"]
            return Scores("macro_f1", f1, {"macro_f1": f1, "accuracy": metrics["accuracy"]}, metrics)

        def save() -> None:
            best.update({k: v.clone() for k, v in head.state_dict().items()})

        objective = Objective(head, [1] * len(y_train), lambda idx: F.cross_entropy(head(feats["train"][idx]),
                                                                                      y_train[idx]), validate, save)
        fit(objective, cfg, device)
        head.load_state_dict(best)
        head.eval()
        with torch.inference_mode():
            return float((head(feats["test"]).argmax(1).numpy() == y["test"]).mean())


if __name__ == "__main__":
    main()
