"""How many optimizer steps the default network needs: evidence for ``max_epochs='auto'``.

For tabular problems of several sizes, the default :class:`skimbal.CrossEntropyClassifier`
(MLP, Adam lr 1e-3, batch 128) is trained for a long, fixed number of optimizer
steps; the training loss and the balanced accuracy on a held-out test part are
recorded after the epochs that cross 250, 500, 1000, ... steps. scikit-learn's
``MLPClassifier`` at its defaults (which stops on a plateau of the training loss)
is the reference. The problems are scikit-learn's ``make_classification`` (50
features, 10 long-tailed classes, imbalance ratio 10) at 300 to 100,000 training
rows with a 5,000-row test part, and scikit-learn's digits, breast cancer and
wine (stratified 30 % test part); every X is standardised on its training part.

Usage::

    python benchmarks/default_epochs.py --out benchmarks/results/default_epochs.json

``--sizes``, ``--seeds``, ``--max-steps`` and ``--hidden`` shorten or widen the run.
The summary table (balanced accuracy, mean over the seeds, after a number of
optimizer steps; the steps ``max_epochs='auto'`` makes) is written as a CSV next
to the JSON; ``--table-from JSON`` rewrites it without re-running.
"""

import argparse
import csv
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skimbal import CrossEntropyClassifier
from skimbal._core.schedule import auto_max_epochs

CHECKPOINTS = (250, 500, 1000, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 24000, 32000)


def synthetic(n_train, seed, n_test=5000):
    """make_classification, 50 features, 10 classes with weights from 1 down to 1/10."""
    weights = 10.0 ** (-np.arange(10) / 9)
    X, y = make_classification(
        n_samples=n_train + n_test, n_features=50, n_informative=20, n_redundant=10,
        n_classes=10, n_clusters_per_class=2, weights=weights / weights.sum(),
        random_state=seed,
    )
    return train_test_split(X, y, test_size=n_test, stratify=y, random_state=seed)


def bundled(name, seed):
    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}
    X, y = loader[name](return_X_y=True)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)


class StepScores(Callback):
    """Training loss and test balanced accuracy after the epochs that cross a checkpoint."""

    def __init__(self, X_test, y_test, steps_per_epoch, checkpoints):
        self.X_test, self.y_test = X_test, y_test
        self.steps_per_epoch, self.checkpoints = steps_per_epoch, checkpoints

    def initialize(self):
        self.rows_ = []
        self.next_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        steps = len(net.history) * self.steps_per_epoch
        if self.next_ < len(self.checkpoints) and steps >= self.checkpoints[self.next_]:
            while self.next_ < len(self.checkpoints) and steps >= self.checkpoints[self.next_]:
                self.next_ += 1
            bacc = balanced_accuracy_score(self.y_test, net.predict(self.X_test))
            self.rows_.append({"epoch": len(net.history), "steps": steps,
                               "train_loss": float(net.history[-1, "train_loss"]),
                               "test_bacc": float(bacc)})


def run_skimbal(X_train, X_test, y_train, y_test, seed, max_steps, hidden):
    steps_per_epoch = math.ceil(len(X_train) / 128)
    epochs = math.ceil(max_steps / steps_per_epoch)
    checkpoints = [c for c in CHECKPOINTS if c <= max_steps]
    scores = StepScores(X_test, y_test, steps_per_epoch, checkpoints)
    clf = CrossEntropyClassifier(max_epochs=epochs, hidden_layer_sizes=hidden, random_state=seed,
                                 callbacks=[("step_scores", scores)])
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return {"steps_per_epoch": steps_per_epoch, "epochs": epochs, "fit_s": seconds,
            "curve": scores.rows_}


