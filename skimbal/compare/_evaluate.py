"""Run a comparison: every method on every fold of every data set.

A fit is one *task*: (data set, fold, method). Its seed is the fold's seed
(:func:`~skimbal.compare._data.fold_seed`), the same for every method and
independent of the order in which the tasks run, so ``n_jobs > 1`` (joblib
processes) gives the numbers of a serial run. Every process runs torch with
``num_threads`` threads (and the OpenMP / BLAS pools of scikit-learn as many)
and fits a tiny network once before the first timed fit, so that no method pays
torch's one-off costs in its ``fit_time``.

torch, scikit-learn and the estimators are imported when a comparison runs,
not with this module, so that the command's ``--help`` stays fast.
"""

import time
import traceback
import warnings
from dataclasses import dataclass

import numpy as np

from ._data import as_float32, make_folds, make_preprocessor
from ._factory import tasks_of
from ._registry import DEFAULT_METHODS, METHODS
from ._scores import continuous_scores, score_fold

__all__ = [
    "Settings",
    "available_methods",
    "check_method_names",
    "describe",
    "fit_and_score",
    "plan",
    "run_comparison",
]


def available_methods():
    """Registered method names in the order the command runs them.

    Returns
    -------
    names : list of str
        Names of :data:`DEFAULT_METHODS` that are registered, followed by the
        other registered names in registration order.

    Examples
    --------
    >>> from skimbal.compare import available_methods
    >>> available_methods()[:3]
    ['ce', 'weighted-ce', 'focal']
    """
    ordered = [name for name in DEFAULT_METHODS if name in METHODS]
    return ordered + [name for name in METHODS if name not in ordered]


def check_method_names(names):
    """Validate method names against the registry.

    Parameters
    ----------
    names : list of str or None
        Requested names; None or an empty list selects every registered method.

    Returns
    -------
    names : list of str
        The names, duplicates removed, in the order given.

    Raises
    ------
    ValueError
        If a name is not registered; the message lists the known names.
    """
    if not names:
        return available_methods()
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise ValueError(
            f"unknown method(s) {', '.join(map(repr, unknown))}; "
            f"known methods: {', '.join(available_methods())}."
        )
    return list(dict.fromkeys(names))


def describe(name):
    """First line of a registered method's factory docstring."""
    doc = METHODS[name].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else name


@dataclass(frozen=True)
class Settings:
    """What every fit of a comparison shares."""

    device: str = "cpu"
    max_epochs: int | None = 30
    num_threads: int = 1
    preprocess: bool = True
    save_models: str = None


def plan(datasets, names, *, cv, repeats, random_state):
    """The tasks of a comparison and the (data set, method) pairs skipped.

    Returns
    -------
    tasks : list of (Dataset, Fold, str)
        Data set by data set, fold by fold, the methods in the order of ``names``.
    skipped : list of dict
        ``{'dataset', 'method', 'reason'}`` for a method that cannot fit the
        data set's kind of target.
    """
    tasks, skipped = [], []
    for dataset in datasets:
        runnable = []
        for name in names:
            if dataset.task in tasks_of(METHODS[name]):
                runnable.append(name)
            else:
                skipped.append({"dataset": dataset.name, "method": name,
                                "reason": f"does not fit {dataset.task} targets"})
        for fold in make_folds(dataset, cv, repeats, random_state):
            tasks.extend((dataset, fold, name) for name in runnable)
    return tasks, skipped


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _build(name, dataset, seed, settings):
    factory = METHODS[name]
    estimator = factory(random_state=seed, device=settings.device,
                        max_epochs=settings.max_epochs)
    if dataset.task == "multilabel" and getattr(factory, "per_attribute", False):
        from sklearn.multioutput import MultiOutputClassifier

        estimator = MultiOutputClassifier(estimator)
    return estimator


