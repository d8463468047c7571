"""Shards of one `predict` run: the `--shard i/n` spec, the manifest a shard run writes beside its output, and the
checked, streamed merge of the shard files back into input order.

Chunk k of the input (`chunk_size` rows each, k = 0, 1, ... in input order) belongs to shard k % n. A shard's output
starts with a `row` column (the 0-based input row) and has `<output>.shard.json` beside it: removed when a run of
that shard starts and written once its output is published, so an output with a manifest is a finished run's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from textsift import files
from textsift.data.rows import read_rows
from textsift.errors import DataError, TextsiftError
from textsift.modeling.settings import SETTINGS_FILE

ROW = "row"  # the first column of a shard's output: the row's 0-based index in the input
MANIFEST_SUFFIX = ".shard.json"
SAMPLE_BYTES = 1 << 20  # the input's fingerprint hashes this much of its start and of its end


@dataclass(frozen=True)
class ShardSpec:
    """Shard `index` of `count`: the chunks k with k % count == index."""

    index: int
    count: int

    def owns(self, chunk: int) -> bool:
        return chunk % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(spec: str) -> ShardSpec:
    """`i/n` with 0 <= i < n, or one line saying what to write."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if match is None or int(match[1]) >= int(match[2]):
        raise TextsiftError(f"--shard {spec!r} is not a shard; write i/n with 0 <= i < n, e.g. --shard 0/4 for the "
                            "first of 4 runs")
    return ShardSpec(int(match[1]), int(match[2]))


