"""Rows of one file that repeat rows of another, exactly or nearly: `textsift data leaks`, and the warnings train
and evaluate give when validation or test rows are near-copies of training rows (they inflate the scores).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from textsift import files
from textsift.data.config import LeaksConfig
from textsift.data.io import Item, Table
from textsift.data.rows import read_rows

if TYPE_CHECKING:
    from textsift.data.dedupe import Leak

log = logging.getLogger("textsift")
SHOWN = 3  # line pairs a warning names; the report and `data leaks` list them all


@dataclass
class LeakReport:
    """The pairs of lines found: `second` rows that repeat `first` rows, each with its kind (exact or near) and
    the Jaccard similarity of the two texts' word sets (1.0 for exact)."""

    first: str
    second: str
    threshold: float
    rows_first: int = 0
    rows_second: int = 0
    exact: int = 0
    near: int = 0
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per pair, then the totals, for the terminal."""
        out = [f"{self.second}:{p['second_line']}\t{p['kind']}\t{p['similarity']:.2f}\t{self.first}:{p['first_line']}"
               for p in self.pairs]
        share = (self.exact + self.near) / max(self.rows_second, 1)
        out.append(f"{self.exact} exact and {self.near} near-duplicate rows of {self.second} ({share:.1%} of "
                   f"{self.rows_second}) repeat rows of {self.first} (threshold {self.threshold})")
        return out


def file_leaks(cfg: LeaksConfig) -> LeakReport:
    """Rows of `cfg.second` that repeat rows of `cfg.first`, with their lines (and the JSON report, if asked)."""
    from textsift.data.dedupe import find_leaks

    if cfg.report is not None:
        files.writable_file(cfg.report, "--report")
    columns = [cfg.data.text_column] + ([cfg.data.text_pair_column] if cfg.data.text_pair_column else [])
    first = [(line, "\n".join(str(row[c]) for c in columns)) for line, row in read_rows(cfg.first, columns)]
    second = [(line, "\n".join(str(row[c]) for c in columns)) for line, row in read_rows(cfg.second, columns)]
    found = find_leaks(first, second, cfg.threshold)
    report = _report(str(cfg.first), str(cfg.second), cfg.threshold, len(first), len(second), found)
    if cfg.report is not None:
        files.write_text(cfg.report, json.dumps(asdict(report), indent=1) + "\n")
    return report


def _report(first: str, second: str, threshold: float, rows_first: int, rows_second: int,
            found: list[Leak]) -> LeakReport:
    pairs = [{"first_line": leak.first_line, "second_line": leak.second_line, "kind": leak.kind,
              "similarity": round(leak.similarity, 3)} for leak in found]
    exact = sum(leak.kind == "exact" for leak in found)
    return LeakReport(first, second, threshold, rows_first, rows_second, exact, len(found) - exact, pairs)


def _key(item: Item) -> str:
    return item if isinstance(item, str) else "\n".join(item)


def warn_leaks(first: Table, second: Table, threshold: float = 0.8) -> int:
    """Warn (with line pairs) about rows of `second` that repeat rows of `first` exactly or nearly; their count.

    Needs the clean extra (datasketch, for the near-duplicates).
    """
    from textsift.data.dedupe import find_leaks

    found = find_leaks(zip(first.lines, map(_key, first.inputs), strict=True),
                       zip(second.lines, map(_key, second.inputs), strict=True), threshold)
    if found:
        report = _report(str(first.path), str(second.path), threshold, len(first), len(second), found)
        sample = ", ".join(f"{second.path}:{p['second_line']} {'=' if p['kind'] == 'exact' else '~'} "
                           f"{first.path}:{p['first_line']}" for p in report.pairs[:SHOWN])
        log.warning("%d rows of %s repeat rows of %s (%d exact, %d near-duplicates: %s%s); they inflate its "
                    "scores, see `textsift data leaks`", len(found), second.path, first.path, report.exact,
                    report.near, sample, ", ..." if len(found) > SHOWN else "")
    return len(found)
