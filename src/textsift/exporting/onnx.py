"""export(model folder) -> a self-contained ONNX folder, fp32 or int8, checked against the torch model before it lands.

One export path on purpose: `torch.onnx.export` (the dynamo exporter, with dynamic batch and sequence axes) ships
with torch, so no extra heavy dependency such as Optimum is needed. ONNX Runtime then fuses the graph offline and
`quantize_dynamic` makes the int8 variant. The folder holds model.onnx, the tokenizer files, config.json,
textsift.json (with `"backend": "onnx"` and the parity numbers), metrics.json and a model card; it runs with
onnxruntime + tokenizers + numpy alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch

from textsift import files
from textsift._optional import require
from textsift.config import DataConfig, ExportConfig
from textsift.data.io import Item, Table, read_table
from textsift.errors import TextsiftError
from textsift.exporting.parity import PARITY_SAMPLE, accuracy_change, builtin_sample, compare
from textsift.inference.load import load
from textsift.inference.onnx_backend import ONNX_FILE
from textsift.inference.torch_backend import Classifier
from textsift.modeling import integrity
from textsift.modeling.card import write_card
from textsift.modeling.settings import OnnxFacts, update_settings, write_settings

log = logging.getLogger("textsift")


def export(
    model_dir: Path | str,
    out: Path | str,
    *,
    format: Literal["onnx"] = ExportConfig.format,
    quantize: Literal["int8"] | None = ExportConfig.quantize,
    validate: Path | str | None = ExportConfig.validate,
    data: DataConfig | None = None,
    tolerance: float = ExportConfig.tolerance,
    opset: int = ExportConfig.opset,
) -> Path:
    """Export a torch model folder to ONNX (optionally int8) and check it against the torch model.

    The options are those of `ExportConfig`, which documents each.

    Raises:
        TextsiftError: when the fp32 graph disagrees with the torch model; nothing is written then.
    """
    if format != "onnx":
        raise TextsiftError(f"unknown export format {format!r}; textsift exports onnx")
    if quantize not in (None, "int8"):
        raise TextsiftError(f"unknown quantisation {quantize!r}; use int8 or leave it out")
    model_dir, out = Path(model_dir), Path(out)
    if out.exists() and not out.is_dir():
        raise TextsiftError(f"{out}: is a file; pick another --out")
    if out.exists() and any(out.iterdir()):
        raise TextsiftError(f"{out}: already exists and is not empty; pick another --out or delete it")
    files.writable_dir(out.parent)
    classifier = load(model_dir)
    if not isinstance(classifier, Classifier):
        raise TextsiftError(f"{model_dir}: already an ONNX folder; export from the torch model folder")
    table = read_table(validate, classifier.settings.data_columns(data)) if validate is not None else None
    sample = table.inputs[:PARITY_SAMPLE] if table is not None else builtin_sample(classifier.task.pairs)

    # Build everything in a staging folder next to `out`; only a folder that passed parity is moved into place.
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        report = _build(classifier, stage, model_dir, quantize, sample, table, tolerance, opset)
        if out.exists():
            out.rmdir()
        stage.rename(out)
        out.chmod(0o755)  # mkdtemp made it private
        write_card(out)  # after the move: the card names the folder
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log.info("parity on %d texts: fp32 max |logit difference| %.1e%s", report["sample"],
             report["fp32"]["max_abs_logit_diff"], _int8_summary(report))
    return out


def _int8_summary(report: dict[str, Any]) -> str:
    if "int8" not in report:
        return ""
    return (f"; int8 max |logit difference| {report['int8']['max_abs_logit_diff']:.2f}, "
            f"label agreement {report['int8']['label_agreement']:.1%}")


def _build(classifier: Classifier, stage: Path, model_dir: Path, quantize: Literal["int8"] | None, sample: list[Item],
           table: Table | None, tolerance: float, opset: int) -> dict[str, Any]:
    onnx_dir = stage / "graphs"
    onnx_dir.mkdir()
    with _quiet():
        raw = to_onnx(classifier.model, onnx_dir / "raw.onnx", opset, segments=classifier.sep_id is not None)
        optimise(raw, stage / ONNX_FILE)
    write_folder_files(classifier, stage, model_dir, quantize, opset)

    # Parity of the fp32 graph, end to end (tokenizer included), against the torch model.
    expected = classifier.logits(sample)
    fp32 = compare(expected, load(stage), sample)
    report: dict[str, Any] = {"sample": len(sample), "tolerance": tolerance, "fp32": fp32}
    if fp32["max_abs_logit_diff"] > tolerance or fp32["label_agreement"] < 1.0:
        raise TextsiftError(
            f"{model_dir}: the exported graph disagrees with the torch model on {len(sample)} texts (max |logit "
            f"difference| {fp32['max_abs_logit_diff']:.2e} > {tolerance:g} or label agreement "
            f"{fp32['label_agreement']:.1%}); nothing written, try another opset or report your torch and onnxscript "
            "versions"
        )
    if quantize == "int8":
        # From the exported graph: the quantiser cannot type the fused contrib ops; ORT fuses again at load.
        with _quiet():
            quantise_int8(raw, onnx_dir / "int8.onnx")
        (onnx_dir / "int8.onnx").replace(stage / ONNX_FILE)
        report["int8"] = compare(expected, load(stage), sample)
    if table is not None:
        report["validation"] = accuracy_change(classifier, load(stage), table)
    shutil.rmtree(onnx_dir)
    _record(stage, report)
    return report


def write_folder_files(classifier: Classifier, stage: Path, model_dir: Path, quantize: Literal["int8"] | None,
                       opset: int) -> None:
    """Tokenizer files, config.json, textsift.json (source settings + backend) and the source metrics.json."""
    tokenizer = classifier.tokenizer
    tokenizer.save_pretrained(stage)
    classifier.model.config.save_pretrained(stage)
    optimisation = ("int8 graph: ORT_ENABLE_ALL at load" if quantize
                    else "ORT_ENABLE_EXTENDED offline, ORT_ENABLE_ALL at load")
    segments = classifier.sep_id is not None
    facts = OnnxFacts(file=ONNX_FILE, opset=opset, inputs=graph_inputs(segments), outputs=["logits"],
                      optimisation=optimisation, pad_token_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token,
                      sep_token_id=classifier.sep_id)
    # The file list is the torch folder's until _record lists this folder's own files.
    settings = dataclasses.replace(classifier.settings, backend="onnx", quantize=quantize, source=str(model_dir),
                                   onnx=facts, files={})
    write_settings(stage, settings)
    if (model_dir / "metrics.json").is_file():
        shutil.copy(model_dir / "metrics.json", stage / "metrics.json")


def _record(stage: Path, report: dict[str, Any]) -> None:
    # The parity numbers travel with the folder: in textsift.json, metrics.json and the model card.
    path = stage / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    metrics["export"] = report
    files.write_text(path, json.dumps(metrics, indent=2) + "\n")
    update_settings(stage, parity=report, files=integrity.manifest(stage))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # The exporter and the quantiser log every graph rewrite at INFO, some on the root logger; keep output readable.
    loggers = [logging.getLogger(name) for name in ("", "torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class LogitsOnly(torch.nn.Module):
    """What the graph computes: exactly what textsift feeds (ids and mask) in, only the logits out."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits


