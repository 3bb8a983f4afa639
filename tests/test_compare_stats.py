"""Statistics of ``skimbal compare`` against scipy and the published formulas."""

import numpy as np
import pytest
from scipy import stats

from skimbal.compare import _stats
from skimbal.compare._summary import summarize

# Blocks x methods (ce, a, b): a fixed table.
TABLE = np.array([
    [0.80, 0.82, 0.85],
    [0.70, 0.75, 0.71],
    [0.90, 0.91, 0.95],
    [0.60, 0.66, 0.64],
    [0.75, 0.74, 0.80],
    [0.85, 0.88, 0.90],
    [0.65, 0.69, 0.70],
])
NAMES = ["ce", "a", "b"]


def test_friedman_equals_scipy():
    result = _stats.friedman(TABLE)
    expected = stats.friedmanchisquare(*TABLE.T)
    assert result["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert result["n_blocks"] == 7 and result["n_methods"] == 3
    two = _stats.friedman(TABLE[:, :2])
    assert np.isnan(two["p_value"]) and "3 methods" in two["note"]


def test_wilcoxon_holm_equals_scipy_and_holm_by_hand():
    tests = _stats.wilcoxon_holm(TABLE, NAMES, "ce")
    assert [t["method"] for t in tests] == ["a", "b"]
    p = [stats.wilcoxon(TABLE[:, j], TABLE[:, 0]).pvalue for j in (1, 2)]
    assert [t["p_value"] for t in tests] == pytest.approx(p, rel=1e-12)
    # Holm with two tests: the smaller p doubled, the larger kept (monotone).
    low, high = sorted(p)
    adjusted = {low: min(1.0, 2 * low), high: max(min(1.0, 2 * low), high)}
    assert [t["p_holm"] for t in tests] == pytest.approx([adjusted[v] for v in p])
    a = tests[0]
    assert (a["wins"], a["ties"], a["losses"]) == (6, 0, 1)
    assert a["mean_difference"] == pytest.approx(np.mean(TABLE[:, 1] - TABLE[:, 0]))
    assert a["statistic"] == stats.wilcoxon(TABLE[:, 1], TABLE[:, 0]).statistic


def test_wilcoxon_without_differences_gives_p_1():
    table = np.column_stack([TABLE[:, 0], TABLE[:, 0]])
    (test,) = _stats.wilcoxon_holm(table, ["ce", "same"], "ce")
    assert test["p_value"] == 1.0 and np.isnan(test["statistic"]) and test["ties"] == 7
    assert test["p_holm"] == 1.0 and not test["significant"]


def test_holm():
    assert _stats.holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert _stats.holm([0.5, 0.001]).tolist() == pytest.approx([0.5, 0.002])
    assert _stats.holm([0.9, 0.8]).tolist() == pytest.approx([1.0, 1.0])


def test_average_ranks():
    expected = stats.rankdata(-TABLE, axis=1).mean(axis=0)
    np.testing.assert_allclose(_stats.average_ranks(TABLE), expected)
    assert _stats.average_ranks([[0.9, 0.8, 0.8]]).tolist() == [1.0, 2.5, 2.5]


def test_mean_interval():
    values = np.array([0.8, 0.85, 0.9, 0.82])
    mean, low, high = _stats.mean_interval(values)
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / 2
    assert (mean, low, high) == pytest.approx((values.mean(), values.mean() - half,
                                               values.mean() + half))
    # Nadeau-Bengio: variance s^2 (1/n + n_test/n_train), 1/(k-1) = 1/3 for 4 folds.
    _, low_nb, high_nb = _stats.mean_interval(values, test_train_ratio=1 / 3)
    half_nb = stats.t.ppf(0.975, 3) * values.std(ddof=1) * np.sqrt(1 / 4 + 1 / 3)
    assert high_nb - low_nb == pytest.approx(2 * half_nb)
    assert np.isnan(_stats.mean_interval([0.5])[1]) and _stats.mean_interval([0.5])[0] == 0.5
    assert _stats.mean_interval([0.5, np.nan, 0.7])[0] == pytest.approx(0.6)


def test_critical_difference_matches_demsar():
    # Demsar (2006), Table 5: q_0.05 = 2.569 for 4 classifiers.
    assert _stats.critical_difference(4, 20) == pytest.approx(
        2.569 * np.sqrt(4 * 5 / (6 * 20)), abs=1e-3)
    assert _stats.critical_difference(10, 14) == pytest.approx(
        3.164 * np.sqrt(10 * 11 / (6 * 14)), abs=1e-3)


def _rows(table, names, dataset="d", n_test=50, n_train=150):
    rows = []
    for block, scores in enumerate(table):
        for name, score in zip(names, scores, strict=True):
            rows.append({"dataset": dataset, "method": name, "repeat": 0, "fold": block,
                         "status": "ok", "error": "", "n_test": n_test, "n_train": 40,
                         "n_split_train": n_train, "balanced_accuracy": score,
                         "fit_time": 1.0})
    return rows


def test_summary_of_one_data_set():
    summary = summarize(_rows(TABLE, NAMES), NAMES, "balanced_accuracy")
    assert summary["blocks"]["n_blocks"] == 7 and summary["critical_difference"] is None
    means = TABLE.mean(axis=0)
    by_name = {m["method"]: m for m in summary["methods"]}
    assert [m["method"] for m in summary["methods"]] == ["b", "a", "ce"]  # by mean
    ranks = stats.rankdata(-TABLE, axis=1).mean(axis=0)
    for j, name in enumerate(NAMES):
        assert by_name[name]["mean"] == pytest.approx(means[j])
        assert by_name[name]["average_rank"] == pytest.approx(ranks[j])
        # Nadeau-Bengio with n_test / n_train of the split (50 / 150).
        _, low, high = _stats.mean_interval(TABLE[:, j], test_train_ratio=50 / 150)
        assert (by_name[name]["ci_low"], by_name[name]["ci_high"]) == pytest.approx((low, high))
    assert summary["friedman"]["p_value"] == pytest.approx(
        stats.friedmanchisquare(*TABLE.T).pvalue)
    assert by_name["a"]["p_value"] == pytest.approx(
        stats.wilcoxon(TABLE[:, 1], TABLE[:, 0]).pvalue)
    assert np.isnan(by_name["ce"]["p_value"]) and summary["reference"] == "ce"


def test_summary_of_a_suite_ranks_data_sets_and_drops_incomplete_blocks():
    rows = []
    for d in range(6):  # six data sets, two folds each
        rows += _rows(TABLE[[d, d + 1]], NAMES, dataset=f"set{d}")
    # One failed fit of 'a' on set5: that data set leaves the tests.
    failed = next(r for r in rows if r["dataset"] == "set5" and r["method"] == "a")
    failed.update(status="failed", error="RuntimeError: x", balanced_accuracy=np.nan)
    summary = summarize(rows, NAMES, "balanced_accuracy")
    assert summary["blocks"]["kind"].startswith("data sets")
    assert summary["excluded"]["incomplete_blocks"] == ["set5"]
    means = np.array([TABLE[[d, d + 1]].mean(axis=0) for d in range(5)])
    by_name = {m["method"]: m for m in summary["methods"]}
    ranks = stats.rankdata(-means, axis=1).mean(axis=0)
    for j, name in enumerate(NAMES):
        assert by_name[name]["average_rank"] == pytest.approx(ranks[j])
    assert summary["friedman"]["statistic"] == pytest.approx(
        stats.friedmanchisquare(*means.T).statistic)
    assert summary["critical_difference"] == pytest.approx(_stats.critical_difference(3, 5))
    assert by_name["a"]["n_failed"] == 1 and by_name["a"]["n_datasets"] == 6
