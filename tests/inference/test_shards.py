"""`predict --shard i/n` and `merge_predictions`: shards joined are the one-pass output byte for byte, and every way
a set of shards can be wrong is refused in one line naming the shard to rerun."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import run_cli
from textsift import merge_predictions, predict
from textsift.errors import TextsiftError
from textsift.inference.predictor import Predictor

CHUNK, SHARDS = 16, 3  # train.csv's 240 rows are 15 chunks: shard 0 holds chunks 0, 3, 6, 9, 12, and so on


def run_shards(model: Path, source: Path, folder: Path, suffix: str, **options: object) -> list[Path]:
    outputs = [folder / f"preds-{i}{suffix}" for i in range(SHARDS)]
    for i, out in enumerate(outputs):
        predict(model, source, out, chunk_size=CHUNK, shard=f"{i}/{SHARDS}", **options)  # type: ignore[arg-type]
    return outputs


@pytest.fixture(scope="module")
def sharded(int8_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One-pass predictions of train.csv (one.csv) and the three shards' (preds-i.csv with manifests); tests that
    change them copy the folder first."""
    folder = tmp_path_factory.mktemp("sharded")
    predict(int8_model, data_dir / "train.csv", folder / "one.csv", chunk_size=CHUNK)
    run_shards(int8_model, data_dir / "train.csv", folder, ".csv")
    return folder


def copied(sharded: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(sharded, tmp_path / "s"))


def shard_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("preds-*.csv"))


def test_merged_csv_shards_are_the_one_pass_output_byte_for_byte(sharded: Path, tmp_path: Path) -> None:
    assert merge_predictions(shard_files(sharded), tmp_path / "merged.csv") == 240
    assert (tmp_path / "merged.csv").read_bytes() == (sharded / "one.csv").read_bytes()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_merged_shards_of_other_formats_are_the_one_pass_output(int8_model: Path, data_dir: Path, tmp_path: Path,
                                                                suffix: str) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    predict(int8_model, data_dir / "train.csv", tmp_path / f"one{suffix}", chunk_size=CHUNK, top_k=2)
    outputs = run_shards(int8_model, data_dir / "train.csv", tmp_path, suffix, top_k=2)
    merge_predictions(outputs, tmp_path / f"merged{suffix}")
    assert (tmp_path / f"merged{suffix}").read_bytes() == (tmp_path / f"one{suffix}").read_bytes()


def test_a_shard_writes_its_chunks_with_their_rows_and_a_manifest(sharded: Path, data_dir: Path) -> None:
    lines = (sharded / "preds-1.csv").read_text().splitlines()
    rows = [int(line.split(",")[0]) for line in lines[1:]]
    assert lines[0] == "row,text,label,score,p_negative,p_positive"
    assert rows == [r for chunk in (1, 4, 7, 10, 13) for r in range(chunk * CHUNK, (chunk + 1) * CHUNK)]
    manifest = json.loads((sharded / "preds-1.csv.shard.json").read_text())
    assert {k: manifest[k] for k in ("shard", "shards", "rows", "input_rows", "chunk_size")} == {
        "shard": 1, "shards": 3, "rows": 80, "input_rows": 240, "chunk_size": CHUNK}
    assert manifest["input"]["bytes"] == (data_dir / "train.csv").stat().st_size
    assert len(manifest["model"]["textsift_json_sha256"]) == 64


def test_merge_refuses_a_missing_shard_naming_it(sharded: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match=r"^shard 1/3 is missing; rerun it with --shard 1/3$"):
        merge_predictions([sharded / "preds-0.csv", sharded / "preds-2.csv"], tmp_path / "merged.csv")
    assert not (tmp_path / "merged.csv").exists()


