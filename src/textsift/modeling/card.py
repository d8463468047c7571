"""The model card (README.md) written into every model folder, from its textsift.json and metrics.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textsift import files
from textsift.modeling import lineage
from textsift.modeling.settings import REMOTE_CODE_FILE, ModelSettings, read_settings
from textsift.tasks.base import Task
from textsift.tasks.registry import get_task

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
encodings = tokenizer.encode_batch({inputs})
columns = {{"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}}
feed = {{name: np.array([getattr(e, columns[name]) for e in encodings], dtype=np.int64)
        for name in settings["onnx"]["inputs"]}}
logits = session.run(["logits"], feed)[0]
{decode}
"""
# The last line of the snippet: what the task makes of the logits.
_DECODE = {
    "single_label_classification": 'print([settings["labels"][i] for i in logits.argmax(axis=1)])',
    "multi_label_classification": 'probs, cut = 1 / (1 + np.exp(-logits)), np.array(settings["thresholds"] or 0.5)\n'
                                  'print([[settings["labels"][i] for i in np.flatnonzero(row >= cut)] '
                                  'for row in probs])',
    "regression": 'scale = settings["target_scaling"]\nprint(logits[:, 0] * scale["std"] + scale["mean"])',
}
_EXAMPLES = {False: '["a gripping, beautifully acted story", "dull and far too long"]',
             True: '[("my card was charged twice", "Duplicate charges are refunded within five days.")]'}

_LIMITS = [
    "## Intended use and limits",
    "- Meant for texts like the training data (language, domain, length); accuracy elsewhere is unmeasured.",
    "- Validation scores above come from the validation split used for early stopping, so they are slightly "
    "optimistic; report test scores from `textsift evaluate` on held-out data.",
    "- Probabilities are not calibrated unless a temperature was fitted; do not read them as exact risks.",
    "- The model inherits biases of the pretrained backbone and of the labelled data.",
    "",
]


def write_card(folder: Path) -> Path:
    """Write README.md from the folder's textsift.json and (when present) metrics.json."""
    settings = read_settings(folder)
    task = get_task(settings.task)
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        f"tags: [textsift, text-classification, {settings.task}]",
        "---",
        f"# {_title(task)} ({', '.join(settings.labels)})",
        "",
        f"Fine-tuned by textsift {settings.textsift_version or ''} from `{settings.backbone}` "
        f"with the `{settings.strategy}` strategy and {settings.pooling} pooling; "
        f"texts are truncated to {settings.max_length} tokens.{_training_line(settings)}",
        "",
        "## Data",
        *[f"- {split}: `{d.file}` ({d.rows} rows, sha256 `{d.sha256[:12]}…`, labels {d.label_counts})"
          for split, d in settings.data.items()],
        "",
        *_task_lines(settings),
        *_cleaning_lines(settings),
        *_metric_lines(metrics, task),
        "",
        *_lineage_lines(folder, settings),
        "## Use",
        "```python",
        "import textsift",
        f"model = textsift.load('{folder.name}')",
        f"model.predict({_EXAMPLES[task.pairs]})",
        *(_onnx_use(folder, settings) if settings.backend == "onnx" else _transformers_use(folder, settings)),
        "```",
        "",
        *_LIMITS,
    ]
    return files.write_text(folder / "README.md", "\n".join(lines))


def _training_line(settings: ModelSettings) -> str:
    """What trained: the parameter counts, and where a LoRA folder keeps its adapter."""
    counts = settings.parameters
    line = (f" {counts['trainable']:,} of {counts['total']:,} parameters trained."
            if counts and counts.get("total") else "")
    if settings.adapter:
        line += (f" The weights are the LoRA adapter merged into the backbone; the adapter itself (PEFT format) is "
                 f"in `{settings.adapter}/`.")
    return line


