"""From the rows of a comparison to its summary: means, intervals, ranks, tests.

See ``_stats`` for the statistics and their choices. :func:`summarize` returns
one dict that ``_output`` writes as ``summary.json`` and ``summary.csv``.
"""

import numpy as np

from . import _stats
from ._scores import METRICS, SHOT_COLUMNS

__all__ = ["summarize"]

ALL = "all"


def _finite(values):
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def summarize(rows, names, metric, reference="ce"):
    """Summary of the result rows for the ranking ``metric``.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`~skimbal.compare._evaluate.fit_and_score`.
    names : list of str
        Methods in display order.
    metric : str
        A key of :data:`~skimbal.compare._scores.METRICS`.
    reference : str, default='ce'
        Method the Wilcoxon tests compare with; the first method with scores
        when it has none.

    Returns
    -------
    summary : dict
        ``metric``, ``reference``, ``interval``, ``blocks``, ``datasets`` (one
        entry per data set and method), ``methods`` (one per method: the overall
        mean, interval, average rank and test against the reference, sorted by
        the mean, best first), ``friedman``, ``wilcoxon``, ``critical_difference``
        (suites) and ``excluded`` (what the tests left out).
    """
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    names = [n for n in names if any(row["method"] == n for row in rows)]
    per_dataset = [_dataset_entry(rows, d, n, metric) for d in datasets for n in names
                   if any(r["dataset"] == d and r["method"] == n for r in rows)]
    suite = len(datasets) > 1
    table, block_names = _block_table(rows, datasets, names, metric, suite)
    kept_methods, kept_blocks = _stats.complete_blocks(table)
    tested = [n for n, keep in zip(names, kept_methods, strict=True) if keep]
    complete = table[kept_blocks][:, kept_methods]
    if reference not in tested:
        reference = tested[0] if tested else None
    ranks = dict(zip(tested, _stats.average_ranks(complete).tolist(), strict=True))
    tests = _stats.wilcoxon_holm(complete, tested, reference) if reference else []
    by_method = {t["method"]: t for t in tests}
    methods = []
    for name in names:
        entries = [e for e in per_dataset if e["method"] == name]
        if suite:
            mean, low, high = _stats.mean_interval([e["mean"] for e in entries])
        else:
            mean, low, high = entries[0]["mean"], entries[0]["ci_low"], entries[0]["ci_high"]
        test = by_method.get(name, {})
        methods.append({
            "method": name, "mean": mean, "ci_low": low, "ci_high": high,
            "n_datasets": len(entries),
            "n_scores": sum(e["n_scores"] for e in entries),
            "n_failed": sum(e["n_failed"] for e in entries),
            "average_rank": ranks.get(name, float("nan")),
            "mean_difference": test.get("mean_difference", float("nan")),
            "wins": test.get("wins"), "ties": test.get("ties"), "losses": test.get("losses"),
            "p_value": test.get("p_value", float("nan")),
            "p_holm": test.get("p_holm", float("nan")),
            "fit_time": float(np.mean([e["fit_time"] for e in entries])),
        })
    methods.sort(key=lambda m: (-np.nan_to_num(m["mean"], nan=-np.inf), names.index(m["method"])))
    friedman = _stats.friedman(complete)
    n_blocks = int(kept_blocks.sum())
    smallest = min(1.0, len(tests) * 2.0 ** (1 - n_blocks))  # exact test, Holm's first step
    note = "" if not tests or smallest < 1 - _stats.LEVEL else (
        f"with {n_blocks} blocks the smallest two-sided Wilcoxon p is {2.0 ** (1 - n_blocks):.3g}"
        f"; after Holm over {len(tests)} comparisons no test can reach "
        f"{1 - _stats.LEVEL:.2f}: add blocks (--repeats, --cv) to test")
    return {
        "metric": metric,
        "reference": reference,
        "interval": {
            "level": _stats.LEVEL,
            "kind": "Student t over the data sets' means" if suite else
            "Student t over the folds, Nadeau-Bengio corrected",
            "per_dataset": "Student t over the folds, Nadeau-Bengio corrected "
                           "(variance s^2 (1/n + n_test/n_train))",
        },
        "blocks": {
            "kind": "data sets (mean over their folds)" if suite else "(repeat, fold) cells",
            "n_blocks": n_blocks,
            "names": [b for b, keep in zip(block_names, kept_blocks, strict=True) if keep],
        },
        "excluded": {
            "methods_without_scores": [n for n, k in zip(names, kept_methods, strict=True)
                                       if not k],
            "incomplete_blocks": [b for b, keep in zip(block_names, kept_blocks, strict=True)
                                  if not keep],
        },
        "methods": methods,
        "datasets": per_dataset,
        "friedman": friedman,
        "wilcoxon": tests,
        "wilcoxon_note": note,
        "critical_difference": _stats.critical_difference(len(tested), n_blocks)
        if suite else None,
    }


def _dataset_entry(rows, dataset, name, metric):
    mine = [r for r in rows if r["dataset"] == dataset and r["method"] == name]
    ok = [r for r in mine if r["status"] == "ok"]
    # Nadeau-Bengio: n_test / n_train of the fold split (before a long-tailed cut of the
    # training part, which leaves the folds' overlap as it is): 1 / (k - 1) for k folds.
    ratio = float(np.mean([r["n_test"] / r["n_split_train"] for r in mine]))
    mean, low, high = _stats.mean_interval([r[metric] for r in ok], test_train_ratio=ratio)
    entry = {"dataset": dataset, "method": name, "n_scores": len(_finite([r[metric] for r in ok])),
             "n_failed": len(mine) - len(ok), "mean": mean, "ci_low": low, "ci_high": high}
    for column in (*METRICS, "accuracy", *SHOT_COLUMNS, "fit_time"):
        values = _finite([r.get(column, np.nan) for r in ok])
        entry[column] = float(values.mean()) if len(values) else float("nan")
    entry["errors"] = sorted({r["error"] for r in mine if r["status"] != "ok"})
    return entry


def _block_table(rows, datasets, names, metric, suite):
    """Scores, shape (n_blocks, n_methods), NaN where missing; and the block names."""
    index = {name: j for j, name in enumerate(names)}
    if suite:
        blocks = {d: i for i, d in enumerate(datasets)}
        table = np.full((len(blocks), len(names)), np.nan)
        for d in datasets:
            for name in names:
                mine = [r for r in rows if r["dataset"] == d and r["method"] == name]
                values = [r.get(metric, np.nan) if r["status"] == "ok" else np.nan
                          for r in mine]
                if mine and np.all(np.isfinite(values)):
                    table[blocks[d], index[name]] = float(np.mean(values))
        return table, datasets
    cells = list(dict.fromkeys((r["repeat"], r["fold"]) for r in rows))
    blocks = {cell: i for i, cell in enumerate(cells)}
    table = np.full((len(cells), len(names)), np.nan)
    for r in rows:
        if r["status"] == "ok" and r["method"] in index:
            table[blocks[(r["repeat"], r["fold"])], index[r["method"]]] = r.get(metric, np.nan)
    return table, [f"repeat {r + 1} fold {k + 1}" for r, k in cells]
