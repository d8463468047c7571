"""Batch inference with Dask: `textsift predict` over the partitions of a large table, on a local cluster.

    pip install 'textsift[dask]'
    python examples/dask_predict.py models/movie-snippets data/movie-snippets/test.csv --out preds --workers 2

Each worker process loads the model once (on its first partition) and predicts its partitions one at a time with
one CPU thread, so 2 workers use 2 cores. The output is a folder of CSV files, one per partition in input order
(`--out preds.parquet`: a Parquet dataset), with the columns of `textsift predict`'s CSV, after --keep columns.
On a real cluster, connect to it instead of starting one: Client("tcp://scheduler:8786"); the model folder must be
at the same path on every worker.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import dask.dataframe as dd
from dask.distributed import Client, LocalCluster

from textsift import PartitionPredictor


def predict_table(model_dir: Path | str, inputs: Path | str, out: Path | str, *, blocksize: int | str = "16MB",
                  keep_columns: Sequence[str] = (), num_threads: int = 1) -> Path:
    """The recipe, on the current Dask client: read the table in partitions, predict each with its worker's model,
    write one file per partition. Returns `out`."""
    inputs, out = Path(inputs), Path(out)
    if inputs.suffix == ".parquet":
        frame = dd.read_parquet(inputs)
    else:
        # Every cell as text, as `textsift predict` reads a CSV: a review that says "NA" or "null" is a text, not a
        # missing value (an empty cell is still refused). Blocks split at line ends: texts holding line breaks
        # inside quotes need blocksize=None (one partition per file) or Parquet.
        frame = dd.read_csv(inputs, blocksize=blocksize, dtype=str, na_filter=False)
    predictor = PartitionPredictor(model_dir, keep_columns=keep_columns, num_threads=num_threads)
    predictions = frame.map_partitions(predictor, meta=predictor.meta(frame))  # meta: no partition is computed
    if out.suffix == ".parquet":
        predictions.to_parquet(out, write_index=False)
    else:
        predictions.to_csv(out / "part-*.csv", index=False)  # zero-padded numbers: sorted names are input order
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a model folder (torch or ONNX)")
    parser.add_argument("inputs", type=Path, help="a CSV file or glob, or a Parquet file or folder")
    parser.add_argument("--out", type=Path, required=True, help="a folder for CSV parts, or a .parquet folder")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, one model each; about one per core")
    parser.add_argument("--blocksize", default="16MB", help="CSV bytes per partition")
    parser.add_argument("--keep", nargs="*", default=[], help="input columns to carry into the output (an id)")
    args = parser.parse_args()
    # One thread per worker: the workers, not torch's threads, share out the cores (no oversubscription).
    with (LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
          Client(cluster)):
        out = predict_table(args.model, args.inputs, args.out, blocksize=args.blocksize, keep_columns=args.keep)
    print(f"predictions in {out}")


if __name__ == "__main__":  # required: the worker processes are spawned and import this file again
    main()
