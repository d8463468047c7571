"""Keep learning (issue 13): a domain sequence (movie snippets, then amazon snippets) and a new label.

Reproduce (CPU; about 25 minutes on 2 cores for `sequence`, 5 for `new-label`):

    .venv/bin/python benchmarks/continual.py sequence --out benchmarks/out/continual
    .venv/bin/python benchmarks/continual.py new-label --out benchmarks/out/continual

sequence: `textsift train` on movie-snippets (full fine-tuning, defaults) is the first model M; then, from M, on
    amazon-snippets: (a) plain fine-tuning (`textsift train --init-from M`, defaults, no rehearsal), (b)
    `textsift update` with rehearsal (--replay 0.2, defaults otherwise), (c) the same with an anchor (--anchor ewc,
    and l2), and (d) joint training from the backbone on both training files (the upper reference). Every run is
    a `textsift` process timed from start to exit; accuracy on both test sets after each step, backward transfer
    (movie test accuracy after - M's, in points). Goal: (b) or (c) within 1 point of M on movie and within 1
    point of (a) on amazon, in at most 30% of the wall time of (d).
new-label: the class `neutral` that the first model never saw. The raw VADER movie ratings (vaderSentiment 3.3.2)
    give it: sentences whose mean rating of 20 people is within 0.5 of zero are neutral, those at 1 or more from
    zero are positive or negative (the ones in between are left out as ambiguous). The first model is a head model
    (`--strategy head`) on the clear sentences' 80% training split; `textsift update --new-labels allow` (the gate
    on, defaults otherwise) adds the neutral sentences' training split, validated on the neutral validation split
    alone, then on the clear and neutral validation splits together, then also with --replay 0.5 --class-weight
    balanced, then also with 10 epochs at lr 1e-3. Old-class
    accuracy on the clear test split before and after, neutral recall on the neutral test split, and where the
    update landed (a rejected one is scored from <out>.rejected).
Writes <out>/<command>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MOVIE, AMAZON = Path("data/movie-snippets"), Path("data/amazon-snippets")


def textsift(*args: str) -> float:
    """Run one textsift command; its wall time in seconds (a rejected update, exit 3, still counts)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "textsift", *args])
    if done.returncode not in (0, 3):
        raise SystemExit(f"textsift {' '.join(args)} failed with exit code {done.returncode}")
    return time.perf_counter() - started


def accuracy(model: Path, data: Path) -> float:
    from textsift import evaluate

    return float(evaluate(model, data, out=model / "eval" / data.parent.name)["accuracy"])


def fetch(name: str, out: Path) -> None:
    if not (out / "train.csv").is_file():
        textsift("data", "fetch", name, "--out", str(out))


