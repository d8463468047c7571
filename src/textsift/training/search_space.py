"""The search space of `textsift tune`: a small default per strategy, overridable from a JSON file, keyed by the
train flags' field names (learning_rate, head_hidden_size, lora_r ...), each mapped to its place in TrainConfig.

An entry is a range, {"low": 1e-4, "high": 1e-2, "log": true} (an integer field takes integer bounds and an
optional "step"), or a list, {"choices": [16, 32]}; null in the file drops a default entry.
"""

from __future__ import annotations

import dataclasses
import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin, get_type_hints

from textsift.config import Strategy, TrainConfig
from textsift.errors import TextsiftError

# Small on purpose: 20 trials cover a handful of dimensions, not a dozen. Ranges bracket each strategy's default
# (train's docs and BENCHMARKS.md); batch sizes stay where a 2-core CPU and a GPU both cope.
DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "head": {"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
             "head_hidden_size": {"choices": [0, 256, 1024]}, "pool_layers": {"choices": [1, 2, 3]},
             "batch_size": {"choices": [16, 32, 64]}},
    "full": {"learning_rate": {"low": 1e-5, "high": 1e-4, "log": True}, "batch_size": {"choices": [16, 32]},
             "warmup_ratio": {"low": 0.0, "high": 0.2}, "weight_decay": {"choices": [0.0, 0.01, 0.1]}},
    "lora": {"learning_rate": {"low": 1e-4, "high": 2e-3, "log": True}, "lora_r": {"choices": [4, 8, 16]},
             "lora_alpha": {"choices": [8, 16, 32]}},
    "fewshot": {"pairs_per_example": {"choices": [5, 10, 20]},
                "contrastive_learning_rate": {"low": 5e-6, "high": 1e-4, "log": True},
                "learning_rate": {"low": 1e-3, "high": 1e-1, "log": True}},
}
# What a trial is, not how it trains: the same for every trial, so never searched.
FIXED = {"train_file", "validation_file", "out", "resume", "device", "num_threads", "task", "strategy", "init_from",
         "nproc", "text_column", "label_column", "text_pair_column", "label_sep"}
RANGE_KEYS, CHOICE_KEYS = {"low", "high", "log", "step"}, {"choices"}


class Field(NamedTuple):
    """Where a flat name lives in TrainConfig, its type (a Literal's is str) and whether None is allowed."""

    path: tuple[str, ...]
    type: Any
    optional: bool

    def fits(self, value: Any) -> bool:
        """Whether the field can take `value` as a choice (an int is a float; a bool is neither)."""
        if value is None:
            return self.optional
        if self.type is float:
            return isinstance(value, int | float) and not isinstance(value, bool)
        if self.type is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return not isinstance(self.type, type) or isinstance(value, self.type)


