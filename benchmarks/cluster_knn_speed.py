"""Prediction speed of ClusterKNNClassifier: 10,000 queries against 5,000 centres.

The centres come from a real fit (10 classes x 500 k-means clusters of random
Gaussian points); the queries are fresh points of the same distribution. Times
are the median of several repeats of ``predict`` (wall and process CPU time)
and, separately, of its two
parts: sklearn's ``NearestNeighbors.kneighbors`` and the vectorised LMLE
margin rule (:func:`skimbal.methods._cluster_knn.cluster_knn_margins`).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/cluster_knn_speed.py \
        --out benchmarks/results/cluster_knn_speed.json

With ``--out`` the table is also written as a CSV next to the JSON (same stem,
``.csv``); ``--table-from JSON`` rewrites that CSV from an existing JSON
without re-running the measurements.
"""

import argparse
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from skimbal import ClusterKNNClassifier
from skimbal.methods._cluster_knn import cluster_knn_margins


def median_seconds(function, repeats, clock=time.perf_counter):
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append(clock() - start)
    return statistics.median(times)


def measure(dim, args, rng):
    """Fit on 5,000 centres in ``dim`` dimensions and time the predictions."""
    n_train = args.n_classes * args.clusters_per_class * 2
    means = 3 * rng.normal(size=(args.n_classes, dim))
    y = rng.randint(args.n_classes, size=n_train)
    X = (means[y] + rng.normal(size=(n_train, dim))).astype(np.float32)
    clf = ClusterKNNClassifier(
        n_clusters_per_class=args.clusters_per_class,
        n_neighbors=args.n_neighbors,
        random_state=0,
    ).fit(X, y)
    yq = rng.randint(args.n_classes, size=args.n_queries)
    Xq = (means[yq] + rng.normal(size=(args.n_queries, dim))).astype(np.float32)
    clf.predict(Xq)  # warm-up
    k = min(args.n_neighbors, len(clf.cluster_centers_))
    distances, index = clf.nearest_centers_.kneighbors(Xq, n_neighbors=k)
    labels = clf._center_codes[index]
    row = {
        "dim": dim,
        "n_centers": int(len(clf.cluster_centers_)),
        "n_queries": args.n_queries,
        "n_neighbors": k,
        "predict_s": median_seconds(lambda: clf.predict(Xq), args.repeats),
        # CPU time of this process (all its threads): the wall time on an idle
        # machine when the work runs on one thread.
        "predict_cpu_s": median_seconds(
            lambda: clf.predict(Xq), args.repeats, clock=time.process_time
        ),
        "kneighbors_s": median_seconds(
            lambda: clf.nearest_centers_.kneighbors(Xq, n_neighbors=k), args.repeats
        ),
        "margin_rule_s": median_seconds(
            lambda: cluster_knn_margins(distances**2, labels, args.n_classes), args.repeats
        ),
        "accuracy": float((clf.predict(Xq) == yq).mean()),
    }
    return row


def write_table(report, path):
    """Write the timings of ``report`` (this script's JSON) as a CSV, one row per dimension.

    Seconds: median wall and process CPU time of ``predict``, wall time of the
    neighbour search alone and of the margin rule alone; also the machine's
    1-minute load average when the timings were taken.
    """
    columns = [
        "dim",
        "n_centers",
        "n_queries",
        "n_neighbors",
        "predict_wall_s",
        "predict_cpu_s",
        "kneighbors_wall_s",
        "margin_rule_wall_s",
        "load_average_1min",
        "cpu_count",
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in report["results"]:
            writer.writerow(
                [
                    row["dim"],
                    row["n_centers"],
                    row["n_queries"],
                    row["n_neighbors"],
                    f"{row['predict_s']:.3f}",
                    f"{row['predict_cpu_s']:.3f}",
                    f"{row['kneighbors_s']:.3f}",
                    f"{row['margin_rule_s']:.3f}",
                    f"{report['load_average_1min']:.1f}",
                    report["cpu_count"],
                ]
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--table-from",
        metavar="JSON",
        type=Path,
        default=None,
        help="only (re)write the CSV table of an existing JSON result file, next to it",
    )
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--n-queries", type=int, default=10_000)
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--clusters-per-class", type=int, default=500)
    parser.add_argument("--n-neighbors", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.table_from is not None:
        write_table(json.loads(args.table_from.read_text()), args.table_from.with_suffix(".csv"))
        return

    rng = np.random.RandomState(0)
    results = []
    for dim in args.dims:
        row = measure(dim, args, rng)
        print(json.dumps(row), flush=True)
        results.append(row)

    report = {
        "benchmark": "ClusterKNNClassifier.predict, 10,000 queries x 5,000 centres",
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "repeats": args.repeats,
        "results": results,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        write_table(report, args.out.with_suffix(".csv"))


if __name__ == "__main__":
    main()
