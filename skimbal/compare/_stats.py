"""Statistics of a comparison: intervals, average ranks, Friedman and Wilcoxon-Holm.

- **Interval** of a method's mean over the folds of one data set: Student's t
  interval (95 %) with the Nadeau-Bengio correction for the overlap of the
  training parts of cross-validation: the variance of the mean is
  ``s**2 * (1 / n + n_test / n_train)`` instead of ``s**2 / n`` (Nadeau and
  Bengio, "Inference for the generalization error", Machine Learning 2003;
  Bouckaert and Frank, PAKDD 2004). Over the data sets of a suite (independent
  data): the plain t interval of the per-data-set means.
- **Blocks**: the tests and ranks compare the methods within blocks. In a run
  on one data set a block is a (repeat, fold) cell; in a suite it is a data set
  (the mean over its folds), as Demsar (JMLR 2006) recommends: folds of one data
  set share their data, so fold blocks make the p-values optimistic.
- **Average rank** over the blocks (1 = best, ties share the mean rank).
- **Friedman** test of "all methods are equal" (``scipy.stats.friedmanchisquare``,
  three methods or more), and for suites the Nemenyi critical difference of the
  average ranks (``scipy.stats.studentized_range``).
- **Wilcoxon** signed-rank test of every method against the reference (CE),
  two-sided (``scipy.stats.wilcoxon``), with Holm's step-down correction over
  those comparisons.

A block in which a method has no score (it failed, or the metric is undefined
there) is left out; a method without any score is left out of the tests.
"""

import numpy as np

__all__ = [
    "average_ranks",
    "critical_difference",
    "friedman",
    "holm",
    "mean_interval",
    "wilcoxon_holm",
]

LEVEL = 0.95


def mean_interval(values, test_train_ratio=0.0, level=LEVEL):
    """Mean and t interval; ``test_train_ratio > 0`` applies the Nadeau-Bengio correction.

    Returns
    -------
    mean, low, high : float
        ``low`` and ``high`` are NaN for fewer than two values.

    Examples
    --------
    >>> from skimbal.compare._stats import mean_interval
    >>> [round(v, 4) for v in mean_interval([0.8, 0.9, 1.0])]
    [0.9, 0.6516, 1.1484]
    """
    from scipy import stats

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    variance = values.var(ddof=1) * (1.0 / len(values) + test_train_ratio)
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * np.sqrt(variance))
    return mean, mean - half, mean + half


def complete_blocks(table):
    """Drop the methods without any score, then the blocks with a missing score.

    Parameters
    ----------
    table : ndarray of shape (n_blocks, n_methods)
        NaN for a missing score.

    Returns
    -------
    kept_methods : ndarray of bool, shape (n_methods,)
    kept_blocks : ndarray of bool, shape (n_blocks,)
    """
    table = np.asarray(table, dtype=float)
    kept_methods = np.isfinite(table).any(axis=0)
    kept_blocks = np.isfinite(table[:, kept_methods]).all(axis=1)
    return kept_methods, kept_blocks


def average_ranks(table):
    """Mean rank of every method over the blocks (rows); 1 is the highest score.

    Examples
    --------
    >>> from skimbal.compare._stats import average_ranks
    >>> average_ranks([[0.9, 0.8, 0.8], [0.7, 0.9, 0.6]]).tolist()
    [1.5, 1.75, 2.75]
    """
    from scipy.stats import rankdata

    table = np.asarray(table, dtype=float)
    if table.size == 0:
        return np.full(table.shape[1], np.nan)
    return rankdata(-table, axis=1).mean(axis=0)


def friedman(table):
    """Friedman chi-square test over the blocks; ``{'statistic', 'p_value', ...}``."""
    from scipy.stats import friedmanchisquare

    table = np.asarray(table, dtype=float)
    n_blocks, n_methods = table.shape
    result = {"n_blocks": int(n_blocks), "n_methods": int(n_methods),
              "statistic": float("nan"), "p_value": float("nan"), "note": ""}
    if n_methods < 3 or n_blocks < 2:
        result["note"] = "needs at least 3 methods and 2 blocks"
        return result
    statistic, p_value = friedmanchisquare(*table.T)
    result.update(statistic=float(statistic), p_value=float(p_value))
    return result


def critical_difference(n_methods, n_blocks, alpha=1 - LEVEL):
    """Nemenyi critical difference of average ranks (Demsar 2006).

    ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` the studentized
    range quantile divided by sqrt(2).

    Examples
    --------
    >>> from skimbal.compare._stats import critical_difference
    >>> round(critical_difference(4, 20), 3)
    1.049
    """
    from scipy.stats import studentized_range

    if n_methods < 2 or n_blocks < 1:
        return float("nan")
    q = studentized_range.ppf(1 - alpha, n_methods, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(n_methods * (n_methods + 1) / (6.0 * n_blocks)))


def holm(p_values):
    """Holm's step-down adjusted p-values, in the order given.

    Examples
    --------
    >>> from skimbal.compare._stats import holm
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p_values = np.asarray(p_values, dtype=float)
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for position, index in enumerate(order):
        running = max(running, min(1.0, (m - position) * p_values[index]))
        adjusted[index] = running
    return adjusted


def wilcoxon_holm(table, names, reference):
    """Two-sided Wilcoxon signed-rank test of every method against ``reference``.

    Parameters
    ----------
    table : ndarray of shape (n_blocks, n_methods)
        Complete blocks (no NaN).
    names : list of str
        Method of every column.
    reference : str
        One of ``names``.

    Returns
    -------
    tests : list of dict
        Per other method: ``method``, ``mean_difference`` (method minus
        reference), ``wins``, ``ties``, ``losses``, ``statistic``, ``p_value``,
        ``p_holm`` and ``significant`` (``p_holm < 0.05``). All differences zero:
        statistic NaN, p-value 1.
    """
    from scipy.stats import wilcoxon

    table = np.asarray(table, dtype=float)
    ref = table[:, names.index(reference)]
    tests = []
    for j, name in enumerate(names):
        if name == reference:
            continue
        difference = table[:, j] - ref
        entry = {
            "method": name,
            "mean_difference": float(difference.mean()) if len(difference) else float("nan"),
            "wins": int((difference > 0).sum()),
            "ties": int((difference == 0).sum()),
            "losses": int((difference < 0).sum()),
            "statistic": float("nan"),
            "p_value": float("nan") if len(difference) == 0 else 1.0,
        }
        if np.any(difference != 0):
            result = wilcoxon(table[:, j], ref)
            entry.update(statistic=float(result.statistic), p_value=float(result.pvalue))
        tests.append(entry)
    finite = [i for i, t in enumerate(tests) if np.isfinite(t["p_value"])]
    adjusted = holm([tests[i]["p_value"] for i in finite])
    for t in tests:
        t["p_holm"] = float("nan")
    for i, p in zip(finite, adjusted, strict=True):
        tests[i]["p_holm"] = float(p)
    for t in tests:
        t["significant"] = bool(t["p_holm"] < 1 - LEVEL)
    return tests
