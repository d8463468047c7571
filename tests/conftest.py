"""Shared fixtures: a small real slice of movie-snippets (shipped in tests/data) and models trained on it once per
session. Nothing is downloaded: the hub and the package index are switched off for the whole run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import small_config
from textsift.config import DataConfig

# Hermetic: a test that tries to fetch a model or a dataset fails instead of quietly using the network.
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PIP_NO_INDEX="1")
DATA = Path(__file__).parent / "data"


def _manifest(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def shared(folder: Path) -> Iterator[Path]:
    """Yield a session-wide folder and fail the run if any test wrote into it (tests must copy it first)."""
    before = _manifest(folder)
    yield folder
    assert _manifest(folder) == before, f"a test changed the shared folder {folder}; copy it before writing"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """300 real movie-review snippets split 240/30/30 (tests/data/movie-snippets-300)."""
    out = Path(shutil.copytree(DATA / "movie-snippets-300", tmp_path_factory.mktemp("data") / "movie-snippets"))
    yield from shared(out)


@pytest.fixture(scope="session")
def raw_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A textsift cache holding the shipped ground-truth slices, so the catalogue reads them instead of pip."""
    cache = tmp_path_factory.mktemp("cache")
    shutil.copytree(DATA / "hutto_ICWSM_2014", cache / "datasets" / "hutto_ICWSM_2014")
    return cache


@pytest.fixture(scope="session")
def full_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The default strategy (full fine-tuning, CLS pooling), one epoch."""
    from textsift import train

    yield from shared(train(small_config(data_dir, tmp_path_factory.mktemp("full"))))


@pytest.fixture(scope="session")
def head_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Frozen backbone, mean pooling, trained head (ten epochs of seconds each)."""
    from textsift import train

    out = tmp_path_factory.mktemp("head")
    yield from shared(train(small_config(data_dir, out, strategy="head", epochs=10, learning_rate=None)))


@pytest.fixture(scope="session")
def int8_model(full_model: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The full model exported to ONNX with int8 weights, parity-checked on the validation slice."""
    from textsift import export

    out = tmp_path_factory.mktemp("onnx") / "int8"
    yield from shared(export(full_model, out, quantize="int8", validate=data_dir / "validation.csv"))


@pytest.fixture(scope="session")
def debtags_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """120 real Debian package descriptions with their debtags (five tags), split 80/20/20 (tests/data/debtags-120)."""
    out = Path(shutil.copytree(DATA / "debtags-120", tmp_path_factory.mktemp("data") / "debtags"))
    yield from shared(out)


@pytest.fixture(scope="session")
def faq_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Real FAQ question/answer pairs (Python and Debian FAQs) labelled match/other (tests/data/faq-pairs)."""
    out = Path(shutil.copytree(DATA / "faq-pairs", tmp_path_factory.mktemp("data") / "faq"))
    yield from shared(out)


@pytest.fixture(scope="session")
def multilabel_model(debtags_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Multi-label head on the frozen backbone, twelve quick epochs on the debtags slice."""
    from textsift import train

    cfg = small_config(debtags_dir, tmp_path_factory.mktemp("multilabel"), task="multi-label", strategy="head",
                       epochs=12, learning_rate=None, data=DataConfig(label_column="tags", label_sep=";"))
    yield from shared(train(cfg))


@pytest.fixture(scope="session")
def regression_model(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Full fine-tuning (CLS pooling) on the movie snippets' mean valence, two epochs."""
    from textsift import train

    cfg = small_config(data_dir, tmp_path_factory.mktemp("regression"), task="regression", epochs=2,
                       data=DataConfig(label_column="valence"))
    yield from shared(train(cfg))


@pytest.fixture(scope="session")
def pair_model(faq_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Full fine-tuning on FAQ (question, answer) pairs, one epoch."""
    from textsift import train

    cfg = small_config(faq_dir, tmp_path_factory.mktemp("pair"), task="pair",
                       data=DataConfig(text_column="question", text_pair_column="answer"))
    yield from shared(train(cfg))


@pytest.fixture(scope="session")
def amazon_dir(raw_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The built-in amazon-snippets catalogue entry written from the shipped slice of its ground truth (every
    12th line): about 240/30/30 real product-review sentences, the new domain of the update tests."""
    from textsift.data.catalogue import fetch

    before = os.environ.get("TEXTSIFT_CACHE")
    os.environ["TEXTSIFT_CACHE"] = str(raw_cache)
    try:
        out = tmp_path_factory.mktemp("data") / "amazon-snippets"
        fetch("amazon-snippets", out)
    finally:
        if before is None:
            del os.environ["TEXTSIFT_CACHE"]
        else:
            os.environ["TEXTSIFT_CACHE"] = before
    yield from shared(out)