def fit_and_score(name, dataset, fold, settings=Settings()):
    """Fit method ``name`` on a fold's training part and score it on its test part.

    The preprocessing (:func:`~skimbal.compare._data.make_preprocessor`) is fitted
    on the training part only. An exception is caught: the row then has
    ``status='failed'`` and the error.

    Parameters
    ----------
    name : str
        A registered method.
    dataset : Dataset
    fold : Fold
    settings : Settings

    Returns
    -------
    row : dict
        ``dataset``, ``method``, ``repeat``, ``fold``, ``seed``, ``status``,
        ``error``, ``warnings``, ``n_train``, ``n_test``,
        ``train_imbalance_ratio``, the scores of :func:`score_fold`,
        ``fit_time`` and ``predict_time`` (seconds) and ``model_file``.
    """
    strata = dataset.strata[fold.train]
    counts = np.unique(strata, return_counts=True)[1]
    row = {
        "dataset": dataset.name, "method": name, "repeat": fold.repeat, "fold": fold.fold,
        "seed": fold.seed, "status": "ok", "error": "", "warnings": "",
        "n_train": len(fold.train), "n_test": len(fold.test),
        "n_split_train": len(dataset.y) - len(fold.test),  # before a long-tailed cut
        "train_imbalance_ratio": float(counts.max() / counts.min()),
    }
    from threadpoolctl import threadpool_limits

    caught = []
    try:
        _prepare_process(settings)
        # OpenMP and BLAS pools (gradient boosting, scikit-learn's MLP, SMOTE's
        # neighbours) at the same size as torch's: oversubscribed pools ran 20x slower.
        with warnings.catch_warnings(record=True) as caught, \
                threadpool_limits(settings.num_threads):
            warnings.simplefilter("always")
            row.update(_fit_and_score(name, dataset, fold, settings))
    except Exception as exc:  # the comparison goes on; the row says what failed
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row.update(status="failed", error=f"{type(exc).__name__}: {message}"[:500],
                   traceback="".join(traceback.format_exception(exc))[-4000:])
    row["warnings"] = "; ".join(sorted({w.category.__name__ for w in caught}))
    return row


def _fit_and_score(name, dataset, fold, settings):
    estimator = _build(name, dataset, fold.seed, settings)
    X_train, y_train = _rows(dataset.X, fold.train), dataset.y[fold.train]
    X_test, y_test = _rows(dataset.X, fold.test), dataset.y[fold.test]
    start = time.perf_counter()
    if settings.preprocess:
        preprocessor = make_preprocessor(dataset)
        X_train = preprocessor.fit_transform(X_train)
    else:
        X_train = as_float32(X_train)
    estimator.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    X_test = preprocessor.transform(X_test) if settings.preprocess else as_float32(X_test)
    y_pred = estimator.predict(X_test)
    scores = continuous_scores(estimator, X_test, dataset.task)
    predict_time = time.perf_counter() - start
    row = score_fold(dataset, y_test, y_pred, scores, y_train)
    row.update(fit_time=fit_time, predict_time=predict_time)
    if settings.save_models:
        from ._models import save_fitted

        row["model_file"] = save_fitted(estimator, settings.save_models, dataset.name, name,
                                        fold)
    return row


_PROCESS_STATE = {}


def _prepare_process(settings):
    """torch threads and a warm-up fit, once per process and device."""
    import torch

    if torch.get_num_threads() != settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    if _PROCESS_STATE.get("warm") == settings.device:
        return
    from skimbal import CrossEntropyClassifier

    X = np.zeros((4, 2), dtype=np.float32)
    CrossEntropyClassifier(hidden_layer_sizes=(2,), max_epochs=1, random_state=0,
                           device=settings.device).fit(X, [0, 1, 0, 1])
    _PROCESS_STATE["warm"] = settings.device


def run_comparison(tasks, settings=Settings(), *, n_jobs=1, progress=None):
    """Run the tasks of :func:`plan`, serially or in ``n_jobs`` joblib processes.

    Parameters
    ----------
    tasks : list of (Dataset, Fold, str)
    settings : Settings
    n_jobs : int, default=1
        Processes (joblib's loky backend); -1 uses every core. The rows do not
        depend on it.
    progress : Progress or None

    Returns
    -------
    rows : list of dict
        One per task, in the order of ``tasks`` (see :func:`fit_and_score`).
    """
    import torch

    threads = torch.get_num_threads()
    try:
        if n_jobs == 1:
            rows = []
            for task in tasks:
                if progress is not None:
                    progress.start(_label(task))
                rows.append(fit_and_score(task[2], task[0], task[1], settings))
                if progress is not None:
                    progress.finish(_label(task), rows[-1])
            return rows
        return _run_parallel(tasks, settings, n_jobs, progress)
    finally:
        torch.set_num_threads(threads)


def _run_parallel(tasks, settings, n_jobs, progress):
    from joblib import Parallel, delayed

    rows = [None] * len(tasks)
    parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    for i, row in parallel(delayed(_indexed_task)(i, task, settings)
                           for i, task in enumerate(tasks)):
        rows[i] = row
        if progress is not None:
            progress.finish(_label(tasks[i]), row)
    return rows


def _indexed_task(i, task, settings):
    return i, fit_and_score(task[2], task[0], task[1], settings)


def _label(task):
    return task[0].name, task[1], task[2]
