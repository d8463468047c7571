"""The lineage of a model folder: every step that led to its weights, oldest first, kept in textsift.json under
`lineage`, printed by `textsift lineage MODEL` and tabled in the model card.

Each step is one plain JSON object (`step` builds it, `extended` appends it to the parent's lineage):
    step: 1, 2, ...: its place in the lineage.
    verb: What wrote the weights: train, update, distill, pretrain, ...
    at: When the step was recorded, UTC to the second ("2026-05-01T12:00:00Z").
    folder: The folder the step wrote, as given.
    parent: {"folder", "sha256"}: the model folder the step started from and the sha256 of its textsift.json at
        that time (textsift.json lists the sha256 of every weight and tokenizer file, so the hash names the
        parent's contents); None when the step started from a pretrained backbone.
    backbone: {"name", "pretrain"}: the encoder and, when it is a folder written by `textsift pretrain`, the
        content of its textsift-pretrain.json (else None); None when no backbone is known.
    data: {split: {"file", "sha256", "rows", "label_counts"}}: the data fingerprints the step's settings record.
    config: The step's resolved config (dataclasses become objects, paths strings).
    metrics: What the step measured: {"validation": the task's summary of the validation metrics (name ->
        number)} and, for an update, {"forgetting": its Forgetting record}; other keys are kept as given.
    status: accepted (the weights were kept) or rejected (e.g. an update that lost to its parent).
Only the standard library and textsift's light modules are imported: reading a lineage never loads torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textsift.errors import TextsiftError
from textsift.modeling.settings import SETTINGS_FILE, ModelSettings, read_settings

PRETRAIN_FILE = "textsift-pretrain.json"  # written into a backbone folder by `textsift pretrain`
STATUSES = ("accepted", "rejected")
COLUMNS = ("step", "verb", "when (UTC)", "parent", "data", "metrics", "status")
SHORT = 12  # hex digits of a hash shown to people; the full digest stays in textsift.json


def folder_hash(folder: Path | str) -> str:
    """The sha256 hex digest of a model folder's textsift.json bytes, which identifies the folder's contents."""
    path = Path(folder) / SETTINGS_FILE
    if not path.is_file():
        raise TextsiftError(f"{folder}: not a textsift model folder (no {SETTINGS_FILE}); cannot record it as parent")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def step(
    verb: str,
    *,
    folder: Path | str,
    settings: ModelSettings,
    parent: Path | str | None = None,
    backbone: str | None = None,
    config: Any,
    metrics: Mapping[str, Any],
    status: str = "accepted",
) -> dict[str, Any]:
    """One lineage entry (the module docstring lists its keys); `step` is 1 until `extended` numbers it.

    Call it once the step's settings are final but before they are written into `folder`: `parent` is hashed as
    it is now, `backbone` defaults to `settings.backbone`, and `config` may be a config dataclass or a dict.
    """
    if status not in STATUSES:
        raise TextsiftError(f"lineage status must be {' or '.join(STATUSES)}, not {status!r}")
    return {
        "step": 1,
        "verb": verb,
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "folder": str(folder),
        "parent": None if parent is None else {"folder": str(parent), "sha256": folder_hash(parent)},
        "backbone": _backbone(backbone or settings.backbone),
        "data": {split: dataclasses.asdict(fp) for split, fp in settings.data.items()},
        "config": plain(config),
        "metrics": plain(metrics),
        "status": status,
    }


def extended(lineage: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The parent's lineage with `entry` appended as the next step; neither argument is changed."""
    number = int(lineage[-1].get("step", len(lineage))) + 1 if lineage else 1
    return [*lineage, {**entry, "step": number}]


def _backbone(name: str | None) -> dict[str, Any] | None:
    if name is None:
        return None
    record = Path(name) / PRETRAIN_FILE  # a hub name is no local folder, so it has none
    if not record.is_file():
        return {"name": name, "pretrain": None}
    try:
        return {"name": name, "pretrain": json.loads(record.read_text(encoding="utf-8"))}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TextsiftError(f"{record}: not valid JSON; restore it or pretrain the backbone again") from None


