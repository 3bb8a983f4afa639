"""Which annealing of the L-Softmax plain-logit weight suits small tabular runs.

:class:`skimbal.LargeMarginSoftmaxClassifier` mixes the plain target logit with
weight ``lambda_t = base * (1 + gamma * t) ** -power`` (``base=1000``) into the
margin logit. The authors' Caffe prototxts (wy1iu/LargeMargin_Softmax_Loss) use
``gamma=2e-5, power=45`` (cifar10), ``1e-5, 45`` (cifar10+) and ``2.5e-5, 35``
(mnist): ``lambda`` stays near 1000 for thousands of iterations, then falls
steeply. A skimbal fit at the defaults makes a few thousand optimizer steps
(``max_epochs='auto'``). This script trains every schedule with the estimator's
defaults otherwise (m=2) on scikit-learn's digits made long-tailed
(:func:`skimbal.datasets.load_digits_lt`, balanced test part, standardised) and
reports the balanced accuracy, the final ``lambda`` and plain cross-entropy.

Usage::

    python benchmarks/large_margin_annealing.py --out benchmarks/results/large_margin_annealing.json
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from skimbal import CrossEntropyClassifier, LargeMarginSoftmaxClassifier
from skimbal.datasets import load_digits_lt
from skimbal.nn import LargeMarginLinear

SCHEDULES = {
    "gamma0.12-power1": (0.12, 1.0),
    "authors-cifar10": (2e-5, 45.0),
    "authors-cifar10+": (1e-5, 45.0),
    "authors-mnist": (2.5e-5, 35.0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/large_margin_annealing.json")
    parser.add_argument("--imbalance-ratios", type=float, nargs="*", default=[10, 50])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for ratio in args.imbalance_ratios:
        for seed in args.seeds:
            X_train, X_test, y_train, y_test = load_digits_lt(ratio, random_state=seed)
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            methods = {"ce": CrossEntropyClassifier(random_state=seed)}
            for name, (gamma, power) in SCHEDULES.items():
                methods[name] = LargeMarginSoftmaxClassifier(
                    random_state=seed, callbacks__large_margin_annealing__gamma=gamma,
                    callbacks__large_margin_annealing__power=power)
            for name, clf in methods.items():
                start = time.perf_counter()
                clf.fit(X_train, y_train)
                row = {"imbalance_ratio": ratio, "seed": seed, "method": name,
                       "n_train": len(y_train), "epochs": clf.max_epochs_,
                       "steps": int(sum(h["train_batch_count"] for h in clf.history)),
                       "fit_s": time.perf_counter() - start,
                       "balanced_accuracy": balanced_accuracy_score(y_test, clf.predict(X_test))}
                if name != "ce":
                    heads = [m for m in clf.module_.modules() if isinstance(m, LargeMarginLinear)]
                    row["final_lambda"] = float(heads[0].mix)
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary = {}
    for ratio in args.imbalance_ratios:
        for name in ["ce", *SCHEDULES]:
            scores = [r["balanced_accuracy"] for r in rows
                      if r["imbalance_ratio"] == ratio and r["method"] == name]
            summary[f"ir{ratio:g}/{name}"] = {
                "mean": statistics.mean(scores),
                "std": statistics.stdev(scores) if len(scores) > 1 else 0.0}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": "python benchmarks/large_margin_annealing.py --imbalance-ratios "
                   + " ".join(map(str, args.imbalance_ratios)) + " --seeds "
                   + " ".join(map(str, args.seeds)),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "summary": summary, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