def shard_rows(spec: ShardSpec, chunk_size: int, input_rows: int) -> int:
    """How many of `input_rows` rows the chunks of `spec` hold."""
    chunks = -(-input_rows // chunk_size)
    return sum(min(chunk_size, input_rows - k * chunk_size) for k in range(spec.index, chunks, spec.count))


@dataclass
class Manifest:
    """What a shard run records beside its output. Every field but `shard` and `rows` describes the whole run and
    must agree across the shards being merged; `options` are the other settings that decide the rows written."""

    shard: int
    shards: int
    rows: int
    input_rows: int
    chunk_size: int
    options: dict[str, Any]
    input: dict[str, Any]
    model: dict[str, Any]
    version: int = 1

    @property
    def spec(self) -> ShardSpec:
        return ShardSpec(self.shard, self.shards)


def input_fingerprint(path: Path) -> dict[str, Any]:
    """The input by its size and the sha256 of its first and last MiB. O(1) for any size (a full hash would read
    the file once more per shard), and the same for a copy of the file on another machine, which an mtime is not
    (cp, downloads); a file regenerated, appended to, truncated or swapped still differs. It misses an edit that
    keeps the size and touches neither end."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as f:
        digest.update(f.read(SAMPLE_BYTES))
        if size > SAMPLE_BYTES:
            f.seek(max(size - SAMPLE_BYTES, SAMPLE_BYTES))
            digest.update(f.read())
    return {"name": path.name, "bytes": size, "head_tail_sha256": digest.hexdigest()}


def model_fingerprint(folder: Path) -> dict[str, Any]:
    """The model folder by the sha256 of its textsift.json, which lists the sha256 of every file a loader reads:
    weights and tokenizer pinned without hashing gigabytes."""
    return {"name": folder.name, "textsift_json_sha256": files.sha256(folder / SETTINGS_FILE)}


def manifest_path(output: Path) -> Path:
    return output.with_name(output.name + MANIFEST_SUFFIX)


def write_manifest(output: Path, manifest: Manifest) -> None:
    files.write_text(manifest_path(output), json.dumps(dataclasses.asdict(manifest), indent=2) + "\n")


def read_manifest(output: Path) -> Manifest | None:
    """The manifest beside a shard's output; None when there is none (its run did not finish)."""
    path = manifest_path(output)
    if not path.is_file():
        return None
    try:
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
        raise TextsiftError(f"{path}: not a shard manifest; rerun the shard that wrote {output.name}") from None


def check_shards(paths: Sequence[Path]) -> list[tuple[Path, Manifest]]:
    """The shard files with their manifests, by shard index, once they are proven to be every shard 0..n-1 of one
    run, each once and complete; otherwise one line naming the shard to rerun."""
    found, unfinished = [], []
    for path in paths:
        if not path.is_file():
            raise DataError(path, None, "file not found", "check the path")
        manifest = read_manifest(path)
        if manifest is None:
            unfinished.append(path)
        else:
            found.append((path, manifest))
    if not found:
        raise TextsiftError(f"none of the files has a shard manifest (<file>{MANIFEST_SUFFIX}); pass the outputs "
                            "of finished `textsift predict --shard i/n --out FILE` runs")
    found.sort(key=lambda pair: pair[1].shard)
    for path, manifest in found:
        _check_same_run(found[0], (path, manifest))
    _check_each_shard_once(found)
    return _check_none_missing(found, unfinished)


def _check_same_run(first: tuple[Path, Manifest], other: tuple[Path, Manifest]) -> None:
    (first_path, a), (path, b) = first, other
    differs = [name for name, x, y in (
        ("number of shards", a.shards, b.shards), ("chunk_size", a.chunk_size, b.chunk_size),
        ("options", a.options, b.options), ("model", _pinned(a.model), _pinned(b.model)),
        ("input file", _pinned(a.input), _pinned(b.input)), ("input rows", a.input_rows, b.input_rows)) if x != y]
    if differs:
        rerun = f"{b.shard}/{a.shards}" if b.shard < a.shards else f"i/{a.shards}"
        raise TextsiftError(f"{path}: shard {b.spec} was run with another {' and '.join(differs)} than shard "
                            f"{a.spec} ({first_path}); rerun it with --shard {rerun} and the same model, file and "
                            "options")


def _pinned(fingerprint: dict[str, Any]) -> dict[str, Any]:
    """A fingerprint without its name: copies of one file under other names (or on other machines) agree."""
    return {key: value for key, value in fingerprint.items() if key != "name"}


def _check_each_shard_once(found: list[tuple[Path, Manifest]]) -> None:
    seen: dict[int, Path] = {}
    for path, manifest in found:
        if manifest.shard in seen:
            raise TextsiftError(f"{seen[manifest.shard]} and {path} are both shard {manifest.spec}; pass one of them "
                                f"(or rerun it with --shard {manifest.spec})")
        seen[manifest.shard] = path
        expected = shard_rows(manifest.spec, manifest.chunk_size, manifest.input_rows)
        if manifest.rows != expected:
            raise TextsiftError(f"{path}: shard {manifest.spec} holds {manifest.rows} rows but its chunks of the "
                                f"{manifest.input_rows} input rows hold {expected}; rerun it with "
                                f"--shard {manifest.spec}")


def _check_none_missing(found: list[tuple[Path, Manifest]], unfinished: list[Path]) -> list[tuple[Path, Manifest]]:
    count = found[0][1].shards
    missing = sorted(set(range(count)) - {manifest.shard for _, manifest in found})
    note = f" ({', '.join(map(str, unfinished))}: no manifest beside it, its run did not finish)" if unfinished else ""
    if missing:
        shards, more = ", ".join(f"{i}/{count}" for i in missing), len(missing) > 1
        raise TextsiftError(f"shard {shards} {'are' if more else 'is'} missing{note}; rerun it with "
                            f"--shard {missing[0]}/{count}" + (" (and the others likewise)" if more else ""))
    if unfinished:
        raise TextsiftError(f"{unfinished[0]}: no manifest beside it, its run did not finish; leave it out, or rerun "
                            "its shard with --shard i/n")
    return found


def merged_rows(shards: list[tuple[Path, Manifest]]) -> Iterator[dict[str, Any]]:
    """The checked shards' rows in input order without their `row` column: a k-way merge holding one row per shard
    in memory. A row out of place (a shard file edited or cut short) stops it naming the shard to rerun."""
    run = shards[0][1]
    expected = 0
    for number, path, row in heapq.merge(*(_numbered_rows(path) for path, _ in shards), key=itemgetter(0)):
        if number != expected:
            owner = _owner(min(number, expected), run)  # the shard missing row `expected`, or repeating `number`
            raise TextsiftError(f"{path}: input row {number} where row {expected} belongs, so shard {owner} is "
                                f"incomplete; rerun it with --shard {owner}")
        expected += 1
        yield row
    if expected != run.input_rows:
        owner = _owner(expected, run)
        raise TextsiftError(f"shard {owner} is incomplete: the shards end at input row {expected} of "
                            f"{run.input_rows}; rerun it with --shard {owner}")


def _numbered_rows(path: Path) -> Iterator[tuple[int, Path, dict[str, Any]]]:
    for line, row in read_rows(path, [ROW]):
        raw = row.pop(ROW)
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise DataError(path, line, f"{ROW} {raw!r} is not a row number", "rerun the shard") from None
        yield number, path, row


def _owner(row: int, run: Manifest) -> ShardSpec:
    return ShardSpec(row // run.chunk_size % run.shards, run.shards)
