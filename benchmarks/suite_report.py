"""Targets and fit times of the benchmark suites, from their results files.

Reads the ``summary.json`` and ``results.csv`` that ``skimbal compare --suite NAME``
wrote into ``benchmarks/results/suite_<name>/`` and writes ``report.txt`` and
``report.json`` next to them:

- the targets at defaults: plain cross-entropy (``ce``) against scikit-learn's
  ``MLPClassifier`` (``sklearn-mlp``); each method against ``ce`` (and, on
  multi-label data, against class-weighted BCE, ``weighted-ce``); the best skimbal
  method against the best classic baseline. A method "holds" a target when its mean
  over the data sets is at least the other's;
- each method's mean fit time on the largest data set of the suite (most training
  rows), in seconds, as measured by the comparison on its machine.

Usage::

    python benchmarks/suite_report.py benchmarks/results/suite_binary \
        benchmarks/results/suite_long_tailed benchmarks/results/suite_attributes
"""

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

from skimbal.compare._baselines import BASELINES


def _fit_times_on_largest(rows):
    sizes = defaultdict(int)
    for row in rows:
        sizes[row["dataset"]] = max(sizes[row["dataset"]], int(row["n_train"]))
    largest = max(sizes, key=sizes.get)
    times = defaultdict(list)
    for row in rows:
        if row["dataset"] == largest and row["status"] == "ok":
            times[row["method"]].append(float(row["fit_time"]))
    return largest, sizes[largest], {m: sum(t) / len(t) for m, t in times.items()}


def report(folder):
    """The targets and fit times of one suite's results folder."""
    folder = Path(folder)
    summary = json.loads((folder / "summary.json").read_text())
    with open(folder / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    means = {entry["method"]: entry["mean"] for entry in summary["methods"]}
    ranks = {entry["method"]: entry["average_rank"] for entry in summary["methods"]}
    skimbal_methods = [m for m in means if m not in BASELINES]
    baselines = [m for m in means if m in BASELINES]
    references = ["ce"] + (["weighted-ce"] if "crl" in means else [])
    best_skimbal = max(skimbal_methods, key=means.get)
    best_baseline = max(baselines, key=means.get)
    largest, n_train, fit_times = _fit_times_on_largest(rows)
    return {
        "suite": folder.name,
        "metric": summary["metric"],
        "n_datasets": summary["blocks"]["n_blocks"],
        "means": means,
        "average_ranks": ranks,
        "ce_vs_sklearn_mlp": [means["ce"], means.get("sklearn-mlp")],
        "below_reference": {
            reference: sorted(m for m in skimbal_methods if means[m] < means[reference])
            for reference in references
        },
        "best_skimbal": [best_skimbal, means[best_skimbal]],
        "best_baseline": [best_baseline, means[best_baseline]],
        "largest_dataset": [largest, n_train],
        "fit_time_on_largest_s": fit_times,
    }


def as_text(result):
    means = result["means"]
    lines = [
        f"{result['suite']}: {result['metric']}, mean over {result['n_datasets']} data sets",
        f"  ce {means['ce']:.3f} vs sklearn-mlp {means.get('sklearn-mlp', float('nan')):.3f}",
        f"  best skimbal {result['best_skimbal'][0]} {result['best_skimbal'][1]:.3f}; "
        f"best baseline {result['best_baseline'][0]} {result['best_baseline'][1]:.3f}",
    ]
    for reference, below in result["below_reference"].items():
        listed = ", ".join(f"{m} {means[m]:.3f}" for m in below) or "none"
        lines.append(f"  below {reference} ({means[reference]:.3f}): {listed}")
    name, n_train = result["largest_dataset"]
    lines.append(f"  mean fit time (s) on the largest set, {name} ({n_train} training rows):")
    for method, seconds in sorted(result["fit_time_on_largest_s"].items(), key=lambda x: x[1]):
        lines.append(f"    {method:<26} {seconds:7.2f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for folder in args.folders:
        result = report(folder)
        text = as_text(result)
        (folder / "report.txt").write_text(text + "\n")
        (folder / "report.json").write_text(json.dumps(result, indent=2) + "\n")
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
