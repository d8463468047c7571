"""The model card (README.md) written into every model folder, from its textsift.json and metrics.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textsift import files
from textsift.modeling.settings import REMOTE_CODE_FILE, ModelSettings, read_settings

# The torch-free way to run an exported folder; written into its model card, shown in the README, run by the tests.
ONNX_SNIPPET = """\
import json
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

folder = "{folder}"
settings = json.load(open(f"{{folder}}/textsift.json"))
tokenizer = Tokenizer.from_file(f"{{folder}}/tokenizer.json")
tokenizer.enable_truncation(settings["max_length"])
tokenizer.enable_padding(pad_id=settings["onnx"]["pad_token_id"], pad_token=settings["onnx"]["pad_token"])
session = ort.InferenceSession(f"{{folder}}/model.onnx", providers=["CPUExecutionProvider"])
encodings = tokenizer.encode_batch(["a gripping, beautifully acted story", "dull and far too long"])
feed = {{"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}}
logits = session.run(["logits"], feed)[0]
print([settings["labels"][i] for i in logits.argmax(axis=1)])
"""

_LIMITS = [
    "## Intended use and limits",
    "- Meant for texts like the training data (language, domain, length); accuracy elsewhere is unmeasured.",
    "- Validation scores above come from the validation split used for early stopping, so they are slightly "
    "optimistic; report test scores from `textsift evaluate` on held-out data.",
    "- Probabilities are not calibrated unless a temperature was fitted; do not read them as exact risks.",
    "- The classifier inherits biases of the pretrained backbone and of the labelled data.",
    "",
]


def write_card(folder: Path) -> Path:
    """Write README.md from the folder's textsift.json and (when present) metrics.json."""
    settings = read_settings(folder)
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags: [textsift, text-classification]",
        "---",
        f"# Text classifier ({', '.join(settings.labels)})",
        "",
        f"Fine-tuned by textsift {settings.textsift_version or ''} from `{settings.backbone}` "
        f"with the `{settings.strategy}` strategy and {settings.pooling} pooling; "
        f"texts are truncated to {settings.max_length} tokens.",
        "",
        "## Data",
        *[f"- {split}: `{d.file}` ({d.rows} rows, sha256 `{d.sha256[:12]}…`, labels {d.label_counts})"
          for split, d in settings.data.items()],
        "",
        *_metric_lines(metrics),
        "",
        "## Use",
        "```python",
        "import textsift",
        f"clf = textsift.load('{folder.name}')",
        "clf.predict(['an example text'])",
        *(_onnx_use(folder, settings) if settings.backend == "onnx" else _transformers_use(folder, settings)),
        "```",
        "",
        *_LIMITS,
    ]
    return files.write_text(folder / "README.md", "\n".join(lines))


def _metric_lines(metrics: dict[str, Any]) -> list[str]:
    validation = metrics.get("validation") or {}
    if not validation:
        return ["## Validation metrics", "- none recorded"]
    return [
        "## Validation metrics",
        f"- accuracy: {validation['accuracy']:.4f}",
        f"- macro F1: {validation['macro']['f1']:.4f} (best epoch {metrics.get('best_epoch')} of "
        f"{metrics.get('epochs_run')}, {metrics.get('train_seconds')} s of training)",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
        *[f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
          for name, s in validation["per_class"].items()],
    ]


def _transformers_use(folder: Path, settings: ModelSettings) -> list[str]:
    if settings.pooling != "mean":
        return ["# or with plain transformers", "from transformers import pipeline",
                f"pipeline('text-classification', model='{folder.name}')"]
    # trust_remote_code runs the folder's Python file: say which file textsift wrote, so a planted one shows.
    code_hash = settings.files.get(REMOTE_CODE_FILE, "unknown")
    return ["# or with plain transformers, which runs the folder's model code: first check that",
            f"# sha256({REMOTE_CODE_FILE}) == {code_hash}",
            "# (textsift.load refuses the folder when it differs; textsift itself never runs that file)",
            "from transformers import pipeline",
            f"pipeline('text-classification', model='{folder.name}', trust_remote_code=True)"]


def _onnx_use(folder: Path, settings: ModelSettings) -> list[str]:
    # An exported folder has no torch weights: show the parity measured at export and the torch-free path.
    parity = settings.parity or {}
    lines = [f"# ONNX Runtime graph ({settings.quantize or 'fp32'}) exported from {settings.source}; "
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
    return lines + ONNX_SNIPPET.format(folder=folder.name).splitlines()