def _cleaning_lines(settings: ModelSettings) -> list[str]:
    """What textsift does to each text first; plain transformers does not, so its users must do the same."""
    cleaning = settings.cleaning
    if cleaning is None or not cleaning.active:
        return []
    steps = [*(["Unicode NFKC, control characters removed, whitespace collapsed"] if cleaning.normalise else []),
             *(["HTML converted to text"] if cleaning.markup else []),
             *([f"personal data masked ({cleaning.pii_types}; phone region {cleaning.phone_region}"
                f"{', pseudonymised' if cleaning.pseudonymise else ''})"] if cleaning.mask_pii else [])]
    return ["## Cleaning", "",
            f"Every text is cleaned before the model reads it: {'; '.join(steps)}. textsift (load, predict, serve, "
            "monitor) does this itself; with plain transformers, clean inputs the same way first "
            "(`textsift.data.cleaning.TextCleaner(settings.cleaning)`), or the model sees text it was not trained on.",
            ""]


def _title(task: Task) -> str:
    kind = {"single_label_classification": "classifier", "multi_label_classification": "multi-label classifier",
            "regression": "regressor"}[task.problem_type]
    return f"Text-pair {kind}" if task.pairs else f"Text {kind}"


def _task_lines(settings: ModelSettings) -> list[str]:
    """What a user of the weights outside textsift must apply to the outputs."""
    if settings.thresholds is not None:
        cuts = ", ".join(f"{name} ≥ {t:.2f}" for name, t in zip(settings.labels, settings.thresholds, strict=True))
        return ["## Thresholds", f"A label is predicted when sigmoid(logit) reaches its threshold: {cuts}. Tuned on "
                "the validation data (each label's F1); textsift.json holds them.", ""]
    if settings.target_scaling is not None:
        s = settings.target_scaling
        return ["## Output scaling", f"The network predicts the standardised target: value = output × "
                f"{s['std']:.6g} + {s['mean']:.6g} (textsift applies this; textsift.json holds it).", ""]
    return []


def _metric_lines(metrics: dict[str, Any], task: Task) -> list[str]:
    validation = metrics.get("validation") or {}
    if not validation:
        return ["## Validation metrics", "- none recorded"]
    summary = task.summary(validation)
    lines = ["## Validation metrics", *[f"- {name}: {value:.4f}" for name, value in summary.items()],
             f"- best epoch {metrics.get('best_epoch')} of {metrics.get('epochs_run')} by {task.selects}, "
             f"{metrics.get('train_seconds')} s of training"]
    rows = validation.get("per_class") or validation.get("per_label") or {}
    if rows:
        lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|",
                  *[f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
                    for name, s in rows.items()]]
    return lines


def _lineage_lines(folder: Path, settings: ModelSettings) -> list[str]:
    """The steps that led to these weights as a markdown table (the same cells as `textsift lineage`)."""
    if not settings.lineage:
        return ["## Lineage", f"- {lineage.unrecorded(settings)}", ""]
    rows = [lineage.cells(entry) for entry in settings.lineage]
    # A markdown cell is one line without pipes: a cell's parts go on <br>-separated lines.
    return ["## Lineage", "", "| " + " | ".join(lineage.COLUMNS) + " |", "|" + "---|" * len(lineage.COLUMNS),
            *["| " + " | ".join(row[c].replace("|", "\\|").replace("\n", "<br>") for c in lineage.COLUMNS) + " |"
              for row in rows], ""]


def _transformers_use(folder: Path, settings: ModelSettings) -> list[str]:
    if settings.pooling != "mean":
        # config.json's problem_type makes the pipeline apply softmax, sigmoid (multi-label) or nothing.
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
        metric = v.get("metric", "accuracy")
        lines.append(f"#   {metric} on {v['file']}: torch {v[f'torch_{metric}']:.4f}, onnx "
                     f"{v[f'onnx_{metric}']:.4f} ({v['delta_points']:+.2f} points)")
    lines.append("# or without torch or textsift (onnxruntime, tokenizers and numpy only):")
    return lines + onnx_snippet(folder.name, settings).splitlines()


def onnx_snippet(folder: str, settings: ModelSettings) -> str:
    """The torch-free code that runs an exported folder, for its task."""
    task = get_task(settings.task)
    return ONNX_SNIPPET.format(folder=folder, inputs=_EXAMPLES[task.pairs], decode=_DECODE[task.problem_type])
