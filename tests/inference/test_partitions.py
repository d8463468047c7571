"""The Dask recipe (examples/dask_predict.py) on a real 2-worker cluster, and the picklable PartitionPredictor."""

from __future__ import annotations

import csv
import importlib.util
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from textsift import PartitionPredictor, TextsiftError, load, predict
from textsift.inference import partitions

distributed = pytest.importorskip("dask.distributed")
import dask.dataframe as dd  # noqa: E402 - the [dask] extra, once the skip above has not fired
import pandas as pd  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "dask_predict.py"


def count_loads() -> None:
    """Run on each worker: count this process's model loads by wrapping the `load` the predictor calls."""
    real = partitions.load

    def counted(*args: Any, **kwargs: Any) -> Any:
        counted.calls += 1  # type: ignore[attr-defined]
        return real(*args, **kwargs)

    counted.calls = 0  # type: ignore[attr-defined]
    partitions.load = counted  # type: ignore[assignment]


def loads_so_far() -> int:
    return partitions.load.calls  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes of one thread each, loopback only, counting their loads; started once per module."""
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   host="127.0.0.1") as cluster, distributed.Client(cluster) as c):
        c.run(count_loads)
        yield c


@pytest.fixture(scope="module")
def recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dask_predict_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_parts(folder: Path) -> pd.DataFrame:
    parts = sorted(folder.glob("part-*.csv"))
    frames = [pd.read_csv(p, dtype={"source_id": str, "text": str}, keep_default_na=False) for p in parts]
    return pd.concat(frames, ignore_index=True)


def test_the_recipe_on_two_workers_matches_the_predictor(client: Any, recipe: ModuleType, full_model: Path,
                                                         data_dir: Path, tmp_path: Path) -> None:
    out = recipe.predict_table(full_model, data_dir / "test.csv", tmp_path / "preds", blocksize=700,
                               keep_columns=["source_id"])
    written = read_parts(out)
    with (data_dir / "test.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    classifier = load(full_model)
    assert len(list(out.glob("part-*.csv"))) > 2  # more partitions than workers
    assert list(written.columns) == ["source_id", "text", "label", "score", "p_negative", "p_positive"]
    assert written["text"].tolist() == texts and written["source_id"].tolist() == [r["source_id"] for r in rows]
    assert written["label"].tolist() == classifier.predict(texts)
    np.testing.assert_allclose(written[["p_negative", "p_positive"]].to_numpy(), classifier.scores(texts), atol=1e-5)


def test_each_worker_loads_the_model_once_not_once_per_partition(client: Any, recipe: ModuleType, full_model: Path,
                                                                  data_dir: Path, tmp_path: Path) -> None:
    out = recipe.predict_table(full_model, data_dir / "test.csv", tmp_path / "preds", blocksize=500)
    loads = client.run(loads_so_far)  # worker address -> loads in that process, over every test of this module
    assert len(list(out.glob("part-*.csv"))) >= 6
    assert len(loads) == 2 and all(n <= 1 for n in loads.values()) and sum(loads.values()) >= 1


def test_the_predictor_pickles_as_its_settings_without_the_model(full_model: Path, data_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    predictor = PartitionPredictor(full_model)
    predictor(pd.read_csv(data_dir / "test.csv", dtype=str).head(2))  # this process now holds the model
    data = pickle.dumps(predictor)
    assert len(data) < 1000

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("unpickling loaded the model")

    monkeypatch.setattr(partitions, "load", refuse)
    restored = pickle.loads(data)
    assert restored == predictor and list(restored.meta().columns) == list(predictor.meta().columns)


def test_the_columns_and_dtypes_are_those_of_predict_and_of_meta(full_model: Path, data_dir: Path,
                                                                 tmp_path: Path) -> None:
    predict(full_model, data_dir / "test.csv", tmp_path / "p.csv")
    with (tmp_path / "p.csv").open(newline="") as f:
        header = next(csv.reader(f))
    predictor = PartitionPredictor(full_model)
    frame = pd.read_csv(data_dir / "test.csv", dtype=str).iloc[3:6]
    result = predictor(frame)
    assert list(result.columns) == header == list(predictor.meta().columns)
    assert result.dtypes.to_dict() == predictor.meta().dtypes.to_dict()
    assert result.index.tolist() == [3, 4, 5]


def test_a_missing_text_column_is_one_line_naming_the_partition(client: Any, full_model: Path) -> None:
    frame = dd.from_pandas(pd.DataFrame({"review": ["a fine film", "dull", "moving", "flat"]}), npartitions=2)
    predictor = PartitionPredictor(full_model)
    with pytest.raises(TextsiftError, match=r"^partition [01]: no column 'text' \(columns: review\); rename it or "
                                            r"pass text_column \(text_pair_column\) with the right name$"):
        frame.map_partitions(predictor, meta=predictor.meta()).compute()


def test_an_empty_text_is_one_line_naming_its_row(full_model: Path) -> None:
    frame = pd.DataFrame({"text": ["a fine film", "   "]}, index=[7, 8])
    with pytest.raises(TextsiftError, match=r"^partition 4, row 8: empty text in column 'text'; fill it in or drop "
                                            r"the row$"):
        PartitionPredictor(full_model)(frame, partition_info={"number": 4, "division": None})


def test_a_kept_column_named_like_a_prediction_is_refused(full_model: Path) -> None:
    with pytest.raises(TextsiftError, match=r"^keep_columns: 'label' is also a prediction column; rename it"):
        PartitionPredictor(full_model, keep_columns=["label"])


def test_the_module_imports_neither_dask_nor_pandas() -> None:
    code = ("import sys, textsift.inference.partitions; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', 'pandas', 'torch'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
