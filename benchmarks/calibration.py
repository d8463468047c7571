"""Temperature scaling and the attribution deletion test on the full split, through `textsift report`.

    python benchmarks/calibration.py --model models/mr-head

The model folder is copied first (fitting writes the temperature into textsift.json). `textsift report` runs on
the test split with --fit-temperature on the validation split; the figures are read back from report.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from textsift.evaluation.report import report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/mr-head"))
    parser.add_argument("--data", type=Path, default=Path("data/movie-snippets"))
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/calibration"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    model = Path(shutil.copytree(args.model, args.work / "model", ignore=shutil.ignore_patterns("checkpoint", "runs")))
    page = report(model, args.data / "test.csv", args.work / "report", validation=args.data / "validation.csv",
                  fit_temperature=True)
    summary = json.loads((page.parent / "report.json").read_text())
    cal, fitted, deletion = summary["calibration"], summary["calibration"]["validation"], summary["deletion_test"]
    print(f"test accuracy {summary['metrics']['accuracy']:.4f}; fitted T = {cal['temperature']:.3f} on "
          f"{fitted['n']} validation rows")
    print(f"validation NLL {fitted['nll_before']:.3f} -> {fitted['nll_after']:.3f}, "
          f"ECE {fitted['ece_before']:.3f} -> {fitted['ece_after']:.3f}")
    print(f"test NLL {cal['nll_before']:.3f} -> {cal['nll_after']:.3f}, ECE {cal['ece_before']:.3f} -> "
          f"{cal['ece_after']:.3f} ({cal['bins']} bins)")
    print(f"deletion test on {deletion['n']} texts (k={deletion['k']}): top words lower p by "
          f"{deletion['top_drop']:.3f}, random words by {deletion['random_drop']:.3f}")


if __name__ == "__main__":
    main()
