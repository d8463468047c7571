"""Reading events: a JSONL, CSV or TSV file, stdin, or a growing JSONL file (--follow).

An event is {"id", "ts", "source", "text"}; only text is required. ts is seconds since the epoch or ISO 8601
(UTC unless it says otherwise; absent: the time it was read); source defaults to --source; id defaults to a hash
of (source, ts, text), so the same line ingested twice is one event. A malformed line stops the read with its
file and line number: nothing is skipped silently.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from textsift.data import rows
from textsift.errors import DataError


@dataclass
class Event:
    id: str
    ts: float
    source: str
    text: str

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.id


def events(path: Path | str, *, source: str, follow: bool = False, poll_s: float = 0.5,
           stop: Any = None) -> Iterator[Event | None]:
    """The events of `path` ('-' for stdin) in order. With `follow`, None marks each quiet poll (so a caller can
    flush a partial batch) and reading goes on until `stop()` is true."""
    name = str(path)
    if name == "-":
        yield from _jsonl_lines(sys.stdin, "<stdin>", source)
        return
    file = Path(path)
    if not file.is_file():
        raise DataError(file, None, "no such file", "check the path")
    suffix = file.suffix.lower()
    if suffix in (".csv", ".tsv"):
        if follow:
            raise DataError(file, None, "--follow reads JSONL (one event per line)", "write the stream as .jsonl")
        yield from _table(file, source, "\t" if suffix == ".tsv" else ",")
        return
    if suffix not in (".jsonl", ".ndjson", ".json"):
        raise DataError(file, None, f"unknown event file type {suffix!r}", "use .jsonl, .csv or .tsv")
    with file.open(encoding="utf-8", newline="") as f:
        if not follow:
            yield from _jsonl_lines(f, name, source)
            return
        yield from _follow(f, name, source, poll_s, stop)


def _follow(f: IO[str], name: str, source: str, poll_s: float, stop: Any) -> Iterator[Event | None]:
    number, partial = 0, ""
    while stop is None or not stop():
        line = f.readline()
        if not line:
            yield None
            time.sleep(poll_s)
            continue
        partial += line
        if not partial.endswith("\n"):  # the writer is mid-line: wait for the rest
            continue
        number += 1
        if partial.strip():
            yield parse(json_object(partial, name, number), name, number, source)
        partial = ""


def _jsonl_lines(f: IO[str], name: str, source: str) -> Iterator[Event]:
    for number, line in enumerate(f, 1):
        if line.strip():
            yield parse(json_object(line, name, number), name, number, source)


def _table(file: Path, source: str, delimiter: str) -> Iterator[Event]:
    with file.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if not reader.fieldnames or "text" not in reader.fieldnames:
            raise DataError(file, 1, f"no 'text' column (columns: {reader.fieldnames})", "name the text column text")
        for row in reader:
            yield parse(row, str(file), reader.line_num, source)


def json_object(line: str, name: str, number: int) -> dict[str, Any]:
    return rows.json_object(line, name, number, '{"id": …, "ts": …, "source": …, "text": …}')


def parse(row: dict[str, Any], name: str, number: int, source: str) -> Event:
    """One event from a row's fields, or a DataError saying which field is wrong."""
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DataError(name, number, "the event has no text", "give every event a non-empty 'text'")
    src = row.get("source") or source
    if not isinstance(src, str):
        raise DataError(name, number, f"source {src!r} is not a string", "give the source as a string")
    ts = timestamp(row.get("ts"), name, number)
    raw_id = row.get("id")
    if raw_id in (None, ""):
        raw_id = hashlib.sha256(f"{src}\x1f{ts}\x1f{text}".encode()).hexdigest()[:24]
    elif not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise DataError(name, number, f"id {raw_id!r} is not a string or an integer", "give ids as strings")
    return Event(str(raw_id), ts, src, text)


def timestamp(value: Any, name: str, number: int) -> float:
    if value in (None, ""):
        return time.time()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise DataError(name, number, f"ts {value!r} is neither seconds since the epoch nor ISO 8601",
                    "write ts like 2026-12-01T09:30:00Z or 1796117400")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
