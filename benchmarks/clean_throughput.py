"""`textsift data clean --mask-pii --dedupe near` on a million short texts: texts/s, peak memory, and the recall of
near-duplicates planted in the file; Presidio's analyzer on a sample in the same run, as the ratio (issue 15).

    .venv/bin/python benchmarks/clean_throughput.py                    # 1,000,000 rows
    .venv/bin/python benchmarks/clean_throughput.py --rows 100000      # a quicker look

The file: each text joins the first half of one built-in movie snippet (data/movie-snippets, all three splits) to
the second half of another, drawn with a fixed seed, so a million texts are distinct sentences of real review
language (10.6k snippets give 112 M such pairs). Planted, by row, with seeded draws:
  - PII: 20% of the other rows get one e-mail, US phone (an area code in service), Visa card (valid Luhn) or
    German IBAN (valid checksum) appended; PII recall is the share of those rows (found in the output by their
    id) whose text holds the placeholder of the type planted;
  - near-duplicates: 5% of rows copy an earlier row with one edit (a word replaced, a word added, a word dropped,
    or case and punctuation changed); 2% copy an earlier row exactly.
The command runs as its own process (`python -m textsift data clean ... --report`), timed from start to exit; peak
RSS is the child's ru_maxrss. Recall: the share of planted copies the report lists as dropped (exact or near);
"extra drops" are rows dropped that were not planted (texts that happen to repeat another). Presidio: its
AnalyzerEngine with the pattern recognizers only (pii_quality.presidio_detector builds it; no spaCy model can be
installed offline), on the first --presidio-sample texts, in this process; textsift's masking alone on the same
sample in this process for the ratio. Writes benchmarks/out/clean_throughput.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MOVIE = Path("data/movie-snippets")
EDITS = ("replace", "add", "drop", "case")
IBAN_BODY = "370400440532013"  # bank code + account digits; the two check digits are computed per row
# Area codes in service (phonenumbers marks a number of an unassigned area code invalid: nobody's number).
AREA_CODES = (212, 415, 617, 312, 206, 303, 512, 646, 702, 305, 404, 713, 214, 602, 503)
KINDS = ("email", "phone", "card", "iban")


def snippets() -> list[str]:
    if not (MOVIE / "train.csv").is_file():
        subprocess.run([sys.executable, "-m", "textsift", "data", "fetch", "movie-snippets", "--out", str(MOVIE)],
                       check=True)
    texts = []
    for split in ("train", "validation", "test"):
        with (MOVIE / f"{split}.csv").open(newline="") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts


def luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit goes last, so these positions double from the first
        total += sum(divmod(d * 2, 10)) if i % 2 == 0 else d
    number = "".join(map(str, digits)) + str((10 - total % 10) % 10)
    return " ".join(number[i:i + 4] for i in range(0, 16, 4))


def german_iban(rng: random.Random) -> str:
    body = IBAN_BODY[:8] + "".join(str(rng.randrange(10)) for _ in range(10))
    check = 98 - int(body + "131400") % 97  # DE = 13 14, check digits 00 while computing
    return f"DE{check:02d}{body}"


def pii(rng: random.Random, i: int) -> tuple[str, str]:
    """One planted value in a short sentence, and its type."""
    kind = KINDS[rng.randrange(len(KINDS))]
    if kind == "email":
        return kind, f"Mail me at reader{i}@example.com."
    if kind == "phone":
        return kind, f"Call ({rng.choice(AREA_CODES)}) {rng.randrange(201, 1000)}-{rng.randrange(10000):04d}."
    if kind == "card":
        return kind, f"Card {luhn_card(rng)}."
    return kind, f"IBAN {german_iban(rng)}."


def edited(text: str, rng: random.Random) -> str:
    words = text.split()
    edit = EDITS[rng.randrange(len(EDITS))]
    at = rng.randrange(len(words))
    if edit == "replace":
        words[at] = rng.choice(["truly", "really", "quite", "very", "rather"])
    elif edit == "add":
        words.insert(at, rng.choice(["truly", "really", "quite", "very", "rather"]))
    elif edit == "drop" and len(words) > 4:
        del words[at]
    else:
        return text.upper().rstrip(".!?") + " !"
    return " ".join(words)


def build(path: Path, rows: int, seed: int) -> dict[str, Any]:
    """Write the file; the lines of the planted copies."""
    rng, pool = random.Random(seed), snippets()
    halves = [(t.split()[: len(t.split()) // 2], t.split()[len(t.split()) // 2:]) for t in pool if len(t.split()) > 5]
    written: list[str] = []
    planted: dict[str, Any] = {"near": [], "exact": [], "pii": {}}  # pii: row id -> the type planted in it
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "id"])
        for i in range(rows):
            draw = rng.random()
            if written and draw < 0.05:
                text = edited(written[rng.randrange(len(written))], rng)
                planted["near"].append(i + 2)
            elif written and draw < 0.07:
                text = written[rng.randrange(len(written))]
                planted["exact"].append(i + 2)
            else:
                a, b = rng.choice(halves), rng.choice(halves)
                text = " ".join(a[0] + b[1])
                if rng.random() < 0.2:
                    kind, sentence = pii(rng, i)
                    text = f"{text} {sentence}"
                    planted["pii"][str(i)] = kind
            written.append(text)
            writer.writerow([text, i])
    return planted


def run_clean(path: Path, out: Path, report: Path, threads: str) -> dict[str, float]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "textsift", "data", "clean", str(path), "--out", str(out), "--mask-pii",
                    "--dedupe", "near", "--report", str(report)], check=True,
                   env={**os.environ, "OMP_NUM_THREADS": threads})
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak_mb, 1)}


def recall(report: dict[str, Any], planted: dict[str, Any]) -> dict[str, Any]:
    dropped = {line for line, _ in report["dropped"]["near"]} | {line for line, _ in report["dropped"]["exact"]}
    copies = set(planted["near"]) | set(planted["exact"])
    return {"planted_near": len(planted["near"]), "planted_exact": len(planted["exact"]),
            "near_recall": round(len(dropped & set(planted["near"])) / max(len(planted["near"]), 1), 4),
            "exact_recall": round(len(dropped & set(planted["exact"])) / max(len(planted["exact"]), 1), 4),
            "extra_drops": len(dropped - copies)}


def pii_recall(output: Path, planted: dict[str, str]) -> dict[str, Any]:
    """Per type: the share of rows planted with a value whose cleaned text (found by id) holds its placeholder."""
    found = dict.fromkeys(KINDS, 0)
    kept = dict.fromkeys(KINDS, 0)
    with output.open(newline="") as f:
        for row in csv.DictReader(f):
            kind = planted.get(row["id"])
            if kind is not None:
                kept[kind] += 1
                found[kind] += f"<{kind.upper()}>" in row["text"]
    return {kind: {"rows": kept[kind], "masked": found[kind], "recall": round(found[kind] / max(kept[kind], 1), 4)}
            for kind in KINDS}


def presidio_ratio(path: Path, sample: int) -> dict[str, Any]:
    """Texts/s of Presidio's pattern recognizers and of textsift's masking on the same texts, in this process."""
    sys.path.insert(0, str(Path(__file__).parent))
    from pii_quality import presidio_detector  # type: ignore[import-not-found]

    from textsift.data.pii import Masker

    with path.open(newline="") as f:
        texts = [row["text"] for _, row in zip(range(sample), csv.DictReader(f), strict=False)]
    detect = presidio_detector()
    started = time.perf_counter()
    for text in texts:
        detect(text)
    presidio = len(texts) / (time.perf_counter() - started)
    masker = Masker()
    started = time.perf_counter()
    for text in texts:
        masker.mask(text)
    ours = len(texts) / (time.perf_counter() - started)
    return {"sample": len(texts), "presidio_texts_per_s": round(presidio, 1),
            "textsift_mask_texts_per_s": round(ours, 1), "textsift_over_presidio": round(ours / presidio, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--presidio-sample", type=int, default=2000)
    parser.add_argument("--threads", default="2")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/clean_throughput"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    raw = args.out / f"raw-{args.rows}.csv"
    planted = build(raw, args.rows, args.seed)
    print(f"planted: {len(planted['near'])} near and {len(planted['exact'])} exact copies, PII in "
          f"{len(planted['pii'])} rows", flush=True)
    timing = run_clean(raw, args.out / f"clean-{args.rows}.csv", args.out / f"report-{args.rows}.json", args.threads)
    report = json.loads((args.out / f"report-{args.rows}.json").read_text())
    result = {"rows": args.rows, **timing, "texts_per_s": round(args.rows / timing["seconds"], 1),
              "rows_written": report["rows_written"], "masked": {k: v for k, v in report["changes"].items()
                                                                  if k.startswith("pii:")},
              **recall(report, planted), "pii_recall": pii_recall(args.out / f"clean-{args.rows}.csv", planted["pii"]),
              "presidio": presidio_ratio(raw, args.presidio_sample)}
    (args.out.parent / "clean_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    p = result["presidio"]
    print("| rows | wall s | texts/s | peak RSS MB | near recall | exact recall | extra drops | masked |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.rows:,} | {result['seconds']} | {result['texts_per_s']:,.0f} | {result['peak_rss_mb']:,.0f} | "
          f"{result['near_recall']:.4f} | {result['exact_recall']:.4f} | {result['extra_drops']} | "
          f"{sum(result['masked'].values()):,} |")
    print("\nplanted values masked (rows kept of those planted with one): " + ", ".join(
        f"{kind} {r['masked']}/{r['rows']} ({r['recall']:.4f})" for kind, r in result["pii_recall"].items()))
    print(f"\nmasking alone on {p['sample']} texts: textsift {p['textsift_mask_texts_per_s']:,.0f} texts/s, "
          f"Presidio (pattern recognizers) {p['presidio_texts_per_s']:,.0f} texts/s: "
          f"{p['textsift_over_presidio']}x")


if __name__ == "__main__":
    main()
