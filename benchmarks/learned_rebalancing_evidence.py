"""Learned and augmented re-balancing on digits-LT: accuracy and cost per epoch.

Compares, on scikit-learn's digits made long-tailed (balanced test split), plain
cross-entropy with balanced softmax, Balanced Meta-Softmax (meta-learned class
sampler), meta re-weighting of samples, and class-balanced over-sampling with and
without minority augmentation. Every method trains the same MLP for the same
number of epochs; the seconds per epoch are the median over the epochs of a fit
(skorch's ``dur`` column), reported relative to plain cross-entropy.

Usage::

    python benchmarks/learned_rebalancing_evidence.py --seeds 0 1 2 \\
        --out benchmarks/results/learned_rebalancing.json
"""

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from skimbal import (
    BalancedMetaSoftmaxClassifier,
    BalancedSoftmaxClassifier,
    CrossEntropyClassifier,
)
from skimbal.callbacks import MetaReweighting, MinorityAugmentation
from skimbal.datasets import load_digits_lt


def methods(net):
    return {
        "ce": lambda: CrossEntropyClassifier(**net),
        "balanced-softmax": lambda: BalancedSoftmaxClassifier(**net),
        "balms": lambda: BalancedMetaSoftmaxClassifier(**net),
        "meta-reweighting": lambda: CrossEntropyClassifier(
            callbacks=[MetaReweighting(meta_samples_per_class=10)], **net
        ),
        "cb-sampling": lambda: CrossEntropyClassifier(sampler="class-balanced", **net),
        "cb-sampling+minority-aug": lambda: CrossEntropyClassifier(
            sampler="class-balanced", callbacks=[MinorityAugmentation()], **net
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--imbalance-ratio", type=float, default=50)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="benchmarks/results/learned_rebalancing.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    scores, seconds = {}, {}
    for seed in args.seeds:
        X_train, X_test, y_train, y_test = load_digits_lt(
            args.imbalance_ratio, random_state=seed
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        net = dict(
            hidden_layer_sizes=(128,), lr=3e-3, batch_size=64, max_epochs=args.epochs,
            random_state=seed,
        )
        for name, make in methods(net).items():
            clf = make().fit(X_train, y_train)
            score = balanced_accuracy_score(y_test, clf.predict(X_test))
            scores.setdefault(name, []).append(score)
            seconds.setdefault(name, []).append(statistics.median(clf.history[:, "dur"]))
            print(f"seed {seed} {name:26s} balanced accuracy {score:.3f}", flush=True)

    ce_epoch = statistics.median(seconds["ce"])
    result = {
        "command": "python benchmarks/learned_rebalancing_evidence.py "
        + f"--seeds {' '.join(map(str, args.seeds))} --imbalance-ratio {args.imbalance_ratio} "
        + f"--epochs {args.epochs}",
        "data": f"digits-LT, imbalance ratio {args.imbalance_ratio}, balanced test split",
        "epochs": args.epochs,
        "seeds": args.seeds,
        "methods": {
            name: {
                "balanced_accuracy_mean": float(np.mean(values)),
                "balanced_accuracy_std": float(np.std(values)),
                "gain_over_ce": float(np.mean(values) - np.mean(scores["ce"])),
                "seconds_per_epoch": statistics.median(seconds[name]),
                "cost_relative_to_ce": statistics.median(seconds[name]) / ce_epoch,
            }
            for name, values in scores.items()
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    # The same table as CSV, included as is by the documentation.
    lines = ["method,balanced accuracy (mean),std,gain over CE,cost per epoch vs CE"]
    for name, row in result["methods"].items():
        lines.append(
            f"{name},{row['balanced_accuracy_mean']:.3f},{row['balanced_accuracy_std']:.3f},"
            f"{row['gain_over_ce']:+.3f},{row['cost_relative_to_ce']:.2f}x"
        )
    out.with_suffix(".csv").write_text("\n".join(lines) + "\n")
    print(json.dumps(result["methods"], indent=2))


if __name__ == "__main__":
    main()
