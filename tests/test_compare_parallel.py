"""``--n-jobs``: joblib processes give the numbers of a serial run."""

import csv

from skimbal.compare._cli import main
from skimbal.compare._data import digits_lt
from skimbal.compare._evaluate import Settings, plan, run_comparison

SCORES = ["balanced_accuracy", "macro_f1", "g_mean", "average_precision", "roc_auc",
          "accuracy", "recall", "train_counts", "seed", "n_train", "status"]


def test_processes_give_the_serial_numbers():
    # A network, a resampling pipeline and a forest: every kind of seed use.
    tasks, _ = plan([digits_lt(20)], ["ce", "smote-mlp", "balanced-rf"], cv=2, repeats=1,
                    random_state=3)
    settings = Settings(max_epochs=2)
    serial = run_comparison(tasks, settings, n_jobs=1)
    parallel = run_comparison(tasks, settings, n_jobs=2)
    assert len(serial) == len(parallel) == 6
    for one, other in zip(serial, parallel, strict=True):
        assert (one["method"], one["fold"]) == (other["method"], other["fold"])
        assert {k: one[k] for k in SCORES} == {k: other[k] for k in SCORES}


def test_command_results_do_not_depend_on_n_jobs(tmp_path):
    columns = ["dataset", "method", "repeat", "fold", "seed", "balanced_accuracy", "roc_auc"]
    found = []
    for n_jobs in ("1", "2"):
        out = tmp_path / n_jobs
        main(["compare", "--methods", "weighted-ce", "balanced-logreg", "--cv", "2",
              "--max-epochs", "2", "--no-progress", "--n-jobs", n_jobs, "--out", str(out)])
        with open(out / "results.csv", newline="") as file:
            found.append([[row[c] for c in columns] for row in csv.DictReader(file)])
    assert found[0] == found[1] and len(found[0]) == 4
