"""The export choices, measured on the test split: int8 weights per channel or per tensor, ONNX Runtime's
transformer optimiser or the plain graph, and the dynamo exporter or the TorchScript one.

    python benchmarks/export_choices.py --model models/movie-snippets --data data/movie-snippets

1. Accuracy of the int8 graph with per-channel and with per-tensor weight scales (quantize_dynamic).
2. `onnxruntime.transformers.optimizer` (model_type bert) against textsift's ORT_ENABLE_EXTENDED graph: the fused
   operators it adds, best-of-N throughput at batch 32 (test texts in file order) and batch 1 (200 texts), and
   whether `quantize_dynamic` still works on its output.
3. The TorchScript exporter (`dynamo=False`) against the torch model: max |logit difference| on the test texts,
   fed in length-sorted padded batches of 32 as textsift feeds them.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from textsift.exporting.onnx import LogitsOnly, example_inputs, optimise, quantise_int8, to_onnx
from textsift.inference.load import load
from textsift.inference.onnx_backend import OnnxClassifier
from textsift.inference.torch_backend import Classifier
from textsift.modeling.settings import OnnxFacts

FUSED = ("Attention", "MultiHeadAttention", "SkipLayerNormalization", "BiasGelu", "FastGelu", "EmbedLayerNormalization")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/movie-snippets"))
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/export_choices"))
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    classifier = load(args.model)
    assert isinstance(classifier, Classifier)
    texts, labels = read(args.data / "test.csv")
    y = np.array([classifier.labels.index(label) for label in labels])
    expected = classifier.logits(texts, 32)
    raw = to_onnx(classifier.model, args.work / "raw.onnx", 18)
    plain = args.work / "plain.onnx"
    optimise(raw, plain)
    results = {"torch_accuracy": accuracy(expected, y), "int8": {}, "ort_transformers_optimizer": {}}
    for per_channel in (True, False):
        path = args.work / f"int8-{'channel' if per_channel else 'tensor'}.onnx"
        quantise_int8(raw, path, per_channel=per_channel)
        results["int8"]["per channel" if per_channel else "per tensor"] = accuracy(
            onnx_classifier(classifier, path, args.model).logits(texts, 32), y)
    results["ort_transformers_optimizer"] = compare_optimiser(classifier, raw, plain, texts, args)
    results["torchscript_exporter"] = torchscript_parity(classifier, args.model, texts, expected,
                                                         args.work / "torchscript.onnx")
    (args.work.parent / "export_choices.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def read(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == y).mean())


def onnx_classifier(classifier: Classifier, graph: Path, folder: Path) -> OnnxClassifier:
    """textsift's ONNX backend on any graph file, with the torch folder's tokenizer."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1  # as textsift's ONNX backend runs
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(classifier.max_length)
    facts = OnnxFacts(graph.name, 18, ["input_ids", "attention_mask"], ["logits"], "",
                      classifier.tokenizer.pad_token_id, classifier.tokenizer.pad_token)
    return OnnxClassifier(session, tokenizer, dataclasses.replace(classifier.settings, backend="onnx", onnx=facts))


def compare_optimiser(classifier: Classifier, raw: Path, plain: Path, texts: list[str],
                      args: argparse.Namespace) -> dict[str, object]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    bert = args.work / "ort-bert.onnx"
    optimizer.optimize_model(str(raw), model_type="bert", num_heads=12, hidden_size=384).save_model_to_file(str(bert))
    ops = Counter(node.op_type for node in onnx.load(str(bert)).graph.node)
    out: dict[str, object] = {"fused_ops": {op: ops[op] for op in FUSED}}
    for name, graph in (("plain (textsift)", plain), ("ort bert optimizer", bert)):
        model = onnx_classifier(classifier, graph, args.model)
        out[name] = {"batch32_texts_per_s": best_rate(model, texts, 32, args.repeat),
                     "batch1_texts_per_s": best_rate(model, texts[:200], 1, args.repeat)}
    try:
        quantize_dynamic(str(bert), str(args.work / "ort-bert-int8.onnx"), weight_type=QuantType.QInt8)
        out["quantize_dynamic_on_it"] = "works"
    except Exception as e:  # noqa: BLE001 - the failure itself is the finding
        out["quantize_dynamic_on_it"] = f"fails: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
    return out


def best_rate(model: OnnxClassifier, texts: list[str], batch: int, repeat: int) -> float:
    """Best of `repeat` passes, in requests of `batch` texts in file order."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            model.logits(texts[i : i + batch], batch)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def torchscript_parity(classifier: Classifier, folder: Path, texts: list[str], expected: np.ndarray,
                       path: Path) -> dict[str, float]:
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    with torch.no_grad():
        torch.onnx.export(LogitsOnly(classifier.model).eval(), example_inputs(), str(path), dynamo=False,
                          opset_version=17, input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes=axes)
    got = onnx_classifier(classifier, path, folder).logits(texts, 32)
    return {"max_abs_logit_diff": float(np.abs(got - expected).max()),
            "label_agreement": float((got.argmax(axis=1) == expected.argmax(axis=1)).mean())}


if __name__ == "__main__":
    main()