def joined(out: Path) -> Path:
    """movie + amazon training and validation files, for the joint reference."""
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation"):
        rows = [row for data in (MOVIE, AMAZON) for row in csv.DictReader((data / f"{split}.csv").open())]
        with (out / f"{split}.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["text", "label"], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return out


def sequence(out: Path, threads: str) -> dict[str, Any]:
    fetch("movie-snippets", MOVIE)
    fetch("amazon-snippets", AMAZON)
    common = ["--num-threads", threads]
    first = out / "movie"
    new = [str(AMAZON / "train.csv"), "--validation", str(AMAZON / "validation.csv")]
    update = ["update", str(first), *new, "--max-forgetting", "100", *common]
    both = joined(out / "joint-data")
    runs = {  # name: (folder, command); M first, the others start from it
        "M: train on movie": ("movie", ["train", str(MOVIE / "train.csv"), "--validation",
                                        str(MOVIE / "validation.csv"), *common]),
        "(a) fine-tune on amazon": ("plain", ["train", *new, "--init-from", str(first), "--replay-size", "0",
                                              *common]),
        "(b) update, replay 0.2": ("replay", update),
        "(b) update, replay 0.2, lr 5e-5": ("replay-lr5", [*update, "--learning-rate", "5e-5"]),
        "(c) update, replay 0.2 + ewc": ("ewc", [*update, "--anchor", "ewc"]),
        "(c) update, replay 0.2 + ewc, lr 5e-5": ("ewc-lr5", [*update, "--anchor", "ewc", "--learning-rate", "5e-5"]),
        "(c) update, replay 0.2 + ewc x10, lr 5e-5": ("ewc10-lr5", [*update, "--anchor", "ewc", "--anchor-strength",
                                                                  "10000", "--learning-rate", "5e-5"]),
        "(c) update, replay 0.2 + l2": ("l2", [*update, "--anchor", "l2"]),
        "(d) joint training": ("joint", ["train", str(both / "train.csv"), "--validation",
                                         str(both / "validation.csv"), *common]),
    }
    # A run whose folder and time an earlier invocation recorded is reused (--fresh clears <out> to redo all).
    earlier = json.loads((out / "sequence.json").read_text()) if (out / "sequence.json").is_file() else {}
    rows = {}
    for name, (folder, command) in runs.items():
        model = out / folder
        if name in earlier and (model / "textsift.json").is_file():
            rows[name] = earlier[name]
            continue
        seconds = textsift(*command, "--out", str(model))
        rows[name] = {"seconds": round(seconds, 1), "movie": accuracy(model, MOVIE / "test.csv"),
                      "amazon": accuracy(model, AMAZON / "test.csv")}
        (out / "sequence.json").write_text(json.dumps({**earlier, **rows}, indent=2) + "\n")
    return rows


def show_sequence(rows: dict[str, Any]) -> None:
    first, plain, joint = rows["M: train on movie"], rows["(a) fine-tune on amazon"], rows["(d) joint training"]
    print("| run | movie test acc | backward transfer (pts) | amazon test acc | vs (a) (pts) | wall s | × (d) wall |")
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        bwt = 100 * (row["movie"] - first["movie"])
        vs_a = 100 * (row["amazon"] - plain["amazon"])
        print(f"| {name} | {row['movie']:.4f} | {bwt:+.2f} | {row['amazon']:.4f} | {vs_a:+.2f} | "
              f"{row['seconds']:.0f} | {row['seconds'] / joint['seconds']:.2f} |")


def neutral_split(out: Path) -> tuple[Path, Path]:
    """The clear and the neutral sentences of the raw movie ratings, each split 80/10/10 (catalogue's split)."""
    from textsift.data.catalogue import get_dataset, raw_file, read_snippets, split_indices

    dataset = get_dataset("movie-snippets")
    snippets, seen = [], set()
    for s in read_snippets(raw_file(dataset), dataset):
        if s.text.lower() not in seen and (abs(s.valence) < 0.5 or abs(s.valence) >= 1.0):
            seen.add(s.text.lower())
            snippets.append(s)
    folders = []
    for name, keep in (("clear", lambda v: abs(v) >= 1.0), ("neutral", lambda v: abs(v) < 0.5)):
        part = [s for s in snippets if keep(s.valence)]
        labels = ["neutral" if abs(s.valence) < 0.5 else "positive" if s.valence > 0 else "negative" for s in part]
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for split, idx in split_indices(labels, 42).items():
            with (folder / f"{split}.csv").open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["text", "label", "valence"])
                writer.writerows([part[i].text, labels[i], part[i].valence] for i in idx)
        folders.append(folder)
    return folders[0], folders[1]


def new_label(out: Path, threads: str) -> dict[str, Any]:
    clear, neutral = neutral_split(out / "neutral-data")
    first = out / "clear-head"
    common = ["--num-threads", threads]
    result: dict[str, Any] = {"train_seconds": round(textsift(
        "train", str(clear / "train.csv"), "--validation", str(clear / "validation.csv"), "--strategy", "head",
        "--out", str(first), *common), 1), "old_classes_before": accuracy(first, clear / "test.csv")}
    # The updated task's validation covers all three classes; the neutral file alone would let an epoch that
    # answers "neutral" to everything look best.
    both = out / "neutral-data" / "validation-all.csv"
    both.write_text((clear / "validation.csv").read_text() + "".join(
        (neutral / "validation.csv").read_text().splitlines(keepends=True)[1:]))
    from textsift import evaluate

    for name, flags in (("new validation only", ["--validation", str(neutral / "validation.csv")]),
                        ("validation of all classes", ["--validation", str(both)]),
                        ("all classes, replay 0.5, balanced", ["--validation", str(both), "--replay", "0.5",
                                                               "--class-weight", "balanced"]),
                        ("all classes, replay 0.5, balanced, 10 epochs at 1e-3",
                         ["--validation", str(both), "--replay", "0.5", "--class-weight", "balanced", "--epochs",
                          "10", "--patience", "3", "--learning-rate", "1e-3"])):
        updated = out / f"clear+neutral-{len(result)}"
        seconds = textsift("update", str(first), str(neutral / "train.csv"), "--new-labels", "allow", *flags,
                           "--out", str(updated), *common)
        folder = updated if (updated / "textsift.json").is_file() else Path(f"{updated}.rejected")
        after = evaluate(folder, neutral / "test.csv", out=folder / "eval" / "neutral")
        forgetting = json.loads((folder / "metrics.json").read_text())["forgetting"]
        result[name] = {"update_seconds": round(seconds, 1), "landed": folder.name,
                        "old_classes_after": accuracy(folder, clear / "test.csv"),
                        "neutral_recall_after": after["per_class"]["neutral"]["recall"],
                        "backward_transfer": forgetting["backward_transfer"], "accepted": forgetting["accepted"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["sequence", "new-label"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/continual"))
    parser.add_argument("--threads", default="2")
    parser.add_argument("--fresh", action="store_true", help="remove <out> first and run everything again")
    args = parser.parse_args()
    if args.fresh and args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "sequence":
        result = sequence(args.out, args.threads)
        show_sequence(result)
    else:
        result = new_label(args.out, args.threads)
        print(json.dumps(result, indent=2))
    (args.out / f"{args.command}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
