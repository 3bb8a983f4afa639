"""The ``skimbal`` command.

``skimbal compare`` trains the registered methods (:mod:`skimbal.compare`) on
one long-tailed split and reports balanced accuracy, macro-F1, G-mean,
many/medium/few-shot accuracy and fit time. See ``docs/compare.rst``.

Parsing the arguments, ``--help`` and ``--list-methods`` import neither torch
nor any estimator: they are imported when the comparison runs.
"""

import argparse
import csv
import os
import sys

import numpy as np

from . import _runner
from ._output import RESULT_COLUMNS, format_table, write_outputs

__all__ = ["RESULT_COLUMNS", "build_parser", "format_table", "main", "read_csv_dataset"]

DIGITS_IMBALANCE_RATIO = 20
DEFAULT_MAX_EPOCHS = 30


class CommandError(Exception):
    """An error in the command's input, reported without a traceback."""


def build_parser():
    """The argument parser of the ``skimbal`` command."""
    parser = argparse.ArgumentParser(
        prog="skimbal", description="Deep class-imbalanced learning with scikit-learn estimators."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    compare = commands.add_parser(
        "compare",
        help="train the registered methods on one long-tailed split and compare them",
        description=(
            "Fit every selected method on the same long-tailed training split with the "
            "same seed and score it on the test split: balanced accuracy, macro-F1, "
            "G-mean, many/medium/few-shot accuracy (classes with >100, 20-100, <20 "
            "training samples) and fit time."
        ),
    )
    compare.add_argument(
        "--dataset",
        default="digits",
        metavar="NAME|FILE.csv",
        help=(
            "'digits' (scikit-learn's digits, long-tailed training split, balanced test "
            "split; default) or a CSV file with a header, numeric feature columns and a "
            "target column (stratified split, stratified test part)"
        ),
    )
    compare.add_argument(
        "--target", default="target", help="name of the label column of a CSV dataset"
    )
    compare.add_argument(
        "--imbalance-ratio",
        type=float,
        default=None,
        metavar="R",
        help=(
            f"n_max / n_min of the exponential long-tailed training split (digits: "
            f"default {DIGITS_IMBALANCE_RATIO}; CSV: the training part is kept as it is "
            "unless given)"
        ),
    )
    compare.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="fraction of the data in the test split (default 0.25)",
    )
    compare.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods to run (default: all registered; see --list-methods)",
    )
    compare.add_argument(
        "--list-methods", action="store_true", help="list the registered methods and exit"
    )
    compare.add_argument(
        "--device", default="cpu", help="torch device: cpu (default), cuda or auto"
    )
    compare.add_argument(
        "--max-epochs",
        type=int,
        default=DEFAULT_MAX_EPOCHS,
        metavar="N",
        help=f"training epochs of the neural methods (default {DEFAULT_MAX_EPOCHS})",
    )
    compare.add_argument(
        "--num-threads",
        type=int,
        default=1,
        metavar="N",
        help=(
            "torch CPU threads (default 1: the small networks of the comparison gain "
            "nothing from more, and lose a lot when the cores are busy)"
        ),
    )
    compare.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="S",
        help="seed of the split and of every method (default 0)",
    )
    compare.add_argument(
        "--n-seeds",
        type=int,
        default=1,
        metavar="K",
        help=(
            "fit every method with the seeds S .. S+K-1 on the same split and average "
            "the scores (default 1)"
        ),
    )
    compare.add_argument(
        "--out",
        default="skimbal-compare",
        metavar="DIR",
        help="folder for results.csv, per_class_accuracy.csv and .png (default ./skimbal-compare)",
    )
    compare.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar over the methods"
    )
    return parser


