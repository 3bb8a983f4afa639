"""What ``skimbal compare`` writes: the printed table, CSV and JSON files, the plots.

- ``results.csv``: one row per data set x method x fold (failed fits too, with
  their error);
- ``per_class_recall.csv``: per data set, method and class (or attribute) the
  mean test recall over the folds and the mean training count;
- ``summary.csv`` and ``summary.json``: means, intervals, ranks and tests
  (``_summary``);
- ``run.json``: versions, arguments, device, seeds, wall time;
- ``table.txt``: the printed table;
- the plots of ``_plots`` (with matplotlib).
"""

import csv
import json
import math
import os
import sys

import numpy as np

from ._scores import METRICS, SHOT_COLUMNS

__all__ = ["RESULT_COLUMNS", "format_table", "result_columns", "write_outputs"]

#: Columns of ``results.csv`` (the shot columns only where they apply, see result_columns).
RESULT_COLUMNS = (
    "dataset", "method", "repeat", "fold", "seed", "status", "error", "warnings",
    "n_train", "n_test", "train_imbalance_ratio", *METRICS, "accuracy", *SHOT_COLUMNS,
    "fit_time", "predict_time", "model_file",
)
SUMMARY_COLUMNS = (
    "dataset", "method", "metric", "n_scores", "n_failed", "mean", "ci_low", "ci_high",
    "average_rank", "p_value", "p_holm", *METRICS, *SHOT_COLUMNS, "fit_time",
)
_SHORT = {"balanced_accuracy": "bal_acc", "macro_f1": "macro_f1", "g_mean": "g_mean",
          "average_precision": "avg_prec", "roc_auc": "roc_auc",
          "many_shot_accuracy": "many", "medium_shot_accuracy": "medium",
          "few_shot_accuracy": "few"}


def has_shots(rows):
    """Whether some row has many/medium/few-shot scores."""
    return any(np.isfinite(row.get(column, np.nan)) for row in rows
               if row["status"] == "ok" for column in SHOT_COLUMNS)


def result_columns(rows):
    """The columns of ``results.csv`` for these rows."""
    saved = any("model_file" in row for row in rows)
    return [c for c in RESULT_COLUMNS
            if (c not in SHOT_COLUMNS or has_shots(rows)) and (c != "model_file" or saved)]


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return "" if value is None else value


def _write_csv(path, columns, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
    return path


def _human(row):
    """1-based repeat and fold numbers for the files a person reads."""
    return {**row, "repeat": row["repeat"] + 1, "fold": row["fold"] + 1}


def per_class_recall(rows, datasets):
    """Mean recall and training count per (data set, method, class)."""
    labels = {d.name: d.labels for d in datasets}
    table = []
    for key in dict.fromkeys((r["dataset"], r["method"]) for r in rows if r["status"] == "ok"):
        mine = [r for r in rows if (r["dataset"], r["method"]) == key and r["status"] == "ok"]
        recall = np.mean([r["recall"] for r in mine], axis=0)
        counts = np.mean([r["train_counts"] for r in mine], axis=0)
        for label, value, count in zip(labels[key[0]], recall, counts, strict=True):
            table.append({"dataset": key[0], "method": key[1], "label": label,
                          "train_count": float(count), "recall": float(value)})
    return table


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    return value


def _write_json(path, value):
    with open(path, "w") as file:
        json.dump(_json_ready(value), file, indent=2)
        file.write("\n")
    return path


def _write_text(path, text):
    with open(path, "w") as file:
        file.write(text + "\n")
    return path


def write_outputs(folder, rows, summary, datasets, run_record):
    """Write every file of a comparison into ``folder``; returns the paths written.

    Without matplotlib the plots are skipped and a line on stderr says so.
    """
    from . import _plots

    os.makedirs(folder, exist_ok=True)
    path = lambda name: os.path.join(folder, name)  # noqa: E731
    human = [_human(r) for r in rows]
    written = [
        _write_csv(path("results.csv"), result_columns(rows), human),
        _write_csv(path("per_class_recall.csv"),
                   ["dataset", "method", "label", "train_count", "recall"],
                   per_class_recall(rows, datasets)),
        _write_csv(path("summary.csv"), _summary_columns(rows), _summary_rows(summary)),
        _write_json(path("summary.json"), summary),
        _write_json(path("run.json"), run_record),
        _write_text(path("table.txt"), format_table(summary, with_shots=has_shots(rows))),
    ]
    plots = _plots.plot_all(folder, rows, summary, datasets)
    if plots is None:
        print("matplotlib is not installed: the plots are skipped "
              "(pip install matplotlib to get them).", file=sys.stderr)
    else:
        written += plots
    return written


def _summary_columns(rows):
    return [c for c in SUMMARY_COLUMNS if c not in SHOT_COLUMNS or has_shots(rows)]


def _summary_rows(summary):
    """Per data set rows, then (suites) the overall rows with dataset 'all'."""
    methods = {m["method"]: m for m in summary["methods"]}
    suite = len({e["dataset"] for e in summary["datasets"]}) > 1
    rows = []
    for entry in summary["datasets"]:
        row = {**entry, "metric": summary["metric"]}
        if not suite:
            overall = methods[entry["method"]]
            row.update({k: overall[k] for k in ("average_rank", "p_value", "p_holm")})
        rows.append(row)
    if suite:
        rows += [{**m, "dataset": "all", "metric": summary["metric"]}
                 for m in summary["methods"]]
    return rows


def _format(value, digits=3):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def format_table(summary, with_shots=False):
    """Plain-text table of the methods, best first (the printed summary)."""
    metric = summary["metric"]
    entries = summary["datasets"]
    columns = ["method", f"{_SHORT[metric]} [95% CI]", "rank", "p_holm"]
    others = [c for c in METRICS if c != metric]
    others += list(SHOT_COLUMNS) if with_shots else []
    columns += [_SHORT[c] for c in others] + ["fit_s"]
    lines = [columns]
    for m in summary["methods"]:
        mine = [e for e in entries if e["method"] == m["method"]]
        interval = f"{_format(m['mean'])} [{_format(m['ci_low'])}, {_format(m['ci_high'])}]"
        p = "ref" if m["method"] == summary["reference"] else _format(m["p_holm"], 3)
        means = [_format(_nanmean([e[c] for e in mine])) for c in others]
        lines.append([m["method"], interval, _format(m["average_rank"], 2), p, *means,
                      _format(m["fit_time"], 2)])
    widths = [max(len(line[j]) for line in lines) for j in range(len(columns))]
    text = []
    for i, line in enumerate(lines):
        text.append("  ".join(cell.ljust(w) if j == 0 else cell.rjust(w)
                              for j, (cell, w) in enumerate(zip(line, widths, strict=True))))
        if i == 0:
            text.append("  ".join("-" * w for w in widths))
    blocks = summary["blocks"]
    text.append(f"{_SHORT[metric]}: mean [95 % interval: {summary['interval']['kind']}]; "
                f"rank: average over {blocks['n_blocks']} blocks ({blocks['kind']}); "
                f"p_holm: Wilcoxon signed-rank test against {summary['reference']}, "
                "Holm-corrected.")
    if summary.get("wilcoxon_note"):
        text.append(f"note: {summary['wilcoxon_note']}.")
    return "\n".join(text)


def _nanmean(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")
