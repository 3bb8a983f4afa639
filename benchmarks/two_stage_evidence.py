"""Evidence for decoupled training (cRT, tau-norm, LWS, NCM) and BBN on digits-LT.

scikit-learn's digits made long-tailed with an exponential profile
(:func:`skimbal.datasets.load_digits_lt`, digit 0 the head class), a balanced
test split drawn first. Features standardised on the training split. Score:
balanced accuracy on the test split (equal to its accuracy, as it is balanced).

Every method trains the same MLP (Adam, learning rate 3e-3, batch 64, the same
epochs): cross-entropy (CE); the four decoupled classifiers on top of that very
CE network (stage one is the CE fit with the same seed, stage two 10 epochs for
cRT and LWS, tau chosen on 20 % of the training split, then stage one refitted
on all of it, or not: ``tau-norm-no-refit``); BBN with the same
epochs. With one hidden layer the two BBN branches share nothing but the input,
so CE and BBN are also run with two hidden layers (BBN then shares the first).

Usage::

    python benchmarks/two_stage_evidence.py --out benchmarks/results/two_stage_evidence.json

The summary table is also written as a CSV next to the JSON (same stem,
``.csv``); ``--table-from JSON`` rewrites that CSV from an existing JSON
without re-running the experiment.
"""

import argparse
import csv
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from skimbal import BBNClassifier, CrossEntropyClassifier, DecoupledClassifier
from skimbal.datasets import load_digits_lt

DECOUPLED = ("crt", "tau-norm", "lws", "ncm")


def methods(hidden, epochs, seed):
    """Method name -> unfitted estimator for one network shape and seed."""
    net = dict(
        hidden_layer_sizes=hidden, lr=3e-3, batch_size=64, max_epochs=epochs, random_state=seed
    )
    stage_one = CrossEntropyClassifier(**net)
    found = {"ce": stage_one}
    for method in DECOUPLED:
        found[method] = DecoupledClassifier(clone(stage_one), method=method, random_state=seed)
    # The same tau choice, but the final network is the one trained on 80 % of the data.
    found["tau-norm-no-refit"] = DecoupledClassifier(
        clone(stage_one), method="tau-norm", tau_refit=False, random_state=seed
    )
    found["bbn"] = BBNClassifier(**net)
    return found


def _paired_gain(values, baseline):
    """Mean and standard error of the per-seed gain over CE, and the wins/ties."""
    gains = [a - b for a, b in zip(values, baseline, strict=True)]
    sem = statistics.stdev(gains) / len(gains) ** 0.5 if len(gains) > 1 else 0.0
    return {
        "gain_over_ce_mean": statistics.mean(gains),
        "gain_over_ce_sem": sem,
        "seeds_better_than_ce": sum(gain > 0 for gain in gains),
        "seeds_tied_with_ce": sum(gain == 0 for gain in gains),
    }


def write_table(result, path):
    """Write the summary of ``result`` (this script's JSON) as a CSV file.

    One row per network and method: balanced accuracy mean and standard
    deviation over the seeds, the mean per-seed gain over CE of the same network
    and its standard error, the seeds better than / tied with CE, the median fit
    time and, for tau-norm, the ``tau`` chosen on each seed.
    """
    columns = [
        "network", "method", "balanced_accuracy_mean", "balanced_accuracy_std",
        "gain_over_ce_mean", "gain_over_ce_sem", "seeds_better_than_ce", "seeds_tied_with_ce",
        "n_seeds", "fit_seconds_median", "tau_chosen_per_seed",
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for network, found in result["results"].items():
            for method, entry in found.items():
                writer.writerow([
                    network,
                    method,
                    f"{entry['mean']:.4f}",
                    f"{entry['std']:.4f}",
                    f"{entry['gain_over_ce_mean']:+.4f}" if method != "ce" else "",
                    f"{entry['gain_over_ce_sem']:.4f}" if method != "ce" else "",
                    entry["seeds_better_than_ce"] if method != "ce" else "",
                    entry["seeds_tied_with_ce"] if method != "ce" else "",
                    len(entry["per_seed"]),
                    f"{entry['fit_seconds_median']:.2f}",
                    " ".join(f"{t:g}" for t in result["tau_chosen"])
                    if method == "tau-norm" else "",
                ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/two_stage_evidence.json")
    parser.add_argument(
        "--table-from", metavar="JSON", default=None,
        help="only (re)write the CSV table of an existing JSON result file, next to it",
    )
    parser.add_argument("--imbalance-ratio", type=float, default=20.0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.table_from is not None:
        source = Path(args.table_from)
        write_table(json.loads(source.read_text()), source.with_suffix(".csv"))
        return
    torch.set_num_threads(args.threads)

    shapes = {"mlp128": (128,), "mlp128x128": (128, 128)}
    scores = {shape: {} for shape in shapes}
    seconds = {shape: {} for shape in shapes}
    tau = []
    counts = None
    for seed in args.seeds:
        X_train, X_test, y_train, y_test = load_digits_lt(args.imbalance_ratio, random_state=seed)
        counts = np.bincount(y_train).tolist()
        scaler = StandardScaler().fit(X_train)
        X_train = scaler.transform(X_train).astype(np.float32)
        X_test = scaler.transform(X_test).astype(np.float32)
        for shape, hidden in shapes.items():
            for name, estimator in methods(hidden, args.epochs, seed).items():
                if shape != "mlp128" and name.startswith(DECOUPLED):
                    continue
                start = time.perf_counter()
                estimator.fit(X_train, y_train)
                elapsed = time.perf_counter() - start
                score = balanced_accuracy_score(y_test, estimator.predict(X_test))
                scores[shape].setdefault(name, []).append(score)
                seconds[shape].setdefault(name, []).append(elapsed)
                if name == "tau-norm":
                    tau.append(estimator.tau_)
                print(f"seed {seed} {shape:11s} {name:17s} bacc {score:.4f} ({elapsed:.1f} s)",
                      flush=True)

    summary = {
        shape: {
            name: {
                "mean": statistics.mean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "per_seed": values,
                "fit_seconds_median": statistics.median(seconds[shape][name]),
                **_paired_gain(values, found["ce"]),
            }
            for name, values in found.items()
        }
        for shape, found in scores.items()
    }
    result = {
        "command": "python benchmarks/two_stage_evidence.py " + " ".join(
            [f"--imbalance-ratio {args.imbalance_ratio:g}", f"--epochs {args.epochs}",
             "--seeds " + " ".join(map(str, args.seeds))]
        ),
        "data": "digits-LT (skimbal.datasets.load_digits_lt), balanced test split",
        "imbalance_ratio": args.imbalance_ratio,
        "train_counts_last_seed": counts,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "metric": "balanced accuracy on the balanced test split",
        "tau_chosen": tau,
        "results": summary,
        "machine": platform.platform(),
        "torch": torch.__version__,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    write_table(result, out.with_suffix(".csv"))
    for shape, found in summary.items():
        for name, entry in found.items():
            print(
                f"{shape:11s} {name:9s} {entry['mean']:.4f} +- {entry['std']:.4f}  gain "
                f"{entry['gain_over_ce_mean']:+.4f} +- {entry['gain_over_ce_sem']:.4f} "
                f"(better on {entry['seeds_better_than_ce']}/{len(entry['per_seed'])} seeds)"
            )


if __name__ == "__main__":
    main()
