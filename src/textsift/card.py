"""The model card (README.md) written into every model folder, from its textsift.json and metrics.json."""

from __future__ import annotations

import json
from pathlib import Path


def write_card(folder: Path) -> Path:
    settings = json.loads((folder / "textsift.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    validation = metrics.get("validation") or {}
    data = settings.get("data", {})
    remote = settings.get("pooling") == "mean"
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags: [textsift, text-classification]",
        "---",
        f"# Text classifier ({', '.join(settings['labels'])})",
        "",
        f"Fine-tuned by textsift {settings.get('textsift_version', '')} from `{settings.get('backbone')}` "
        f"with the `{settings.get('strategy')}` strategy and {settings.get('pooling')} pooling; "
        f"texts are truncated to {settings['max_length']} tokens.",
        "",
        "## Data",
        *[f"- {split}: `{d['file']}` ({d['rows']} rows, sha256 `{d['sha256'][:12]}…`, labels {d['label_counts']})"
          for split, d in data.items()],
        "",
        "## Validation metrics",
    ]
    if validation:
        lines += [
            f"- accuracy: {validation['accuracy']:.4f}",
            f"- macro F1: {validation['macro']['f1']:.4f} (best epoch {metrics.get('best_epoch')} of "
            f"{metrics.get('epochs_run')}, {metrics.get('train_seconds')} s of training)",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
            *[f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
              for name, s in validation["per_class"].items()],
        ]
    else:
        lines.append("- none recorded")
    lines += [
        "",
        "## Use",
        "```python",
        "import textsift",
        f"clf = textsift.load('{folder.name}')",
        "clf.predict(['an example text'])",
        *(_onnx_use(folder, settings) if settings.get("backend") == "onnx" else [
            "# or with plain transformers",
            "from transformers import pipeline",
            f"pipeline('text-classification', model='{folder.name}'{', trust_remote_code=True' if remote else ''})",
        ]),
        "```",
        "",
        "## Intended use and limits",
        "- Meant for texts like the training data (language, domain, length); accuracy elsewhere is unmeasured.",
        "- Validation scores above come from the validation split used for early stopping, so they are slightly "
        "optimistic; report test scores from `textsift evaluate` on held-out data.",
        "- Probabilities are not calibrated unless a temperature was fitted; do not read them as exact risks.",
        "- The classifier inherits biases of the pretrained backbone and of the labelled data.",
        "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines))
    return path


def _onnx_use(folder: Path, settings: dict) -> list[str]:
    # An exported folder has no torch weights: show the parity measured at export and the torch-free path.
    from textsift.onnx_backend import USAGE_SNIPPET

    parity = settings.get("parity", {})
    lines = [f"# ONNX Runtime graph ({settings.get('quantize') or 'fp32'}) exported from {settings.get('source')}; "
             f"checked against the torch model on {parity.get('sample')} texts:"]
    for name in ("fp32", "int8"):
        if name in parity:
            lines.append(f"#   {name}: max |logit difference| {parity[name]['max_abs_logit_diff']:.2g}, "
                         f"label agreement {parity[name]['label_agreement']:.1%}")
    if "validation" in parity:
        v = parity["validation"]
        lines.append(f"#   accuracy on {v['file']}: torch {v['torch_accuracy']:.4f}, onnx {v['onnx_accuracy']:.4f} "
                     f"({v['delta_points']:+.2f} points)")
    lines.append("# or without torch or textsift (onnxruntime, tokenizers and numpy only):")
    return lines + USAGE_SNIPPET.format(folder=folder.name).splitlines()
