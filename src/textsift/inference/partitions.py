"""`PartitionPredictor`: `predict` as a function of one pandas DataFrame, for Dask's `map_partitions` (or any engine
that ships a function to worker processes). Pickled, it is a folder path and options only; each worker process
loads the model on its first partition and keeps it for the rest.

pandas is imported on first use (the [dask] extra brings it); this module never imports dask: the recipe that
drives it is the user's own Dask code (examples/dask_predict.py).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from textsift._optional import require
from textsift.config import InferenceConfig
from textsift.data.io import Item
from textsift.errors import TextsiftError
from textsift.inference.load import load
from textsift.inference.outputs import flat_columns, flat_row, score_columns
from textsift.inference.predictor import Predictor
from textsift.modeling.settings import SETTINGS_FILE, ModelSettings, read_settings

if TYPE_CHECKING:
    import pandas as pd

# The loaded models of this process, by (folder, device, threads). A Dask worker unpickles the predictor afresh for
# every partition it runs; loading (checksums of every file, then the weights: seconds and ~100 MB) per partition
# would cost more than predicting one. The stamp of textsift.json, the folder's commit point, makes a folder trained
# again in place load anew in a long-lived worker. The lock keeps threads_per_worker > 1 from loading it twice.
_MODELS: dict[tuple[str, str, int | None], tuple[int, Predictor]] = {}
_LOADING = threading.Lock()


@dataclass
class PartitionPredictor:
    """Predict a DataFrame's texts (or pairs) with a model folder: `ddf.map_partitions(p, meta=p.meta())`.

    The output has the partition's index and row order; its columns are `keep_columns`, then exactly those of
    `textsift predict`'s CSV: text (and text_pair), the answer (label and score; labels joined by ';'; or value)
    and p_<label> for every output. There is no top-k list: predict's flat outputs have none either.

    Attributes:
        model_dir: A model folder (torch or ONNX); its textsift.json is read at once, so a wrong folder fails here,
            before any worker starts. Made absolute: workers may run elsewhere.
        text_column: The column holding the text; default the one the model was trained with.
        text_pair_column: Pair models: the column holding the second text; default the trained one.
        keep_columns: Columns of the partition carried into the output (an id, say), before the predictions.
        batch_size: Texts per forward pass.
        device: Where a torch model runs in each worker (cpu, cuda, cuda:N, auto).
        num_threads: CPU threads of each worker's model (torch's, for the whole worker process, or ONNX Runtime's);
            run workers x threads = cores, e.g. 2 workers x 1 thread on 2 cores. None: the backend's default.
    """

    model_dir: Path | str
    text_column: str | None = None
    text_pair_column: str | None = None
    keep_columns: Sequence[str] = ()
    batch_size: int = InferenceConfig.batch_size
    device: str = "cpu"
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        self.model_dir = str(Path(self.model_dir).resolve())
        self.keep_columns = tuple(self.keep_columns)
        predictor = _weightless(read_settings(self.model_dir))
        trained = predictor.settings.data_columns()
        self.text_column = self.text_column or trained.text_column
        if predictor.task.pairs:
            self.text_pair_column = self.text_pair_column or trained.text_pair_column
            if self.text_pair_column is None:
                raise TextsiftError(f"{self.model_dir} is a pair model: pass text_pair_column, the second text's")
        elif self.text_pair_column is not None:
            raise TextsiftError(f"{self.model_dir} reads one text per row; leave text_pair_column out")
        clashes = [c for c in self.keep_columns if c in flat_columns(predictor)]
        if clashes:
            raise TextsiftError(f"keep_columns: {clashes[0]!r} is also a prediction column; rename it in the frame "
                                "first (frame.rename(columns=...)) or leave it out")
        if self.batch_size < 1 or (self.num_threads is not None and self.num_threads < 1):
            raise TextsiftError("batch_size and num_threads must be at least 1")

    def meta(self, frame: Any = None) -> pd.DataFrame:
        """An empty frame shaped like the output, from textsift.json alone (no weights loaded): Dask's `meta=`.

        `frame` (the input, Dask or pandas) gives the dtypes of `keep_columns`; without it they are text.
        """
        pandas = _pandas()
        dtypes = frame.dtypes if frame is not None else {}
        kept = pandas.DataFrame({c: pandas.Series(dtype=dtypes[c] if c in dtypes else "str")
                                 for c in self.keep_columns})
        return _shaped(pandas, _weightless(read_settings(self.model_dir)), [], kept)

    def __call__(self, frame: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
        """The frame's predictions, row for row. Dask passes `partition_info`, so that errors name the partition."""
        where = f"partition {partition_info['number']}" if partition_info else "the frame"
        self._check_columns(frame, where)
        items = self._items(frame, where)
        if not items:  # an empty partition (a filter left nothing): no reason to load the model for it
            return self.meta(frame)
        predictor = self._loaded()
        scores = predictor.scores(items, self.batch_size)
        rows = [flat_row(predictor, item, row) for item, row in zip(items, scores, strict=True)]
        result = _shaped(_pandas(), predictor, rows, frame[list(self.keep_columns)])
        result.index = frame.index
        return result

    def _check_columns(self, frame: pd.DataFrame, where: str) -> None:
        for column in [self.text_column, self.text_pair_column, *self.keep_columns]:
            if column is not None and column not in frame.columns:
                flag = "keep_columns" if column in self.keep_columns else "text_column (text_pair_column)"
                raise TextsiftError(f"{where}: no column {column!r} (columns: {', '.join(map(str, frame.columns))}); "
                                    f"rename it or pass {flag} with the right name")

    def _items(self, frame: pd.DataFrame, where: str) -> list[Item]:
        assert self.text_column is not None  # set by __post_init__
        texts = _texts(frame, self.text_column, where)
        if self.text_pair_column is None:
            return list(texts)
        return list(zip(texts, _texts(frame, self.text_pair_column, where), strict=True))

    def _loaded(self) -> Predictor:
        """This process's model for the folder: loaded by the first partition, kept for every later one."""
        folder = str(self.model_dir)
        key = (folder, self.device, self.num_threads)
        try:
            stamp = os.stat(Path(folder) / SETTINGS_FILE).st_mtime_ns
        except OSError:
            stamp = -1  # gone from this worker: `load` says so in one line
        with _LOADING:
            cached = _MODELS.get(key)
            if cached is None or cached[0] != stamp:
                _MODELS[key] = (stamp, load(folder, self.device, num_threads=self.num_threads))
            return _MODELS[key][1]


