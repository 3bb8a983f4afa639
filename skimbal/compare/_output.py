"""What ``skimbal compare`` writes: the printed table, the CSV files and the plot."""

import csv
import os
import sys

import numpy as np

__all__ = ["RESULT_COLUMNS", "format_table", "write_outputs"]

#: Columns of ``results.csv``, in order.
RESULT_COLUMNS = (
    "method",
    "balanced_accuracy",
    "macro_f1",
    "g_mean",
    "many_shot_accuracy",
    "medium_shot_accuracy",
    "few_shot_accuracy",
    "accuracy",
    "fit_time",
    "n_seeds",
    "balanced_accuracy_std",
)

_HEADERS = {
    "method": "method",
    "balanced_accuracy": "bal_acc",
    "macro_f1": "macro_f1",
    "g_mean": "g_mean",
    "many_shot_accuracy": "many",
    "medium_shot_accuracy": "medium",
    "few_shot_accuracy": "few",
    "accuracy": "acc",
    "fit_time": "fit_s",
    "n_seeds": "seeds",
    "balanced_accuracy_std": "bal_acc_sd",
}


def _format_value(value, column):
    if column == "method":
        return str(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if column == "n_seeds":
        return str(value)
    return f"{value:.2f}" if column == "fit_time" else f"{value:.3f}"


def format_table(results):
    """Plain-text table of the results (one row per method).

    The seed columns appear only when some method ran with several seeds.
    """
    columns = list(RESULT_COLUMNS)
    if all(row.get("n_seeds", 1) == 1 for row in results):
        columns = [c for c in columns if c not in ("n_seeds", "balanced_accuracy_std")]
    rows = [[_HEADERS[c] for c in columns]]
    rows += [[_format_value(row.get(c), c) for c in columns] for row in results]
    widths = [max(len(row[j]) for row in rows) for j in range(len(columns))]
    lines = []
    for i, row in enumerate(rows):
        cells = [
            cell.ljust(w) if j == 0 else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _csv_value(value):
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.4f}"
    return value


def _write_results(results, path):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(RESULT_COLUMNS)
        for row in results:
            writer.writerow([_csv_value(row[c]) for c in RESULT_COLUMNS])
    return path


def _write_per_class(results, path):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["method", "label", "train_count", "accuracy"])
        for row in results:
            for label, count, accuracy in zip(
                row["labels"], row["train_counts"], row["per_class_accuracy"], strict=True
            ):
                writer.writerow([row["method"], label, int(count), _csv_value(float(accuracy))])
    return path


def write_outputs(results, folder):
    """Write ``results.csv``, ``per_class_accuracy.csv`` and, with matplotlib, the plot.

    Parameters
    ----------
    results : list of dict
        What :func:`skimbal.compare.run_comparison` returns.
    folder : str
        Output folder, created if needed.

    Returns
    -------
    written : list of str
        Paths of the files written. Without matplotlib the PNG is skipped and
        a line on stderr says so.
    """
    os.makedirs(folder, exist_ok=True)
    written = [
        _write_results(results, os.path.join(folder, "results.csv")),
        _write_per_class(results, os.path.join(folder, "per_class_accuracy.csv")),
    ]
    png = _plot_per_class(results, os.path.join(folder, "per_class_accuracy.png"))
    if png is None:
        print(
            "matplotlib is not installed: per_class_accuracy.png skipped "
            "(pip install matplotlib to get the plot).",
            file=sys.stderr,
        )
    else:
        written.append(png)
    return written


def _plot_per_class(results, path):
    """Per-class accuracy against training count; None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    # Tall enough for one legend entry per method next to the axes.
    figure = Figure(figsize=(10, max(5.0, 0.24 * len(results) + 1.0)), layout="constrained")
    axes = figure.add_subplot()
    for row in results:
        order = np.argsort(-row["train_counts"], kind="stable")
        axes.plot(
            row["train_counts"][order],
            row["per_class_accuracy"][order],
            marker="o",
            label=row["method"],
        )
    for threshold in (20, 100):
        axes.axvline(threshold, color="0.6", linestyle="--", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel("training samples of the class (log scale)")
    axes.set_ylabel("test accuracy of the class")
    axes.set_ylim(-0.02, 1.02)
    axes.grid(True, alpha=0.3)
    axes.set_title("per-class accuracy (dashed: few / medium / many-shot boundaries)")
    axes.legend(
        fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
        ncols=1 if len(results) <= 30 else 2,
    )
    figure.savefig(path, dpi=120)
    return path

