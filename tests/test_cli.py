import csv
import subprocess
import sys

import numpy as np
import pytest

from skimbal import compare as _compare
from skimbal.compare._cli import RESULT_COLUMNS, main
from skimbal.datasets import load_digits_lt, long_tailed_counts

FAST = ["--max-epochs", "2", "--no-progress", "--random-state", "0"]
SCORE_COLUMNS = [
    "balanced_accuracy",
    "macro_f1",
    "g_mean",
    "many_shot_accuracy",
    "medium_shot_accuracy",
    "few_shot_accuracy",
    "accuracy",
]


def _read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_compare_digits_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(
        ["compare", "--methods", "ce", "weighted-ce", "balanced-rf", "--out", str(out)] + FAST
    )
    assert status == 0
    with open(out / "results.csv", newline="") as file:
        assert next(csv.reader(file)) == list(RESULT_COLUMNS)
    rows = _read_csv(out / "results.csv")
    assert sorted(row["method"] for row in rows) == ["balanced-rf", "ce", "weighted-ce"]
    scores = [float(row["balanced_accuracy"]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    for row in rows:
        for column in SCORE_COLUMNS:
            assert 0 <= float(row[column]) <= 1
        assert float(row["fit_time"]) > 0
        assert row["n_seeds"] == "1" and row["balanced_accuracy_std"] == ""

    per_class = _read_csv(out / "per_class_accuracy.csv")
    assert len(per_class) == 3 * 10
    # digits-LT, IR 20: the training counts of the default split.
    ce_rows = [row for row in per_class if row["method"] == "ce"]
    counts = [int(row["train_count"]) for row in ce_rows]
    assert counts == long_tailed_counts(130, 10, 20).tolist()
    assert counts == [130, 93, 66, 47, 34, 24, 17, 12, 9, 6]
    # The balanced accuracy is the mean of the per-class accuracies (balanced test split).
    for row in rows:
        accuracies = [float(r["accuracy"]) for r in per_class if r["method"] == row["method"]]
        assert float(row["balanced_accuracy"]) == pytest.approx(np.mean(accuracies), abs=1e-3)
    # Shot groups: >100 (class 0 only), 20-100, <20 (classes 6 to 9).
    for row in rows:
        accuracies = [float(r["accuracy"]) for r in per_class if r["method"] == row["method"]]
        assert float(row["many_shot_accuracy"]) == pytest.approx(accuracies[0], abs=1e-3)
        assert float(row["few_shot_accuracy"]) == pytest.approx(np.mean(accuracies[6:]), abs=1e-3)
    with open(out / "per_class_accuracy.png", "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "digits-LT" in printed and "bal_acc" in printed and "weighted-ce" in printed


def test_compare_is_deterministic(tmp_path):
    for name in ("a", "b"):
        main(["compare", "--methods", "ce", "--out", str(tmp_path / name)] + FAST)
    first, second = (_read_csv(tmp_path / name / "results.csv") for name in ("a", "b"))
    for column in ["method", *SCORE_COLUMNS]:
        assert first[0][column] == second[0][column]


def test_n_seeds_averages_the_single_seed_runs(tmp_path):
    split = load_digits_lt(20, random_state=0)
    X_train, X_test, y_train, y_test = split
    kwargs = dict(device="cpu", max_epochs=2, progress=False)
    runs = [
        _compare.run_comparison(
            ["ce"], X_train, y_train, X_test, y_test, random_state=seed, **kwargs
        )[0]
        for seed in (0, 1)
    ]
    both = _compare.run_comparison(
        ["ce"], X_train, y_train, X_test, y_test, random_state=0, n_seeds=2, **kwargs
    )[0]
    scores = [run["balanced_accuracy"] for run in runs]
    assert both["n_seeds"] == 2
    assert both["balanced_accuracy"] == pytest.approx(np.mean(scores))
    assert both["balanced_accuracy_std"] == pytest.approx(np.std(scores, ddof=1))
    np.testing.assert_allclose(
        both["per_class_accuracy"], np.mean([run["per_class_accuracy"] for run in runs], axis=0)
    )
    assert np.isnan(runs[0]["balanced_accuracy_std"]) and runs[0]["n_seeds"] == 1

    out = tmp_path / "out"
    main(["compare", "--methods", "ce", "--n-seeds", "2", "--out", str(out)] + FAST)
    row = _read_csv(out / "results.csv")[0]
    assert row["n_seeds"] == "2"
    assert float(row["balanced_accuracy"]) == pytest.approx(np.mean(scores), abs=1e-4)
    assert float(row["balanced_accuracy_std"]) == pytest.approx(np.std(scores, ddof=1), abs=1e-4)


def test_unknown_method_lists_known_ones(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--methods", "ce", "no-such-method", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "'no-such-method'" in error
    assert "known methods: " + ", ".join(_compare.available_methods()) in error
    assert not (tmp_path / "results.csv").exists()


def test_list_methods(capsys):
    assert main(["compare", "--list-methods"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == _compare.available_methods()


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def test_compare_csv_dataset(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for label, centre in (("low", -2.0), ("mid", 0.0), ("high", 2.0)):
        for _ in range(80):
            rows.append([*(rng.normal(centre, 1.0, size=2).round(4)), label])
    path = tmp_path / "data.csv"
    _write_csv(path, ["x0", "x1", "target"], rows)
    out = tmp_path / "out"
    status = main(
        [
            "compare",
            "--dataset",
            str(path),
            "--imbalance-ratio",
            "4",
            "--methods",
            "ce",
            "rus-mlp",
            "--out",
            str(out),
        ]
        + FAST
    )
    assert status == 0
    assert {row["method"] for row in _read_csv(out / "results.csv")} == {"ce", "rus-mlp"}
    per_class = [row for row in _read_csv(out / "per_class_accuracy.csv") if row["method"] == "ce"]
    # Stratified split: 60 of the 80 samples of each class train; IR 4 with the
    # largest n_max every class can give (60): 60, 30, 15.
    counts = sorted((int(row["train_count"]) for row in per_class), reverse=True)
    assert counts == [60, 30, 15]
    assert {row["label"] for row in per_class} == {"low", "mid", "high"}


def test_compare_csv_without_imbalance_ratio_keeps_training_part(tmp_path):
    rows = [[i % 7, (i * 3) % 5, i % 2] for i in range(40)]
    path = tmp_path / "data.csv"
    _write_csv(path, ["a", "b", "label"], rows)
    out = tmp_path / "out"
    main(
        [
            "compare",
            "--dataset",
            str(path),
            "--target",
            "label",
            "--methods",
            "ce",
            "--out",
            str(out),
        ]
        + FAST
    )
    per_class = _read_csv(out / "per_class_accuracy.csv")
    assert [int(row["train_count"]) for row in per_class] == [15, 15]


def test_csv_errors(tmp_path, capsys):
    path = tmp_path / "data.csv"
    _write_csv(path, ["x0", "label"], [[1.0, 0], [2.0, 1]])
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--dataset", str(path), "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no column 'target'" in capsys.readouterr().err

    _write_csv(path, ["x0", "target"], [[1.0, 0], ["red", 1]])
    with pytest.raises(SystemExit):
        main(["compare", "--dataset", str(path), "--out", str(tmp_path)])
    assert "column 'x0' has the non-numeric value 'red'" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["compare", "--dataset", str(tmp_path / "missing.csv"), "--out", str(tmp_path)])
    assert "does not exist" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["compare", "--dataset", "mnist", "--out", str(tmp_path)])
    assert "unknown dataset 'mnist'" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["compare", "--max-epochs", "0", "--out", str(tmp_path)])
    assert "--max-epochs" in capsys.readouterr().err


def test_cuda_without_gpu_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--device", "cuda", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_png_skipped_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = tmp_path / "out"
    assert main(["compare", "--methods", "ce", "--out", str(out)] + FAST) == 0
    assert (out / "results.csv").exists()
    assert not (out / "per_class_accuracy.png").exists()
    assert "matplotlib is not installed" in capsys.readouterr().err


def test_failing_method_is_reported_and_others_run(tmp_path, capsys, monkeypatch):
    def broken(*, random_state, device, max_epochs):
        """Always fails."""
        raise RuntimeError("boom")

    monkeypatch.setitem(_compare.METHODS, "broken", broken)
    out = tmp_path / "out"
    status = main(["compare", "--methods", "broken", "ce", "--out", str(out)] + FAST)
    assert status == 1
    assert "method 'broken' failed: RuntimeError: boom" in capsys.readouterr().err
    assert [row["method"] for row in _read_csv(out / "results.csv")] == ["ce"]


def test_registry_factories_follow_the_format():
    assert set(_compare.DEFAULT_METHODS) >= {"ce", "weighted-ce", "smote-mlp", "rus-mlp"}
    for name, factory in _compare.METHODS.items():
        assert name == name.lower() and " " not in name and "_" not in name
        estimator = factory(random_state=0, device="cpu", max_epochs=1)
        assert hasattr(estimator, "fit") and hasattr(estimator, "predict")


def test_help_and_registry_do_not_import_torch():
    # `skimbal --help`, `skimbal compare --help` and --list-methods stay fast: no torch,
    # no estimator until a comparison runs.
    code = (
        "import sys\n"
        "import skimbal.compare._cli as cli\n"
        "assert 'torch' not in sys.modules, 'import'\n"
        "assert cli.main(['compare', '--list-methods']) == 0\n"
        "assert 'torch' not in sys.modules, '--list-methods'\n"
        "for argv in (['--help'], ['compare', '--help']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0\n"
        "    assert 'torch' not in sys.modules, argv\n"
        "print('no torch')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("no torch")
    assert "usage: skimbal compare" in result.stdout and "ldam-drw" in result.stdout


def test_command_line_entry_point(tmp_path):
    # The console script `skimbal` of pyproject.toml is this main.
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    script = tomllib.loads(pyproject.read_text())["project"]["scripts"]["skimbal"]
    assert script == "skimbal.compare._cli:main"
    # The module runs as a script too: `python -m skimbal.compare._cli`.
    result = subprocess.run(
        [sys.executable, "-m", "skimbal.compare._cli", "compare", "--methods", "nope",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert "skimbal compare: error: unknown method(s) 'nope'" in result.stderr
    assert "RuntimeWarning" not in result.stderr