def _texts(frame: pd.DataFrame, column: str, where: str) -> list[str]:
    """A column's cells as texts; an empty, missing or non-text cell is one line naming its row."""
    missing = _pandas().NA
    texts = []
    for index, value in frame[column].items():
        if not isinstance(value, str):
            # An empty CSV cell: NaN in a str column, pandas.NA in an Arrow one, None in an object one.
            if value is None or value is missing or (isinstance(value, float) and math.isnan(value)):
                raise TextsiftError(f"{where}, row {index!r}: empty text in column {column!r}; fill it in or drop "
                                    "the row")
            raise TextsiftError(f"{where}, row {index!r}: {type(value).__name__} in column {column!r}, not a text; "
                                "read the column as text (dtype=str)")
        if not value.strip():
            raise TextsiftError(f"{where}, row {index!r}: empty text in column {column!r}; fill it in or drop the row")
        texts.append(value)
    return texts


def _shaped(pandas: ModuleType, predictor: Predictor, rows: list[dict[str, Any]], kept: pd.DataFrame
            ) -> pd.DataFrame:
    """Kept columns, then predict's flat columns with fixed dtypes, so that every partition matches `meta()`."""
    numbers = {"score", "value", *score_columns(predictor)}
    columns = flat_columns(predictor)
    dtypes = {c: "float64" if c in numbers else "str" for c in columns}
    out = pandas.DataFrame(rows, columns=columns).astype(dtypes)
    return pandas.concat([kept.reset_index(drop=True), out], axis=1) if len(kept.columns) else out


def _weightless(settings: ModelSettings) -> Predictor:
    """A Predictor that knows a folder's labels and task but holds no weights: enough to name the output columns."""
    predictor = Predictor()
    predictor.settings = settings
    return predictor


def _pandas() -> ModuleType:
    return require("pandas", extra="dask")