@dataclass(frozen=True)
class Param:
    """One searched setting: where it lives in TrainConfig, and a range (low, high, log, step) or choices."""

    name: str
    path: tuple[str, ...]
    kind: Literal["int", "float", "choice"]
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def candidates(self) -> list[Any]:
        """Values whose config must be valid for the whole range to be: the ends, or every choice."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


def tunable_fields(cls: type = TrainConfig, prefix: tuple[str, ...] = ()) -> dict[str, Field]:
    """Flat field name -> where it lives and what it takes, for every searchable field, nested configs included."""
    out: dict[str, Field] = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint, optional = _without_none(hints[f.name])
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out |= tunable_fields(hint, (*prefix, f.name))
        elif f.name not in FIXED:
            out[f.name] = Field((*prefix, f.name), hint, optional)
    return out


def read_space(strategy: Strategy, file: Path | None) -> dict[str, Param]:
    """The strategy's default space with the file's entries laid over it."""
    raw: dict[str, Any] = dict(DEFAULT_SPACES[strategy])
    source = str(file) if file is not None else f"the {strategy} default space"
    if file is not None:
        try:
            given = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TextsiftError(f"{file}: cannot read the search space ({e})") from None
        if not isinstance(given, dict):
            raise TextsiftError(f"{file}: a search space is a JSON object of settings, e.g. "
                                '{"learning_rate": {"low": 1e-4, "high": 1e-2, "log": true}}')
        raw.update(given)
    fields = tunable_fields()
    parsed = {name: parse(name, entry, fields, source) for name, entry in raw.items()}
    return {name: param for name, param in parsed.items() if param is not None}


def parse(name: str, entry: Any, fields: dict[str, Field], source: str) -> Param | None:
    """One entry of the space (None for a dropped one), or one line naming the source and the problem."""
    if name not in fields:
        hint = " (it is the same for every trial)" if name in FIXED else ""
        raise TextsiftError(f"{source}: {name!r} is not a setting tune can search{hint}; use a train flag name "
                            "with underscores, e.g. learning_rate")
    if entry is None:
        return None
    path, hint, _ = fields[name]
    if not isinstance(entry, dict) or not entry or not (set(entry) <= RANGE_KEYS or set(entry) == CHOICE_KEYS):
        raise TextsiftError(f"{source}: {name} must be {{\"low\": ..., \"high\": ...}} (optionally \"log\", "
                            f"\"step\") or {{\"choices\": [...]}}, not {json.dumps(entry)}")
    if "choices" in entry:
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices or not all(fields[name].fits(c) for c in choices):
            kind = getattr(hint, "__name__", str(hint))
            raise TextsiftError(f"{source}: {name}'s choices must be a non-empty list of {kind} values, not "
                                f"{json.dumps(choices)}")
        return Param(name, path, "choice", choices=tuple(choices))
    if hint not in (int, float):
        raise TextsiftError(f"{source}: {name} is not a number; give it {{\"choices\": [...]}}")
    return _range(name, path, hint, entry, source)


def _range(name: str, path: tuple[str, ...], hint: type, entry: dict[str, Any], source: str) -> Param:
    low, high, log, step = entry.get("low"), entry.get("high"), entry.get("log", False), entry.get("step")
    numbers = [v for v in (low, high, step) if v is not None]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers) or low is None \
            or high is None or not isinstance(log, bool):
        raise TextsiftError(f"{source}: {name} needs numbers low and high (and log true or false)")
    if hint is int and not all(isinstance(v, int) for v in numbers):
        raise TextsiftError(f"{source}: {name} is an integer setting; give it integer low, high and step")
    if low >= high or (log and low <= 0) or (log and step is not None) or (step is not None and step <= 0):
        raise TextsiftError(f"{source}: {name} needs low < high, low > 0 with log, and step > 0 without log "
                            f"(got {json.dumps(entry)})")
    return Param(name, path, "int" if hint is int else "float", float(low), float(high), log,
                 float(step) if step is not None else None)


def check_space(space: dict[str, Param], base: TrainConfig, source: str) -> None:
    """Every end of every range and every choice makes a valid training config, so no trial fails on a setting."""
    for param in space.values():
        for value in param.candidates():
            try:
                with_params(base, {param.name: value}, base.out)
            except (TextsiftError, TypeError) as e:
                raise TextsiftError(f"{source}: {param.name} = {value!r} is not a valid setting ({e})") from None


def suggest(trial: Any, space: dict[str, Param]) -> dict[str, Any]:
    """Draw one value per parameter from an Optuna trial."""
    values: dict[str, Any] = {}
    for p in space.values():
        if p.kind == "choice":
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)
    return values


def with_params(base: TrainConfig, params: dict[str, Any], out: Path) -> TrainConfig:
    """A plain TrainConfig (never a subclass) with the fixed settings of `base` and the trial's `params`."""
    fields = tunable_fields()
    changes: dict[str, Any] = {f.name: getattr(base, f.name) for f in dataclasses.fields(TrainConfig)}
    changes["out"] = out
    nested: dict[str, dict[str, Any]] = {}
    for name, value in params.items():
        path = fields[name].path
        if len(path) == 1:
            changes[name] = value
        else:
            nested.setdefault(path[0], {})[path[1]] = value
    for group, values in nested.items():
        changes[group] = dataclasses.replace(changes[group], **values)
    return TrainConfig(**changes)


def _without_none(hint: Any) -> tuple[Any, bool]:
    """(the type a field takes besides None, whether it takes None); a Literal of strings takes str."""
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        kept = [a for a in get_args(hint) if a is not type(None)]
        optional, hint = len(kept) < len(get_args(hint)), kept[0] if len(kept) == 1 else Any
    return (str if get_origin(hint) is Literal else hint), optional