def plain(value: Any) -> Any:
    """`value` as JSON values: dataclasses and mappings become objects, sequences lists, paths strings, numpy
    scalars numbers; anything else its str."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalars, without importing numpy
        return value.item()
    return str(value)


def cells(entry: dict[str, Any]) -> dict[str, str]:
    """One entry as the short texts `textsift lineage` and the model card show, keyed by COLUMNS; a cell with
    several parts (a data split, one of the first three metrics) has one line per part."""
    parent = entry.get("parent")
    data = [f"{split}: {Path(d['file']).name}, {d['rows']} rows, {d['sha256'][:SHORT]}"
            for split, d in (entry.get("data") or {}).items()]
    return {"step": str(entry.get("step", "")), "verb": str(entry.get("verb", "")),
            "when (UTC)": str(entry.get("at", ""))[:16].replace("T", " "),
            "parent": parent["sha256"][:SHORT] if parent else "—",
            "data": "\n".join(data) or "—",
            "metrics": "\n".join(f"{k} {v:.4f}" for k, v in key_metrics(entry.get("metrics") or {})) or "—",
            "status": str(entry.get("status", ""))}


def key_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The numbers worth a glance: the first three validation scores (`metrics["validation"]`, else the top-level
    numbers) and, for an update, its backward transfer (`metrics["forgetting"]`: how much it forgot)."""
    validation = metrics.get("validation")
    scores = validation if isinstance(validation, Mapping) else metrics
    shown = [(name, value) for name, value in scores.items() if _is_number(value)][:3]
    forgetting = metrics.get("forgetting")
    if isinstance(forgetting, Mapping) and _is_number(forgetting.get("backward_transfer")):
        shown.append(("backward_transfer", forgetting["backward_transfer"]))
    return shown


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def unrecorded(settings: ModelSettings) -> str:
    """What to say of a folder written before textsift recorded lineage: its origin, from its settings."""
    train = settings.data.get("train")
    data = (f"{Path(train.file).name} ({train.rows} rows, sha256 {train.sha256[:SHORT]})" if train is not None
            else "unrecorded data")
    strategy = f"the {settings.strategy} strategy" if settings.strategy else "an unrecorded strategy"
    origin = f"trained with {strategy} from {settings.backbone or 'an unrecorded backbone'}"
    if settings.teacher:
        origin += f" with teacher {settings.teacher}"
    if settings.backend == "onnx":
        origin = f"exported to ONNX ({settings.quantize or 'fp32'}) from {settings.source}, {origin}"
    return f"no lineage recorded (written before textsift kept one); it was {origin} on {data}"


def lineage(model_dir: Path | str, as_json: bool = False) -> list[dict[str, Any]]:
    """Print a model folder's lineage on stdout, a table or (`as_json`) the raw list, and return it.

    A folder without lineage prints one line saying where its settings say it came from ([] with `as_json`).
    """
    settings = read_settings(model_dir)
    if as_json:
        sys.stdout.write(json.dumps(settings.lineage, indent=2) + "\n")
    elif not settings.lineage:
        sys.stdout.write(f"{model_dir}: {unrecorded(settings)}\n")
    else:
        _print_table(f"{model_dir}  ({len(settings.lineage)} steps)", settings.lineage)
    return settings.lineage


def _print_table(title: str, entries: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD)
    for column in COLUMNS:
        # Hashes, dates and numbers are read whole or not at all: only the data and metrics cells may wrap.
        table.add_column(column, no_wrap=column not in ("data", "metrics"), overflow="fold",
                         justify="right" if column == "step" else "left")
    for entry in entries:
        shown = cells(entry)
        table.add_row(*(shown[column] for column in COLUMNS))
    console = Console()
    if not console.is_terminal:  # a pipe or a file has no width to fit: give every cell its whole lines
        unbounded = console.options.update(max_width=10_000)
        console.width = max(console.width, console.measure(table, options=unbounded).maximum)
    console.print(table)