def test_a_crashed_rerun_keeps_the_old_output_and_a_rerun_makes_the_merge_whole(
        sharded: Path, int8_model: Path, data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    folder = copied(sharded, tmp_path)
    before = (folder / "preds-1.csv").read_bytes()
    scores, calls = Predictor.scores, []

    def crash_on_the_second_chunk(self: Predictor, *args: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return scores(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Predictor, "scores", crash_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        predict(int8_model, data_dir / "train.csv", folder / "preds-1.csv", chunk_size=CHUNK, shard="1/3")
    monkeypatch.undo()
    assert (folder / "preds-1.csv").read_bytes() == before and not (folder / "preds-1.csv.shard.json").exists()
    with pytest.raises(TextsiftError, match=r"shard 1/3 is missing \(.*preds-1\.csv: no manifest beside it, its run "
                                            r"did not finish\); rerun it with --shard 1/3"):
        merge_predictions(shard_files(folder), tmp_path / "merged.csv")
    predict(int8_model, data_dir / "train.csv", folder / "preds-1.csv", chunk_size=CHUNK, shard="1/3")
    merge_predictions(shard_files(folder), tmp_path / "merged.csv")
    assert (tmp_path / "merged.csv").read_bytes() == (sharded / "one.csv").read_bytes()


def test_merge_refuses_a_shard_run_on_another_input(sharded: Path, int8_model: Path, data_dir: Path,
                                                    tmp_path: Path) -> None:
    folder = copied(sharded, tmp_path)
    other = tmp_path / "train-plus-one.csv"
    other.write_bytes((data_dir / "train.csv").read_bytes() + b"one more review,positive,2.5,1\r\n")
    predict(int8_model, other, folder / "preds-2.csv", chunk_size=CHUNK, shard="2/3")
    with pytest.raises(TextsiftError, match=r"preds-2\.csv: shard 2/3 was run with another input file and input "
                                            r"rows than shard 0/3 .*; rerun it with --shard 2/3"):
        merge_predictions(shard_files(folder), tmp_path / "merged.csv")


def test_merge_refuses_a_shard_file_cut_short(sharded: Path, tmp_path: Path) -> None:
    folder = copied(sharded, tmp_path)
    lines = (folder / "preds-1.csv").read_text().splitlines(keepends=True)
    (folder / "preds-1.csv").write_text("".join(lines[:-1]))  # its last row, 223, is gone
    with pytest.raises(TextsiftError, match=r"input row 224 where row 223 belongs, so shard 1/3 is incomplete; "
                                            r"rerun it with --shard 1/3"):
        merge_predictions(shard_files(folder), tmp_path / "merged.csv")
    assert not (tmp_path / "merged.csv").exists()


def test_merge_refuses_a_shard_twice(sharded: Path, tmp_path: Path) -> None:
    folder = copied(sharded, tmp_path)
    shutil.copy(folder / "preds-0.csv", folder / "preds-0-again.csv")
    shutil.copy(folder / "preds-0.csv.shard.json", folder / "preds-0-again.csv.shard.json")
    with pytest.raises(TextsiftError, match=r"are both shard 0/3; pass one of them"):
        merge_predictions(shard_files(folder), tmp_path / "merged.csv")


def test_merge_refuses_shards_and_out_of_other_formats(sharded: Path, tmp_path: Path) -> None:
    with pytest.raises(TextsiftError, match=r"the shard files \(\.csv\) and --out merged\.jsonl must share one "
                                            r"format"):
        merge_predictions(shard_files(sharded), tmp_path / "merged.jsonl")


@pytest.mark.parametrize("spec", ["4/4", "a/b", "1/0"])
def test_a_bad_shard_spec_is_one_line_saying_what_to_write(spec: str, tmp_path: Path, monkeypatch, capsys) -> None:
    code = run_cli(monkeypatch, "predict", str(tmp_path), "texts.csv", "--out", "p.csv", "--shard", spec)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines() == [
        f"error: --shard {spec!r} is not a shard; write i/n with 0 <= i < n, e.g. --shard 0/4 for the first of 4 runs"]


def test_a_shard_needs_an_input_file_and_out(int8_model: Path, data_dir: Path) -> None:
    with pytest.raises(TextsiftError, match=r"--shard needs an input FILE and --out"):
        predict(int8_model, data_dir / "train.csv", shard="0/2")