def run_mlp(X_train, X_test, y_train, y_test, seed):
    clf = MLPClassifier(random_state=seed)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    steps_per_epoch = math.ceil(len(X_train) / min(200, len(X_train)))
    return {"n_iter": int(clf.n_iter_), "steps": int(clf.n_iter_) * steps_per_epoch,
            "final_loss": float(clf.loss_), "fit_s": seconds,
            "test_bacc": float(balanced_accuracy_score(y_test, clf.predict(X_test)))}


TABLE_STEPS = (500, 1000, 2000, 4000, 8000, 16000)


def _at(curve, steps):
    """Test balanced accuracy of the first checkpoint at or after ``steps``."""
    return next((row["test_bacc"] for row in curve if row["steps"] >= steps), None)


def _mean(values):
    values = [v for v in values if v is not None]
    return f"{sum(values) / len(values):.3f}" if values else ""


def write_table(results, path):
    """One row per problem and network: MLPClassifier, then skimbal after k steps."""
    problems = list(dict.fromkeys(r["problem"] for r in results))
    networks = [k for k in results[0] if k.startswith("skimbal_")]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["problem", "n_train", "network", "mlp_classifier_bacc",
                         "mlp_classifier_steps", "auto_steps", "bacc_at_auto"]
                        + [f"bacc_{k}_steps" for k in TABLE_STEPS])
        for problem in problems:
            rows = [r for r in results if r["problem"] == problem]
            n_train = rows[0]["n_train"]
            steps_per_epoch = math.ceil(n_train / 128)
            auto_steps = auto_max_epochs(n_train, 128) * steps_per_epoch
            mlp = [r["mlp_classifier"] for r in rows]
            for network in networks:
                curves = [r[network]["curve"] for r in rows if network in r]
                writer.writerow(
                    [problem, n_train, network.removeprefix("skimbal_").replace(",", "x"),
                     _mean([m["test_bacc"] for m in mlp]),
                     round(sum(m["steps"] for m in mlp) / len(mlp)), auto_steps,
                     _mean([_at(c, min(auto_steps, c[-1]["steps"])) for c in curves])]
                    + [_mean([_at(c, k) for c in curves]) for k in TABLE_STEPS])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table-from", default=None)
    parser.add_argument("--out", default="benchmarks/results/default_epochs.json")
    parser.add_argument("--sizes", type=int, nargs="*", default=[300, 1000, 4000, 20000, 100000])
    parser.add_argument("--bundled", nargs="*", default=["wine", "breast_cancer", "digits"])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--max-steps", type=int, default=16000)
    parser.add_argument("--hidden", nargs="*", default=["100", "128,128"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.table_from:
        path = Path(args.table_from)
        write_table(json.loads(path.read_text())["results"], path.with_suffix(".csv"))
        return
    torch.set_num_threads(args.threads)
    problems = [(f"synthetic-{n}", n) for n in args.sizes] + [(name, None) for name in args.bundled]
    results = []
    for name, n in problems:
        for seed in args.seeds:
            X_train, X_test, y_train, y_test = synthetic(n, seed) if n else bundled(name, seed)
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            row = {"problem": name, "n_train": len(X_train), "seed": seed,
                   "mlp_classifier": run_mlp(X_train, X_test, y_train, y_test, seed)}
            for hidden in args.hidden:
                sizes = tuple(int(v) for v in hidden.split(","))
                row[f"skimbal_{hidden}"] = run_skimbal(X_train, X_test, y_train, y_test, seed,
                                                       args.max_steps, sizes)
            results.append(row)
            print(json.dumps({k: v if not isinstance(v, dict) else
                              {kk: vv for kk, vv in v.items() if kk != "curve"}
                              for k, v in row.items()}), flush=True)
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({
                "command": "python benchmarks/default_epochs.py " + " ".join(
                    f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in vars(args).items()),
                "machine": {"platform": platform.platform(), "torch": torch.__version__,
                            "threads": args.threads},
                "results": results,
            }, indent=1))
            write_table(results, out.with_suffix(".csv"))


if __name__ == "__main__":
    main()
