"""Fit time of the default estimator on 100,000 x 50: ``max_epochs=50`` against 'auto'.

``CrossEntropyClassifier()`` at its defaults (MLP (100,), Adam, batch 128;
torch's default threads unless ``--threads``) on scikit-learn's
``make_classification`` with 100,000 rows, 50 features and 10 classes, fitted
once with the former default ``max_epochs=50`` and once with
``max_epochs='auto'`` (the default since issue 16); also the balanced accuracy
on 20,000 held-out rows.

Usage::

    python benchmarks/default_fit_time.py --out benchmarks/results/default_fit_time.json
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from skimbal import CrossEntropyClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/default_fit_time.json")
    parser.add_argument("--n-samples", type=int, default=100000)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    X, y = make_classification(n_samples=args.n_samples + 20000, n_features=50,
                               n_informative=20, n_classes=10, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=20000, stratify=y,
                                                        random_state=0)
    rows = {}
    for name, max_epochs in (("before: max_epochs=50", 50), ("after: max_epochs='auto'", "auto")):
        clf = CrossEntropyClassifier(max_epochs=max_epochs, random_state=0)
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        rows[name] = {"fit_s": seconds, "epochs": clf.max_epochs_,
                      "steps": int(sum(h["train_batch_count"] for h in clf.history)),
                      "balanced_accuracy": balanced_accuracy_score(y_test, clf.predict(X_test))}
        print(name, json.dumps(rows[name]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": f"python benchmarks/default_fit_time.py --n-samples {args.n_samples}"
                   + (f" --threads {args.threads}" if args.threads else ""),
        "data": f"make_classification(n_samples={args.n_samples} + 20000 test, n_features=50, "
                "n_informative=20, n_classes=10, random_state=0)",
        "machine": {"platform": platform.platform(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                    "load_average_1_5_15_min": os.getloadavg()},
        "results": rows}, indent=1))


if __name__ == "__main__":
    main()
