"""The rehearsal buffer: earlier training rows a model folder keeps (in replay/) so `update` can train on them
beside the new data, and the check set of earlier validation rows that `update` measures forgetting on.

Selection is a stratified bottom-k sample: in each stratum (a class; the first label of a multi-label row's set;
one stratum for regression) the rows whose salted sha256 is smallest. Bottom-k samples merge: the k smallest of
(kept rows + new rows) are the k smallest of every row ever seen, so a buffer carried through several updates is
the sample one would draw from all their data at once, whatever the order of the files or the steps. The salt is
fixed, so the same rows give the same buffer on every machine. Strata share the bound equally (a class that has
fewer rows gives its spare to the others), so a rare old class is not crowded out by a large new one.

Without texts (`--no-keep-texts`) a row keeps its hash, stratum and label, and the frozen encoder's pooled
features go to replay/<name>.safetensors: enough to replay and to check a head-strategy model, whose encoder never
changes, without storing any training text.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textsift import files
from textsift.data.io import Label, Table
from textsift.errors import TextsiftError

REPLAY_DIR = "replay"
TRAIN_ROWS, CHECK_ROWS = "train", "check"  # the rehearsal rows, and the earlier validation rows
_SALT = b"textsift-replay-1"


@dataclass
class Row:
    """One kept row. `text` and `pair` are None when the folder keeps no texts."""

    key: str
    stratum: str
    label: Label
    text: str | None
    pair: str | None = None


@dataclass
class Buffer:
    """Kept rows, with the frozen encoder's features (one row each, same order) when texts are not kept."""

    rows: list[Row]
    features: np.ndarray | None = None

    @property
    def has_texts(self) -> bool:
        return all(row.text is not None for row in self.rows)

    def table(self, like: Table | None = None) -> Table:
        """The rows as a table (read like `like`: its label column and separator); line 0 marks a kept row."""
        pairs = [row.pair or "" for row in self.rows] if any(row.pair is not None for row in self.rows) else None
        column, sep = (like.label_column, like.label_sep) if like is not None else ("label", None)
        return Table(Path(REPLAY_DIR), [row.text or "" for row in self.rows], [row.label for row in self.rows],
                     [0] * len(self.rows), pairs, column, sep)

    def subset(self, idx: list[int]) -> Buffer:
        features = self.features[idx] if self.features is not None else None
        return Buffer([self.rows[i] for i in idx], features)


def stratum(label: Label, task: str) -> str:
    """The stratum a row is sampled in."""
    if task.endswith("regression"):
        return "*"
    if isinstance(label, tuple):
        return min(label) if label else ""
    return label


def rows_of(table: Table, task: str) -> list[Row]:
    """Every row of a labelled table as a buffer row (texts kept; `drop_texts` removes them)."""
    if table.labels is None:
        raise TextsiftError(f"{table.path}: the rehearsal buffer needs labelled rows")
    pairs: list[str | None] = list(table.pairs) if table.pairs is not None else [None] * len(table)
    return [Row(_key(text, pair), stratum(label, task), label, text, pair)
            for text, pair, label in zip(table.texts, pairs, table.labels, strict=True)]


def _key(text: str, pair: str | None) -> str:
    return hashlib.sha256(_SALT + text.encode() + b"\x1f" + (pair or "").encode()).hexdigest()


def select(rows: list[Row], size: int) -> list[int]:
    """Indices of the stratified bottom-k sample of at most `size` rows (a row seen twice counts once, the later
    copy winning), in key order."""
    latest: dict[str, int] = {}
    for i, row in enumerate(rows):
        latest[row.key] = i
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for i in latest.values():
        by_stratum[rows[i].stratum].append(i)
    kept: list[int] = []
    left = size
    # Smallest strata first, each taking its equal share of what is left; what one cannot fill goes to the rest.
    for n, name in enumerate(sorted(by_stratum, key=lambda s: (len(by_stratum[s]), s))):
        share = left // (len(by_stratum) - n)
        chosen = sorted(by_stratum[name], key=lambda i: rows[i].key)[:share]
        kept += chosen
        left -= len(chosen)
    return sorted(kept, key=lambda i: rows[i].key)


def carry(old: Buffer | None, new: Buffer, size: int,
          featurize: Callable[[list[tuple[str, str | None]]], np.ndarray] | None = None) -> Buffer:
    """The bounded sample of the rows in `old` and `new`. With `featurize` the sample keeps features instead of
    texts: kept rows bring theirs, chosen rows that have only a text are featurized (only those: a pass of the
    encoder costs far more than the selection)."""
    old_rows = old.rows if old is not None else []
    rows = old_rows + new.rows
    idx = select(rows, size)
    chosen = [rows[i] for i in idx]
    if featurize is None:
        if any(row.text is None for row in chosen):
            raise TextsiftError("the model folder keeps features, not texts; pass --no-keep-texts to update it")
        return Buffer(chosen)
    have = old.features if old is not None else None
    missing = [n for n, i in enumerate(idx) if have is None or i >= len(old_rows)]
    computed = featurize([(chosen[n].text or "", chosen[n].pair) for n in missing]) if missing else None
    width = have.shape[1] if have is not None else (computed.shape[1] if computed is not None else 0)
    features = np.zeros((len(idx), width), dtype=np.float32)
    if have is not None:
        for n, i in enumerate(idx):
            if i < len(old_rows):
                features[n] = have[i]
    if computed is not None:
        features[missing] = computed
    return Buffer([Row(r.key, r.stratum, r.label, None, None) for r in chosen], features)


def write(folder: Path, name: str, buffer: Buffer) -> Path:
    """replay/<name>.jsonl (and .safetensors with the features) inside a model folder."""
    out = folder / REPLAY_DIR
    out.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({k: v for k, v in asdict(row).items() if v is not None}, ensure_ascii=False)
             for row in buffer.rows]
    if buffer.features is not None:
        from safetensors.numpy import save_file

        save_file({"features": np.ascontiguousarray(buffer.features)}, str(out / f".{name}.safetensors.tmp"))
        files.publish(out / f".{name}.safetensors.tmp", out / f"{name}.safetensors")
    else:
        (out / f"{name}.safetensors").unlink(missing_ok=True)
    return files.write_text(out / f"{name}.jsonl", "".join(line + "\n" for line in lines))


def read(folder: Path, name: str) -> Buffer | None:
    """The buffer a model folder keeps under `name`, or None when it keeps none."""
    path = folder / REPLAY_DIR / f"{name}.jsonl"
    if not path.is_file():
        return None
    rows = [_row(path, n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]
    features = None
    if (folder / REPLAY_DIR / f"{name}.safetensors").is_file():
        from safetensors.numpy import load_file  # safetensors, never pickle: the folder may come from anywhere

        features = load_file(str(folder / REPLAY_DIR / f"{name}.safetensors"))["features"]
        if len(features) != len(rows):
            raise TextsiftError(f"{path}: {len(rows)} rows but {len(features)} feature rows; restore the folder")
    buffer = Buffer(rows, features)
    if features is None and not buffer.has_texts:
        raise TextsiftError(f"{path}: rows without texts and no features; restore the folder")
    return buffer


def _row(path: Path, line: int, raw: str) -> Row:
    try:
        value: dict[str, Any] = json.loads(raw)
        label = tuple(value["label"]) if isinstance(value["label"], list) else str(value["label"])
        return Row(str(value["key"]), str(value["stratum"]), label, value.get("text"), value.get("pair"))
    except (json.JSONDecodeError, KeyError, TypeError):
        raise TextsiftError(f"{path}:{line}: not a rehearsal row (key, stratum, label); restore the folder") from None

