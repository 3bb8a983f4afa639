"""Evidence for LMLE: cluster-wise kNN on a learned embedding vs cross-entropy.

scikit-learn's digits made long-tailed with an exponential profile
(:func:`skimbal.datasets.load_digits_lt`: a balanced test split first, then the
profile on the rest, seeded), standardised on the training split. Every
method trains the same MLP (one hidden layer of 128 units, the embedding),
Adam, same learning rate, batch size and number of epochs:

- ``ce``: cross-entropy (:class:`skimbal.CrossEntropyClassifier`);
- ``ce-cb``: the same with class-balanced batches (``sampler='class-balanced'``),
  which tells how much of LMLE's gain comes from its sampling alone;
- ``lmle``: :class:`skimbal.LMLEClassifier` with its defaults (quintuplet loss
  only, class-balanced batches, re-clustering every 5 epochs, kNN over 3
  centres of 5 clusters per class);
- ``lmle-ce0.1``: the same with a cross-entropy term of weight 0.1;
- ``lmle-k1``: the same embedding loss, predicting from the single nearest
  cluster centre (``n_neighbors=1``);
- ``crl``: :class:`skimbal.CRLClassifier` at the class level, relative
  criterion (its defaults).

Also, ``knn_grid``: :class:`skimbal.ClusterKNNClassifier` alone on the
standardised pixels, for several numbers of clusters per class and of
retrieved centres ``k``, to show how the LMLE decision rule depends on them.

Score: balanced accuracy on the balanced test split (= its accuracy). Time:
mean seconds per epoch from skorch's epoch timer, which for LMLE includes
the re-clustering (also reported alone, per re-clustering, as
``recluster_s``). One thread.

Usage::

    python benchmarks/lmle_evidence.py --out benchmarks/results/lmle_evidence.json

The summary tables are also written as CSVs next to the JSON: the methods in
``<stem>.csv``, the ``knn_grid`` in ``<stem>_knn_grid.csv``; ``--table-from
JSON`` rewrites both from an existing JSON without re-running the experiment.
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
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

import skimbal
from skimbal import ClusterKNNClassifier, CrossEntropyClassifier, LMLEClassifier
from skimbal.datasets import load_digits_lt


def make_estimator(method, seed, args):
    common = dict(
        hidden_layer_sizes=(128,),
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        random_state=seed,
    )
    if method == "ce":
        return CrossEntropyClassifier(**common)
    if method == "ce-cb":
        return CrossEntropyClassifier(sampler="class-balanced", **common)
    if method == "lmle":
        return LMLEClassifier(**common)
    if method.startswith("lmle-k"):
        return LMLEClassifier(n_neighbors=int(method[len("lmle-k"):]), **common)
    if method.startswith("lmle-ce"):
        return LMLEClassifier(ce_weight=float(method[len("lmle-ce"):]), **common)
    if method == "crl" and hasattr(skimbal, "CRLClassifier"):
        return skimbal.CRLClassifier(**common)
    raise ValueError(f"unknown method {method!r}")


def run(method, data, seed, args):
    X_train, X_test, y_train, y_test = data
    clf = make_estimator(method, seed, args)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    y_pred = clf.predict(X_test)
    history = clf.history
    row = dict(
        method=method,
        seed=seed,
        balanced_accuracy=float(balanced_accuracy_score(y_test, y_pred)),
        fit_s=fit_s,
        epoch_s=float(np.mean(history[:, "dur"])),
    )
    if "recluster_dur" in history[-1]:
        durations = [d for d in history[:, "recluster_dur"] if d > 0]
        row["recluster_s"] = float(np.mean(durations))
        row["n_reclusterings"] = len(durations) + 1  # + the final one at train end
    return row


def knn_grid(data, seed, clusters=(1, 3, 5, 10), neighbors=(1, 3, 5, 10)):
    """Balanced accuracy of the cluster-wise kNN on the raw features."""
    X_train, X_test, y_train, y_test = data
    rows = []
    for n_clusters in clusters:
        for k in neighbors:
            clf = ClusterKNNClassifier(
                n_clusters_per_class=n_clusters, n_neighbors=k, random_state=seed
            ).fit(X_train, y_train)
            score = balanced_accuracy_score(y_test, clf.predict(X_test))
            rows.append(dict(n_clusters_per_class=n_clusters, n_neighbors=k, seed=seed,
                             balanced_accuracy=float(score)))
    return rows


def summarise_grid(rows):
    keys = sorted({(r["n_clusters_per_class"], r["n_neighbors"]) for r in rows})
    return {
        f"clusters={c},k={k}": statistics.mean(
            r["balanced_accuracy"] for r in rows
            if (r["n_clusters_per_class"], r["n_neighbors"]) == (c, k)
        )
        for c, k in keys
    }


def summarise(rows, methods):
    summary = {}
    for method in methods:
        scores = [r["balanced_accuracy"] for r in rows if r["method"] == method]
        epochs = [r["epoch_s"] for r in rows if r["method"] == method]
        summary[method] = dict(
            balanced_accuracy_mean=statistics.mean(scores),
            balanced_accuracy_std=statistics.stdev(scores) if len(scores) > 1 else 0.0,
            epoch_s_mean=statistics.mean(epochs),
        )
        recluster = [r["recluster_s"] for r in rows if r["method"] == method and "recluster_s" in r]
        if recluster:
            summary[method]["recluster_s_mean"] = statistics.mean(recluster)
    return summary


def write_tables(results, path):
    """Write the summaries of ``results`` (this script's JSON) as two CSV files.

    ``path`` (one row per problem and method: balanced accuracy mean, standard
    deviation and per-seed values, mean seconds per epoch, its ratio to
    cross-entropy as the ratio of the means and the range of the per-seed
    ratios, seconds per re-clustering) and ``<stem>_knn_grid.csv`` (mean
    balanced accuracy of the cluster-wise kNN on the raw features, one row per
    problem and number of clusters per class, one column per ``k``).
    """
    path = Path(path)
    columns = [
        "problem", "method", "balanced_accuracy_mean", "balanced_accuracy_std",
        "balanced_accuracy_per_seed", "epoch_s_mean", "epoch_time_vs_ce",
        "epoch_time_vs_ce_per_seed_range", "recluster_s_mean",
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for problem, entry in results["problems"].items():
            ce_epochs = {r["seed"]: r["epoch_s"] for r in entry["runs"] if r["method"] == "ce"}
            for method, summary in entry["summary"].items():
                runs = [r for r in entry["runs"] if r["method"] == method]
                ratios = [r["epoch_s"] / ce_epochs[r["seed"]] for r in runs
                          if r["seed"] in ce_epochs]
                writer.writerow([
                    problem,
                    method,
                    f"{summary['balanced_accuracy_mean']:.4f}",
                    f"{summary['balanced_accuracy_std']:.4f}",
                    " ".join(f"{r['balanced_accuracy']:.4f}" for r in runs),
                    f"{summary['epoch_s_mean']:.4f}",
                    f"{summary['epoch_s_mean'] / entry['summary']['ce']['epoch_s_mean']:.2f}"
                    if "ce" in entry["summary"] else "",
                    f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "",
                    f"{summary['recluster_s_mean']:.4f}" if "recluster_s_mean" in summary else "",
                ])
    grid_rows = {}
    for problem, entry in results["problems"].items():
        for key, score in entry["knn_grid"].items():
            clusters, k = (part.split("=")[1] for part in key.split(","))
            grid_rows.setdefault((problem, int(clusters)), {})[int(k)] = score
    neighbors = sorted({k for row in grid_rows.values() for k in row})
    with open(path.with_name(path.stem + "_knn_grid.csv"), "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["problem", "clusters_per_class"] + [f"k={k}" for k in neighbors])
        for (problem, clusters), row in grid_rows.items():
            writer.writerow(
                [problem, clusters] + [f"{row[k]:.4f}" if k in row else "" for k in neighbors]
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/lmle_evidence.json")
    parser.add_argument(
        "--table-from", metavar="JSON", default=None,
        help="only (re)write the CSV tables of an existing JSON result file, next to it",
    )
    parser.add_argument("--imbalance-ratios", type=float, nargs="+", default=[10, 50])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--methods", nargs="+", default=["ce", "ce-cb", "lmle", "lmle-ce0.1", "lmle-k1", "crl"]
    )
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    if args.table_from is not None:
        source = Path(args.table_from)
        write_tables(json.loads(source.read_text()), source.with_suffix(".csv"))
        return
    torch.set_num_threads(1)
    methods = [m for m in args.methods if m != "crl" or hasattr(skimbal, "CRLClassifier")]

    results = dict(
        command="python benchmarks/lmle_evidence.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if k not in ("out", "table_from")
        ),
        settings=vars(args),
        machine=dict(platform=platform.platform(), torch=torch.__version__, threads=1),
        problems={},
    )
    for ratio in args.imbalance_ratios:
        rows, grid = [], []
        for seed in args.seeds:
            X_train, X_test, y_train, y_test = load_digits_lt(ratio, random_state=seed)
            scaler = StandardScaler().fit(X_train)
            data = (
                scaler.transform(X_train).astype(np.float32),
                scaler.transform(X_test).astype(np.float32),
                y_train,
                y_test,
            )
            grid += knn_grid(data, seed)
            for method in methods:
                row = run(method, data, seed, args)
                rows.append(row)
                print(f"IR={ratio:g}", method, seed, round(row["balanced_accuracy"], 4),
                      f"{row['epoch_s']:.3f}s/epoch", flush=True)
        results["problems"][f"digits-lt-ir{ratio:g}"] = dict(
            train_counts=np.bincount(y_train).tolist(),
            test_counts=np.bincount(y_test).tolist(),
            summary=summarise(rows, methods),
            knn_grid=summarise_grid(grid),
            runs=rows,
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    write_tables(results, out.with_suffix(".csv"))
    print(json.dumps(
        {p: [v["summary"], v["knn_grid"]] for p, v in results["problems"].items()}, indent=2
    ))


if __name__ == "__main__":
    main()
