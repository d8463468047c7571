"""`merge_predictions`: the outputs of `predict --shard i/n` runs joined into one file in input order, byte for byte
what one `predict` run over the file writes with the same model, chunk size and options (each chunk is batched and
scored the same way in either)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textsift.data.rows import RowWriter, columns_of, output_format
from textsift.errors import TextsiftError
from textsift.inference.shards import ROW, check_shards, merged_rows


def merge_predictions(shard_files: Sequence[Path | str], out: Path | str) -> int:
    """Join the outputs of every shard 0..n-1 of one sharded `predict` run into `out` (the shards' format), in
    input order and without their row column; returns the number of rows written.

    Streamed: one row per shard is held at a time. A missing, repeated, unfinished or mismatched shard stops it
    with one line naming the shard to rerun; `out` appears only when every row is written.
    """
    paths, out = [Path(p) for p in shard_files], Path(out)
    if not paths:
        raise TextsiftError("no shard files to merge; pass the outputs of the --shard runs, e.g. preds-*.csv")
    _check_formats(paths, out)
    if out.resolve() in {p.resolve() for p in paths}:
        raise TextsiftError(f"{out}: is one of the shard files; pass another --out")
    checked = check_shards(paths)
    with RowWriter(out, [column for column in columns_of(checked[0][0]) if column != ROW]) as writer:
        for row in merged_rows(checked):
            writer.write(row)
    return writer.rows


def _check_formats(paths: list[Path], out: Path) -> None:
    formats = {output_format(path) for path in paths}
    if len(formats) > 1 or output_format(out) not in formats:
        suffixes = ", ".join(sorted({path.suffix for path in paths}))
        raise TextsiftError(f"the shard files ({suffixes}) and --out {out.name} must share one format; pass shard "
                            f"files of one format and an --out with their suffix")
