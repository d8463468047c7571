"""Built-in datasets: human-rated sentiment snippets from Hutto & Gilbert (2014), shipped in the vaderSentiment sdist.

The sdist is fetched through pip (PyPI is reachable where a dataset hub may not be), cached under the user cache
dir, converted to binary polarity and split 80/10/10, stratified and seeded.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from textsift import files
from textsift.config import FetchConfig
from textsift.errors import TextsiftError

log = logging.getLogger("textsift")

_SDIST = "vadersentiment==3.3.2"
_INNER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
CITATION = (
    "Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based Model for Sentiment Analysis of "
    "Social Media Text. Eighth International Conference on Weblogs and Social Media (ICWSM-14)."
)


@dataclass(frozen=True)
class Dataset:
    """One entry of the catalogue."""

    name: str
    member: str
    description: str
    licence: str = "MIT (vaderSentiment 3.3.2)"
    citation: str = CITATION
    source: str = f"PyPI sdist {_SDIST}, {_INNER_ARCHIVE}"


CATALOGUE = {
    d.name: d
    for d in [
        Dataset(
            "movie-snippets", "movieReviewSnippets_GroundTruth.txt",
            "10,605 movie-review sentences rated -4..4 by 20 people each; label = sign of the mean valence",
        ),
        Dataset(
            "amazon-snippets", "amazonReviewSnippets_GroundTruth.txt",
            "3,708 product-review sentences rated -4..4 by 20 people each; label = sign of the mean valence",
        ),
        Dataset(
            "news-snippets", "nytEditorialSnippets_GroundTruth.txt",
            "5,190 sentences of 498 New York Times opinion editorials rated -4..4 by 20 people each; label = sign "
            "of the mean valence",
        ),
    ]
}


@dataclass
class Snippet:
    source_id: str
    valence: float
    text: str


def cache_dir() -> Path:
    """Where fetched data lives: $TEXTSIFT_CACHE, else the platform's user cache dir."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("TEXTSIFT_CACHE") or user_cache_dir("textsift")) / "datasets"


def get_dataset(name: str) -> Dataset:
    if name not in CATALOGUE:
        raise TextsiftError(f"unknown dataset {name!r}; built-in datasets: {', '.join(CATALOGUE)}")
    return CATALOGUE[name]


def fetch(name: str, out: Path | str, *, seed: int = FetchConfig.seed,
          limit: int | None = FetchConfig.limit) -> dict[str, Path]:
    """Write train/validation/test CSVs (text, label, valence, source_id) for a catalogue dataset.

    Args:
        limit: keep only a stratified sample of this many rows before splitting (for quick tries and tests).
    """
    dataset = get_dataset(name)
    snippets = to_polarity(read_snippets(raw_file(dataset), dataset))
    labels = [_polarity(s.valence) for s in snippets]
    if limit is not None and limit < len(snippets):
        idx = _stratified_sample(labels, limit, seed)
        snippets, labels = [snippets[i] for i in idx], [labels[i] for i in idx]
    out = files.writable_dir(out)
    paths = {}
    for split, idx in split_indices(labels, seed).items():
        paths[split] = out / f"{split}.csv"
        _write_csv(paths[split], [snippets[i] for i in idx])
        log.info("%s: %d rows -> %s", split, len(idx), paths[split])
    return paths


def raw_file(dataset: Dataset) -> Path:
    """The dataset's ground-truth file, extracted into the cache on first use."""
    target = cache_dir() / "hutto_ICWSM_2014" / dataset.member
    if not target.is_file():
        _download_and_extract(target.parent)
    return target


def read_snippets(path: Path, dataset: Dataset) -> list[Snippet]:
    """Parse id<TAB>valence<TAB>text lines; a malformed line is an error with its number."""
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        for n, line in enumerate(f, start=1):
            parts = line.rstrip("\r\n").split("\t")
            try:
                rows.append(Snippet(parts[0], float(parts[1]), parts[2].strip()))
            except (IndexError, ValueError):
                problem = f"{path}:{n}: expected id<TAB>valence<TAB>text; delete the cache and refetch"
                raise TextsiftError(problem) from None
    return rows


def to_polarity(snippets: list[Snippet]) -> list[Snippet]:
    """Drop neutral (zero-valence) rows and repeated texts, saying how many, so no text lands in two splits."""
    seen: set[str] = set()
    kept, neutral, repeated = [], 0, 0
    for s in snippets:
        if s.valence == 0:
            neutral += 1
        elif s.text.lower() in seen:
            repeated += 1
        else:
            seen.add(s.text.lower())
            kept.append(s)
    log.info("kept %d snippets; dropped %d with zero valence and %d repeated texts", len(kept), neutral, repeated)
    return kept


def split_indices(labels: list[str], seed: int) -> dict[str, list[int]]:
    """Stratified 80/10/10 split of row indices, each split in a seeded random order: the source files are sorted
    by sentiment, and a split in source order would begin with hundreds of rows of one class."""
    from sklearn.model_selection import train_test_split

    idx = list(range(len(labels)))
    train, rest = train_test_split(idx, test_size=0.2, random_state=seed, stratify=labels)
    validation, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=[labels[i] for i in rest])
    return {"train": train, "validation": validation, "test": test}  # train_test_split has shuffled them


def _stratified_sample(labels: list[str], size: int, seed: int) -> list[int]:
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(list(range(len(labels))), train_size=size, random_state=seed, stratify=labels)
    return sorted(idx)


def _polarity(valence: float) -> str:
    return "positive" if valence > 0 else "negative"


def _write_csv(path: Path, snippets: list[Snippet]) -> None:
    with files.replacing(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "valence", "source_id"])
        for s in snippets:
            writer.writerow([s.text, _polarity(s.valence), s.valence, s.source_id])


def _download_and_extract(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log.info("downloading %s through pip", _SDIST)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", _SDIST, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("*.tar.gz"))
        if done.returncode != 0 or not sdists:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise TextsiftError(f"could not download {_SDIST} from PyPI ({last}); check the network or pip config")
        extract_ground_truth(sdists[0], target)


def extract_ground_truth(sdist: Path, target: Path) -> None:
    """Write the *_GroundTruth.txt files of the sdist's inner archive into `target`, by base name only."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as outer:
        member = next((m for m in outer.getmembers() if m.name.endswith(_INNER_ARCHIVE)), None)
        if member is None:
            raise TextsiftError(f"{sdist}: no {_INNER_ARCHIVE} inside; the sdist layout changed")
        inner_bytes = outer.extractfile(member).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        for m in inner.getmembers():
            if m.isfile() and m.name.endswith("_GroundTruth.txt"):
                # Write members by base name only: never trust archive paths.
                (target / Path(m.name).name).write_bytes(inner.extractfile(m).read())  # type: ignore[union-attr]
