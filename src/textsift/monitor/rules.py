"""Alert rules written as one line, e.g. `share(negative) > baseline + 3 sigma over 1h, min 20`.

    rule    := METRIC(LABEL) OP BOUND over DURATION [, min N] [, cooldown DURATION] [, source NAME]
               [, baseline N windows] [, clear N windows]
    METRIC  := share   (the fraction of a window's events whose answer has LABEL)
             | mean    (the mean score of LABEL over a window's events: its probability, or a regression's value)
    OP      := > | <   (a rise or a fall)
    BOUND   := NUMBER                            threshold: fires when the window's metric passes it
             | baseline + K sigma                z-score test against the rolling baseline (`-` with `<`)
             | baseline by cusum(k=K, h=H)       one-sided CUSUM of the z-scores
             | baseline by ewma(lambda=L, L=W)   EWMA of the z-scores against W asymptotic sigmas (0.4, 3.054)
    DURATION := N s|m|h|d, a whole number of minutes

The detectors themselves live in textsift.monitor.detectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from textsift.errors import TextsiftError

DETECTORS = ("threshold", "zscore", "cusum", "ewma")
# EWMA: lambda 0.4, L 3.054 keeps the false-alarm rate of the former 0.3 / 3 (a one-sided in-control run of about 990
# windows against 945, by simulation of N(0, 1) z: about 0.17 false alarms per week of hourly windows) and answers a
# jump faster: 20/20 doublings at 60 events/window caught within 2 windows against 19/20
# (benchmarks/monitor_detection.py, BENCHMARKS.md "Monitor").
DEFAULTS = {"cusum": {"k": 0.5, "h": 5.0}, "ewma": {"lambda": 0.4, "L": 3.054}}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HEAD = re.compile(r"^\s*(share|mean)\(\s*([^()]+?)\s*\)\s*([<>])\s*(.+?)\s+over\s+(\d+\s*[smhd])\s*(.*)$")
_ZSCORE = re.compile(r"^baseline\s*([+-])\s*([0-9.]+)\s*sigma$")
_SEQUENTIAL = re.compile(r"^baseline\s+by\s+(cusum|ewma)\s*(?:\((.*)\))?$")
_NUMBER = re.compile(r"^-?[0-9]*\.?[0-9]+$")


@dataclass(frozen=True)
class Rule:
    """A parsed rule; `text` is how it was written."""

    text: str
    metric: str  # share | mean
    label: str
    rising: bool  # '>' watches for a rise, '<' for a fall
    detector: str  # threshold | zscore | cusum | ewma
    window: int  # seconds
    threshold: float | None = None  # threshold: the bound; zscore: K sigmas
    params: dict[str, float] = field(default_factory=dict)  # cusum: k, h; ewma: lambda, L
    min_volume: int = 20
    cooldown: int = 0  # seconds after an episode ends during which the rule does not fire again
    source: str | None = None  # None watches all sources together
    baseline_windows: int = 24
    clear_windows: int = 2  # an episode resolves after this many quiet windows in a row; a dip does not re-fire

    @property
    def needs_baseline(self) -> bool:
        return self.detector != "threshold"


def parse_rule(text: str) -> Rule:
    """Read one rule; a malformed one is one line saying what is wrong and showing the form."""
    match = _HEAD.match(text)
    if not match:
        raise _bad(text, "expected METRIC(LABEL) > BOUND over DURATION")
    metric, label, op, bound, duration, rest = match.groups()
    fields: dict[str, object] = {"text": text.strip(), "metric": metric, "label": label, "rising": op == ">",
                                 "window": _duration(text, duration)}
    fields |= _bound(text, bound.strip(), op)
    for option in filter(None, (o.strip() for o in rest.split(","))):
        fields |= _option(text, option)
    rule = Rule(**fields)  # type: ignore[arg-type]
    if rule.window % 60:
        raise _bad(text, f"the window must be a whole number of minutes, not {rule.window} s")
    if rule.min_volume < 1 or rule.baseline_windows < 2 or rule.clear_windows < 1:
        raise _bad(text, "min and clear must be at least 1, baseline at least 2 windows")
    return rule


def _bound(text: str, bound: str, op: str) -> dict[str, object]:
    if _NUMBER.match(bound):
        return {"detector": "threshold", "threshold": float(bound)}
    if match := _ZSCORE.match(bound):
        if (match[1] == "+") != (op == ">"):
            raise _bad(text, "a rise is 'baseline + K sigma' with '>', a fall 'baseline - K sigma' with '<'")
        return {"detector": "zscore", "threshold": float(match[2])}
    if match := _SEQUENTIAL.match(bound):
        kind, args = match[1], match[2] or ""
        params = dict(DEFAULTS[kind])
        for pair in filter(None, (a.strip() for a in args.split(","))):
            key, _, value = pair.partition("=")
            if key.strip() not in params or not _NUMBER.match(value.strip()):
                raise _bad(text, f"{kind} takes {', '.join(f'{k}=NUMBER' for k in params)}, not {pair!r}")
            params[key.strip()] = float(value)
        if kind == "ewma" and not 0 < params["lambda"] <= 1:
            raise _bad(text, "ewma lambda must be in (0, 1]")
        return {"detector": kind, "params": params}
    raise _bad(text, f"unknown bound {bound!r}: a number, 'baseline + K sigma', 'baseline by cusum(k=0.5, h=5)' "
                     "or 'baseline by ewma(lambda=0.4, L=3.054)'")


def _option(text: str, option: str) -> dict[str, object]:
    key, _, value = option.partition(" ")
    value = value.strip()
    if key == "min" and value.isdigit():
        return {"min_volume": int(value)}
    if key == "cooldown":
        return {"cooldown": _duration(text, value)}
    if key == "source" and value:
        return {"source": value}
    if key in ("baseline", "clear") and re.fullmatch(r"\d+(\s+windows?)?", value):
        return {f"{key}_windows": int(value.split()[0])}
    raise _bad(text, f"unknown option {option!r}: min N, cooldown DURATION, source NAME, baseline N windows or "
                     "clear N windows")


def _duration(text: str, value: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([smhd])", value.strip())
    if not match or int(match[1]) == 0:
        raise _bad(text, f"{value!r} is not a duration like 30m, 1h or 1d")
    return int(match[1]) * _UNITS[match[2]]


def _bad(text: str, problem: str) -> TextsiftError:
    return TextsiftError(f"rule {text.strip()!r}: {problem}; e.g. \"share(negative) > baseline + 3 sigma over 1h, "
                         "min 20\"")
