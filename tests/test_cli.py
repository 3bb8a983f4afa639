"""The ``skimbal`` command end to end: files, exit codes, input handling, speed of --help."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skimbal import compare as _compare
from skimbal.compare import _evaluate
from skimbal.compare._cli import main
from skimbal.compare._output import RESULT_COLUMNS

FAST = ["--max-epochs", "2", "--no-progress", "--cv", "2"]
METRIC_COLUMNS = ["balanced_accuracy", "macro_f1", "g_mean", "average_precision", "roc_auc"]
SHOTS = ["many_shot_accuracy", "medium_shot_accuracy", "few_shot_accuracy"]


def _read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _write_csv(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)


def test_digits_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["compare", "--methods", "ce", "weighted-ce", "balanced-logreg",
                   "--repeats", "2", "--out", str(out)] + FAST)
    assert status == 0
    rows = _read_csv(out / "results.csv")
    # One row per method x data set x fold: 3 methods x 2 folds x 2 repeats.
    assert len(rows) == 12
    with open(out / "results.csv", newline="") as file:
        header = next(csv.reader(file))
    assert header == [c for c in RESULT_COLUMNS if c != "model_file"]  # digits: shots apply
    assert {(r["repeat"], r["fold"]) for r in rows} == {("1", "1"), ("1", "2"), ("2", "1"),
                                                         ("2", "2")}
    for row in rows:
        assert row["status"] == "ok" and row["error"] == ""
        for column in METRIC_COLUMNS + SHOTS[1:]:
            assert 0 <= float(row[column]) <= 1
        # 2 folds: the head digit keeps about 90 training images, so no class is many-shot
        # (> 100) and that group is empty.
        assert row["many_shot_accuracy"] == ""
        assert float(row["fit_time"]) > 0
        # The training part is cut to imbalance ratio 20, capped so that the tail digit
        # keeps 5 of its about 89 training images: 89 / 5 = 17.8.
        assert 17 <= float(row["train_imbalance_ratio"]) <= 18
    # Every method of a fold has the same seed and the same training part.
    for key in {(r["repeat"], r["fold"]) for r in rows}:
        fold = [r for r in rows if (r["repeat"], r["fold"]) == key]
        assert len({(r["seed"], r["n_train"], r["n_test"]) for r in fold}) == 1

    summary = _read_csv(out / "summary.csv")
    assert [r["method"] for r in summary] == ["ce", "weighted-ce", "balanced-logreg"]
    for row in summary:
        mine = [float(r["balanced_accuracy"]) for r in rows if r["method"] == row["method"]]
        assert float(row["mean"]) == pytest.approx(np.mean(mine), abs=1e-5)
        assert float(row["ci_low"]) < float(row["mean"]) < float(row["ci_high"])
        assert row["n_scores"] == "4" and row["n_failed"] == "0"
    ranks = sorted(float(r["average_rank"]) for r in summary)
    assert sum(ranks) == pytest.approx(6.0)  # 1 + 2 + 3 in every block
    report = json.loads((out / "summary.json").read_text())
    assert report["reference"] == "ce" and report["blocks"]["n_blocks"] == 4
    assert {t["method"] for t in report["wilcoxon"]} == {"weighted-ce", "balanced-logreg"}
    assert report["friedman"]["n_methods"] == 3
    record = json.loads((out / "run.json").read_text())
    assert record["n_fits"] == 12 and record["n_failed"] == 0
    assert record["arguments"]["cv"] == 2 and record["arguments"]["repeats"] == 2
    assert len(record["seeds"]) == 4 and record["versions"]["torch"]
    assert record["wall_time_s"] > 0 and record["device"]["requested"] == "cpu"
    per_class = _read_csv(out / "per_class_recall.csv")
    assert len(per_class) == 3 * 10
    ce = [r for r in per_class if r["method"] == "ce"]
    counts = [float(r["train_count"]) for r in ce]
    assert counts == sorted(counts, reverse=True)  # digit 0 is the head
    for name in ("metric.png", "recall_heatmap.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "ranks.png").exists()  # one data set: no rank plot
    printed = capsys.readouterr().out
    assert "digits-LT" in printed and "bal_acc [95% CI]" in printed and "few" in printed


def test_metric_option_ranks_by_that_metric(tmp_path):
    out = tmp_path / "out"
    main(["compare", "--methods", "ce", "balanced-logreg", "--metric", "macro-f1",
          "--out", str(out)] + FAST)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metric"] == "macro_f1"
    rows = _read_csv(out / "results.csv")
    for method in summary["methods"]:
        values = [float(r["macro_f1"]) for r in rows if r["method"] == method["method"]]
        assert method["mean"] == pytest.approx(np.mean(values), abs=1e-5)
    means = [m["mean"] for m in summary["methods"]]
    assert means == sorted(means, reverse=True)


def test_failed_method_has_its_rows_and_status_1(tmp_path, capsys, monkeypatch):
    def broken(*, random_state, device, max_epochs):
        """Always fails."""
        raise RuntimeError("boom")

    monkeypatch.setitem(_compare.METHODS, "broken", broken)
    out = tmp_path / "out"
    status = main(["compare", "--methods", "broken", "ce", "balanced-logreg",
                   "--out", str(out)] + FAST)
    assert status == 1
    assert "method 'broken' failed on 2 fold(s): RuntimeError: boom" in capsys.readouterr().err
    rows = _read_csv(out / "results.csv")
    assert len(rows) == 6
    failed = [r for r in rows if r["method"] == "broken"]
    assert [r["status"] for r in failed] == ["failed", "failed"]
    assert all(r["error"] == "RuntimeError: boom" and r["balanced_accuracy"] == ""
               for r in failed)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["excluded"]["methods_without_scores"] == ["broken"]
    assert [t["method"] for t in summary["wilcoxon"]] == ["balanced-logreg"]
    record = json.loads((out / "run.json").read_text())
    assert record["n_failed"] == 2 and "boom" in record["failures"][0]["traceback"]


def test_csv_with_categories_and_missing_values(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(90):
        label = ["low", "mid", "high"][i % 3]
        x0 = "" if i % 10 == 0 else round(rng.normal({"low": -2, "mid": 0, "high": 2}[label]), 3)
        colour = "" if i % 7 == 0 else ["red", "green", "blue"][(i // 3) % 3]
        rows.append([i, x0, colour, label])
    path = tmp_path / "data.csv"
    _write_csv(path, ["row_id", "x0", "colour", "label"], rows)
    out = tmp_path / "out"
    status = main(["compare", "--dataset", str(path), "--target", "label", "--drop", "row_id",
                   "--methods", "ce", "balanced-rf", "--out", str(out)] + FAST)
    assert status == 0
    results = _read_csv(out / "results.csv")
    assert len(results) == 4 and all(r["status"] == "ok" for r in results)
    assert "many_shot_accuracy" not in results[0]  # three classes: no shot columns
    record = json.loads((out / "run.json").read_text())
    assert record["datasets"][0]["n_features"] == 2  # row_id dropped
    labels = {r["label"] for r in _read_csv(out / "per_class_recall.csv")}
    assert labels == {"low", "mid", "high"}


def test_tsv_and_imbalance_ratio(tmp_path):
    rows = [[float(i % 5), float(i % 3), ["a", "b", "c"][i % 3]] for i in range(120)]
    path = tmp_path / "data.tsv"
    _write_csv(path, ["x0", "x1", "target"], rows, delimiter="\t")
    out = tmp_path / "out"
    assert main(["compare", "--dataset", str(path), "--imbalance-ratio", "4", "--methods",
                 "balanced-logreg", "--out", str(out)] + FAST) == 0
    results = _read_csv(out / "results.csv")
    # Each training part (60 rows, 20 per class) cut to the profile 20, 10, 5.
    assert [r["n_train"] for r in results] == ["35", "35"]
    assert [float(r["train_imbalance_ratio"]) for r in results] == [4.0, 4.0]


def test_parquet(tmp_path, capsys):
    import pandas as pd

    path = tmp_path / "data.parquet"
    frame = pd.DataFrame({"x": np.arange(40.0), "target": np.arange(40) % 2})
    try:
        frame.to_parquet(path)
    except ImportError:
        path.write_bytes(b"PAR1")
        with pytest.raises(SystemExit) as exit_info:
            main(["compare", "--dataset", str(path), "--out", str(tmp_path)] + FAST)
        assert exit_info.value.code == 2
        assert "pip install pyarrow" in capsys.readouterr().err
        return
    out = tmp_path / "out"
    assert main(["compare", "--dataset", str(path), "--methods", "balanced-logreg",
                 "--out", str(out)] + FAST) == 0
    assert len(_read_csv(out / "results.csv")) == 2


def _exit_2(argv, capsys, monkeypatch):
    """Run the command expecting status 2 before any fit; return stderr."""
    def no_fit(*args, **kwargs):
        raise AssertionError("a fit ran")

    monkeypatch.setattr(_evaluate, "fit_and_score", no_fit)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_input_errors_exit_2_before_training(tmp_path, capsys, monkeypatch):
    out = ["--out", str(tmp_path / "out")]
    path = tmp_path / "data.csv"
    _write_csv(path, ["x0", "target"], [[float(i), "only"] for i in range(10)])
    err = _exit_2(["compare", "--dataset", str(path)] + out, capsys, monkeypatch)
    assert "the target has a single class ('only')" in err

    _write_csv(path, ["x0", "target"], [[float(i), "a" if i < 8 else "b"] for i in range(10)])
    err = _exit_2(["compare", "--dataset", str(path), "--cv", "3"] + out, capsys, monkeypatch)
    assert "stratified 3-fold cross-validation needs at least 3 samples of every class" in err
    assert "'b' (2)" in err

    _write_csv(path, ["x0", "colour", "target"],
               [[float(i), "red", i % 2] for i in range(10)])
    err = _exit_2(["compare", "--dataset", str(path), "--no-preprocess"] + out, capsys,
                  monkeypatch)
    assert "--no-preprocess needs numeric features, but 'colour' are not numeric" in err

    _write_csv(path, ["x0", "target"], [["" if i == 3 else float(i), i % 2] for i in range(10)])
    err = _exit_2(["compare", "--dataset", str(path), "--no-preprocess"] + out, capsys,
                  monkeypatch)
    assert "'x0' have missing values" in err

    err = _exit_2(["compare", "--dataset", str(path), "--target", "label"] + out, capsys,
                  monkeypatch)
    assert "has no column 'label'" in err
    err = _exit_2(["compare", "--dataset", str(path), "--drop", "nope"] + out, capsys,
                  monkeypatch)
    assert "has no column 'nope'" in err
    err = _exit_2(["compare", "--dataset", str(tmp_path / "missing.csv")] + out, capsys,
                  monkeypatch)
    assert "does not exist" in err
    err = _exit_2(["compare", "--dataset", "mnist"] + out, capsys, monkeypatch)
    assert "unknown dataset 'mnist'" in err
    err = _exit_2(["compare", "--dataset", str(tmp_path / "data.xlsx")] + out, capsys,
                  monkeypatch)
    assert "unknown file type '.xlsx'" in err
    for argv, message in ((["--max-epochs", "0"], "--max-epochs must be at least 1"),
                          (["--cv", "1"], "--cv must be at least 2"),
                          (["--n-jobs", "0"], "--n-jobs must be"),
                          (["--n-seeds", "3"], "--n-seeds was replaced by --repeats"),
                          (["--test-size", "0.2"], "--test-size was replaced by --cv"),
                          (["--methods", "ce", "no-such"], "unknown method(s) 'no-such'"),
                          (["--target", "y"], "--target and --drop apply to a file"),
                          (["--suite", "binary", "--drop", "x"], "apply to --dataset, not to a"),
                          (["--methods", "ce-tuned-threshold"], "none of the selected methods "
                           "fits multiclass targets")):
        err = _exit_2(["compare", *argv] + out, capsys, monkeypatch)
        assert message in err
    assert not (tmp_path / "out").exists()


def test_unknown_method_lists_known_ones(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--methods", "ce", "no-such-method", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "known methods: " + ", ".join(_compare.available_methods()) in capsys.readouterr().err


def test_cuda_without_gpu_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    err = _exit_2(["compare", "--device", "cuda", "--out", str(tmp_path)], capsys, monkeypatch)
    assert "no CUDA GPU" in err


def test_progress_prints_plain_lines_when_not_a_terminal(tmp_path, capsys):
    argv = [a for a in FAST if a != "--no-progress"]
    main(["compare", "--methods", "ce", "balanced-logreg", "--out", str(tmp_path)] + argv)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert len(lines) == 4
    assert lines[0].startswith("[1/4] ce on digits-LT (repeat 1, fold 1): balanced_accuracy 0.")
    assert lines[-1].startswith("[4/4] balanced-logreg on digits-LT (repeat 1, fold 2)")


def test_save_models(tmp_path):
    from skimbal.persistence import load_model

    models = tmp_path / "models"
    main(["compare", "--methods", "ce", "balanced-logreg", "--out", str(tmp_path / "out"),
          "--save-models", str(models)] + FAST)
    rows = _read_csv(tmp_path / "out" / "results.csv")
    ce = [r for r in rows if r["method"] == "ce"]
    assert [Path(r["model_file"]).name for r in ce] == ["repeat1-fold1.safetensors",
                                                       "repeat1-fold2.safetensors"]
    model = load_model(ce[0]["model_file"])
    assert list(model.classes_) == list(range(10))
    assert all(r["model_file"].startswith("not saved: LogisticRegression is not a skimbal")
               for r in rows if r["method"] == "balanced-logreg")


def test_list_methods_and_suites(capsys):
    assert main(["compare", "--list-methods"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == _compare.available_methods()
    assert main(["compare", "--list-suites"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [
        "binary", "long-tailed", "attributes"]


def test_version(capsys):
    import skimbal

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"skimbal {skimbal.__version__}"


def test_help_imports_no_torch():
    # `skimbal --help`, `skimbal compare --help`, --version and --list-methods stay fast:
    # no torch, no scikit-learn, no pandas until a comparison runs.
    code = (
        "import sys, time\n"
        "start = time.perf_counter()\n"
        "import skimbal.compare._cli as cli\n"
        "for argv in (['--help'], ['compare', '--help'], ['--version']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0\n"
        "assert cli.main(['compare', '--list-methods']) == 0\n"
        "heavy = [m for m in ('torch', 'sklearn', 'pandas', 'scipy') if m in sys.modules]\n"
        "print('heavy:', heavy, 'seconds:', time.perf_counter() - start)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    last = result.stdout.rstrip().splitlines()[-1]
    assert last.startswith("heavy: [] seconds:")
    assert float(last.split()[-1]) < 1.0
    assert "usage: skimbal compare" in result.stdout and "--suite" in result.stdout


def test_command_line_entry_point(tmp_path):
    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    script = tomllib.loads(pyproject.read_text())["project"]["scripts"]["skimbal"]
    assert script == "skimbal.compare._cli:main"
    result = subprocess.run(
        [sys.executable, "-m", "skimbal.compare._cli", "compare", "--methods", "nope",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert "skimbal compare: error: unknown method(s) 'nope'" in result.stderr
    assert "RuntimeWarning" not in result.stderr


def test_registry_factories_follow_the_format():
    from skimbal.compare._factory import TASKS, tasks_of

    for name, factory in _compare.METHODS.items():
        assert name == name.lower() and " " not in name and "_" not in name
        assert tasks_of(factory) <= set(TASKS) and tasks_of(factory)
        estimator = factory(random_state=0, device="cpu", max_epochs=1)
        assert hasattr(estimator, "fit") and hasattr(estimator, "predict")
    # Duplicates at the registry's settings have no row (see _skimbal_methods).
    assert "logit-adjusted" not in _compare.METHODS
    assert tasks_of(_compare.METHODS["crl"]) == {"multilabel"}
    assert {"balanced-logreg", "sklearn-mlp", "smote-mlp", "rus-mlp", "balanced-rf",
            "hgb-balanced", "ce-tuned-threshold"} <= set(_compare.METHODS)