def main(argv=None):
    """Run the ``skimbal`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 when a method failed; argument errors exit with status 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run_compare(args)
    except CommandError as exc:
        parser.exit(2, f"skimbal {args.command}: error: {exc}\n")


def _run_compare(args):
    if args.list_methods:
        for name in _runner.available_methods():
            print(f"{name:24s} {_runner.describe(name)}")
        return 0
    try:
        names = _runner.check_method_names(args.methods)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if not names:
        raise CommandError("no method is registered.")
    if args.max_epochs < 1:
        raise CommandError(f"--max-epochs must be at least 1, got {args.max_epochs}.")
    import torch  # only once a comparison runs: --help and --list-methods stay fast

    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        raise CommandError(
            f"--device {args.device}: no CUDA GPU is available; use --device cpu or auto."
        )
    if args.n_seeds < 1:
        raise CommandError(f"--n-seeds must be at least 1, got {args.n_seeds}.")
    if args.num_threads < 1:
        raise CommandError(f"--num-threads must be at least 1, got {args.num_threads}.")
    if not 0 < args.test_size < 1:
        raise CommandError(f"--test-size must be in (0, 1), got {args.test_size}.")
    X_train, X_test, y_train, y_test, description = _load_split(args)
    print(description)

    failures = []

    def report_failure(name, exc):
        failures.append(name)
        print(f"method {name!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    threads = torch.get_num_threads()
    torch.set_num_threads(args.num_threads)
    try:
        results = _runner.run_comparison(
            names,
            X_train,
            y_train,
            X_test,
            y_test,
            random_state=args.random_state,
            device=args.device,
            max_epochs=args.max_epochs,
            n_seeds=args.n_seeds,
            progress=not args.no_progress,
            on_error=report_failure,
        )
    finally:
        torch.set_num_threads(threads)
    order = {name: i for i, name in enumerate(names)}
    results.sort(key=lambda row: (-row["balanced_accuracy"], order[row["method"]]))
    print(format_table(results))
    written = write_outputs(results, args.out)
    print("wrote " + ", ".join(written))
    return 1 if failures else 0


# ----------------------------------------------------------------------- data
def _load_split(args):
    """Return ``X_train, X_test, y_train, y_test, description``."""
    if args.dataset == "digits":
        from ..datasets import load_digits_lt

        ratio = DIGITS_IMBALANCE_RATIO if args.imbalance_ratio is None else args.imbalance_ratio
        try:
            X_train, X_test, y_train, y_test = load_digits_lt(
                ratio, test_size=args.test_size, random_state=args.random_state
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        source = f"digits-LT (imbalance ratio {ratio:g}, balanced test split)"
    elif args.dataset.lower().endswith(".csv"):
        X_train, X_test, y_train, y_test = _csv_split(args)
        source = f"{args.dataset} (stratified test split"
        if args.imbalance_ratio is not None:
            source += f", long-tailed training part with imbalance ratio {args.imbalance_ratio:g}"
        source += ")"
    else:
        raise CommandError(
            f"unknown dataset {args.dataset!r}; use 'digits' or the path of a .csv file."
        )
    _, counts = np.unique(y_train, return_counts=True)
    description = (
        f"{source}: {len(y_train)} training samples "
        f"(class counts {counts.max()}..{counts.min()}), {len(y_test)} test samples, "
        f"{X_train.shape[1]} features"
    )
    return X_train, X_test, y_train, y_test, description


def read_csv_dataset(path, target="target"):
    """Read a CSV file with a header into numeric features and labels.

    Parameters
    ----------
    path : str
        The file; the first row names the columns.
    target : str, default='target'
        The label column; every other column must be numeric.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer labels when every label is an integer, else strings.
    """
    if not os.path.isfile(path):
        raise CommandError(f"dataset file {path!r} does not exist.")
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    if not rows:
        raise CommandError(f"{path!r} is empty.")
    header, rows = [name.strip() for name in rows[0]], [row for row in rows[1:] if row]
    if target not in header:
        raise CommandError(
            f"{path!r} has no column {target!r} (columns: {', '.join(header)}); "
            "name the label column with --target."
        )
    if len(header) < 2:
        raise CommandError(f"{path!r} has no feature column besides {target!r}.")
    short = [i + 2 for i, row in enumerate(rows) if len(row) != len(header)]
    if short:
        raise CommandError(
            f"{path!r}: line {short[0]} has a different number of fields than the header."
        )
    column = header.index(target)
    features = [name for i, name in enumerate(header) if i != column]
    X = np.empty((len(rows), len(features)))
    for i, row in enumerate(rows):
        values = row[:column] + row[column + 1 :]
        try:
            X[i] = [float(value) for value in values]
        except ValueError:
            bad = next(j for j, value in enumerate(values) if not _is_float(value))
            raise CommandError(
                f"{path!r}, line {i + 2}: column {features[bad]!r} has the non-numeric value "
                f"{values[bad]!r}; feature columns must be numbers."
            ) from None
    if not np.all(np.isfinite(X)):
        raise CommandError(f"{path!r} has missing or infinite feature values.")
    labels = [row[column].strip() for row in rows]
    try:
        y = np.asarray([int(label) for label in labels])
    except ValueError:
        y = np.asarray(labels)
    return X, y


def _is_float(value):
    try:
        float(value)
    except ValueError:
        return False
    return True


def _csv_split(args):
    from sklearn.model_selection import train_test_split

    from ..datasets import make_long_tailed

    X, y = read_csv_dataset(args.dataset, args.target)
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=args.test_size, stratify=y, random_state=args.random_state
        )
    except ValueError as exc:
        raise CommandError(
            f"cannot make a stratified split of {args.dataset!r}: {exc} "
            "(every class needs at least 2 samples)"
        ) from None
    if args.imbalance_ratio is not None:
        try:
            X_train, y_train = make_long_tailed(
                X_train,
                y_train,
                args.imbalance_ratio,
                n_max="auto",
                order="frequency",
                random_state=args.random_state,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    return X_train, X_test, y_train, y_test



if __name__ == "__main__":
    sys.exit(main())