class PairLogitsOnly(LogitsOnly):
    """The graph of a pair model: segment ids go in as well (the exporter traces exactly the arguments given)."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,  # type: ignore[override]
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def graph_inputs(segments: bool) -> list[str]:
    """The graph's input names: ids and mask, and segment ids for a pair model whose backbone reads them."""
    return ["input_ids", "attention_mask"] + (["token_type_ids"] if segments else [])


def example_inputs(segments: bool = False) -> tuple[torch.Tensor, ...]:
    """Batch 2, length 8, one padded row: neither axis gets specialised to 1 when tracing."""
    input_ids = torch.full((2, 8), 101, dtype=torch.long)
    attention_mask = torch.ones((2, 8), dtype=torch.long)
    attention_mask[1, 5:] = 0
    if not segments:
        return input_ids, attention_mask
    token_type_ids = torch.zeros((2, 8), dtype=torch.long)
    token_type_ids[:, 4:] = 1
    return input_ids, attention_mask, token_type_ids


def to_onnx(model: torch.nn.Module, path: Path, opset: int, *, segments: bool = False) -> Path:
    """Trace the torch model with dynamic batch and sequence axes into a single-file ONNX graph."""
    require("onnxscript", extra="onnx")  # the dynamo exporter translates through onnxscript
    require("onnx", extra="onnx")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    names = graph_inputs(segments)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            (PairLogitsOnly if segments else LogitsOnly)(model).eval(), example_inputs(segments), str(path),
            input_names=names,
            output_names=["logits"], opset_version=opset, dynamo=True, external_data=False, verbose=False,
            dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
        )
    return path


def optimise(src: Path, dst: Path) -> None:
    """Offline ONNX Runtime optimisation (constant folding, LayerNorm/GELU/attention fusions) saved into `dst`.

    ENABLE_EXTENDED, not ENABLE_ALL: ORT warns that an ENABLE_ALL graph saved to disk may hold hardware-specific
    layouts; the remaining ENABLE_ALL passes run when the session loads. `onnxruntime.transformers.optimizer`
    (model_type="bert") was measured as an alternative: on the dynamo-exported MiniLM graph it fused no attention
    and gave no reliable speed-up over this (BENCHMARKS.md, "Inference speed"), and its contrib ops break
    `quantize_dynamic`.
    """
    ort = require("onnxruntime", extra="onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])


def quantise_int8(src: Path, dst: Path, *, per_channel: bool = True) -> None:
    """Dynamic int8 quantisation: int8 weights, by default per output channel (per-tensor weights lost more
    accuracy on MiniLM: benchmarks/export_choices.py)."""
    onnx = require("onnx", extra="onnx")
    quantization = require("onnxruntime.quantization", extra="onnx")
    # The exporter leaves intermediate shape annotations that ONNX shape inference then contradicts; drop them.
    model = onnx.load(str(src))
    del model.graph.value_info[:]
    plain = dst.with_suffix(".noshapes.onnx")
    onnx.save(model, str(plain))
    quantization.quantize_dynamic(str(plain), str(dst), weight_type=quantization.QuantType.QInt8,
                                  per_channel=per_channel)
    plain.unlink()
