"""The comparison: select registered methods, fit each on one split and score it.

:data:`~skimbal.compare.DEFAULT_METHODS` fixes the order in which the command
runs the methods; names that are not (yet) in :data:`~skimbal.compare.METHODS`
are skipped, and registered names missing from it run last, in registration
order.

torch, scikit-learn's preprocessing and the metrics are imported when a
comparison runs, not with this module, so that the command's ``--help`` and
``--list-methods`` stay fast.
"""

import time

import numpy as np

from ._registry import DEFAULT_METHODS, METHODS

__all__ = [
    "available_methods",
    "check_method_names",
    "describe",
    "fit_and_score",
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


def fit_and_score(name, X_train, y_train, X_test, *, random_state, device, max_epochs):
    """Build method ``name``, fit it on the training split and predict the test split.

    The features are standardised with a scaler fitted on the training split
    only; the test split serves the predictions and nothing else.

    Parameters
    ----------
    name : str
        A registered method.
    X_train, y_train : ndarray
        Training split.
    X_test : ndarray
        Test features.
    random_state, device, max_epochs
        Passed to the method's factory.

    Returns
    -------
    y_pred : ndarray of shape (n_test,)
        Predicted test labels.
    fit_time : float
        Seconds spent in ``fit`` (scaling included).
    """
    from sklearn.preprocessing import StandardScaler

    estimator = METHODS[name](random_state=random_state, device=device, max_epochs=max_epochs)
    start = time.perf_counter()
    scaler = StandardScaler().fit(X_train)
    estimator.fit(scaler.transform(X_train).astype(np.float32), y_train)
    fit_time = time.perf_counter() - start
    return estimator.predict(scaler.transform(X_test).astype(np.float32)), fit_time


def run_comparison(
    names,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    random_state,
    device,
    max_epochs,
    n_seeds=1,
    progress=True,
    on_error=None,
):
    """Fit every method on the same split and score it on the test split.

    Parameters
    ----------
    names : list of str
        Registered methods, run in this order.
    X_train, y_train, X_test, y_test : ndarray
        The split; every method sees the same training split and seeds.
    random_state : int
        Seed passed to every factory (the first seed when ``n_seeds > 1``).
    device, max_epochs
        Passed to every factory.
    n_seeds : int, default=1
        Fit every method with the seeds ``random_state .. random_state +
        n_seeds - 1`` (same split) and average the scores.
    progress : bool, default=True
        Show a tqdm progress bar over the methods (on stderr).
    on_error : callable, default=None
        Called as ``on_error(name, exception)`` when a method fails; the
        comparison goes on without it. None re-raises.

    Returns
    -------
    results : list of dict
        Per method that ran: the keys of :func:`skimbal.metrics.imbalance_report`
        (scores and ``per_class_accuracy`` averaged over the seeds), plus
        ``method``, ``fit_time`` (mean seconds), ``n_seeds`` and
        ``balanced_accuracy_std`` (standard deviation over the seeds, NaN for one).
    """
    from tqdm.auto import tqdm

    from ..metrics import imbalance_report

    labels, counts = np.unique(y_train, return_counts=True)
    train_counts = dict(zip(labels.tolist(), counts.tolist(), strict=True))
    for label in np.setdiff1d(np.unique(y_test), labels).tolist():
        train_counts[label] = 0
    _warm_up(device)
    results = []
    bar = tqdm(names, desc="methods", unit="method", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        reports = []
        try:
            for seed in range(random_state, random_state + n_seeds):
                y_pred, fit_time = fit_and_score(
                    name,
                    X_train,
                    y_train,
                    X_test,
                    random_state=seed,
                    device=device,
                    max_epochs=max_epochs,
                )
                reports.append(
                    {**imbalance_report(y_test, y_pred, train_counts), "fit_time": fit_time}
                )
        except Exception as exc:
            if on_error is None:
                raise
            on_error(name, exc)
            continue
        results.append({"method": name, **_average_reports(reports)})
    bar.close()
    return results


def _average_reports(reports):
    """Mean of the numeric entries of several reports of the same split."""
    averaged = dict(reports[0])
    for key in reports[0]:
        if key in ("labels", "train_counts"):
            continue
        averaged[key] = np.mean([report[key] for report in reports], axis=0)
        if np.ndim(averaged[key]) == 0:
            averaged[key] = float(averaged[key])
    scores = [report["balanced_accuracy"] for report in reports]
    averaged["n_seeds"] = len(reports)
    averaged["balanced_accuracy_std"] = (
        float(np.std(scores, ddof=1)) if len(scores) > 1 else float("nan")
    )
    return averaged


def _warm_up(device):
    """Fit a tiny network once, so that one-off costs (lazy imports of torch,
    first allocations on the device) are not charged to the first method's time."""
    from skimbal import CrossEntropyClassifier

    X = np.zeros((4, 2), dtype=np.float32)
    CrossEntropyClassifier(
        hidden_layer_sizes=(2,), max_epochs=1, random_state=0, device=device
    ).fit(X, [0, 1, 0, 1])
