"""The plots of a comparison, each readable at a glance.

- ``metric.png``: the ranking metric per method, a dot at the mean and a bar
  for the 95 % interval, best on top; the reference (CE) as a dashed line;
  skimbal methods and classic baselines in two colours;
- ``ranks.png`` (suites): average rank over the data sets, best on top, with
  the Nemenyi critical difference drawn from the best method: methods within it
  are not distinguishable from the best;
- ``recall_heatmap.png`` (one data set): mean test recall of every method on
  every class (attribute), the classes from the most to the least frequent in
  training, with the many / medium / few-shot boundaries where they apply.
"""

import os

import numpy as np

from ._registry import BASELINES
from ._scores import SHOT_COLUMNS

__all__ = ["plot_all"]

_SKIMBAL, _BASELINE, _REFERENCE = "tab:blue", "tab:orange", "black"
_LABELS = {"balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1",
           "g_mean": "G-mean", "average_precision": "average precision", "roc_auc": "ROC-AUC"}


def plot_all(folder, rows, summary, datasets):
    """Draw every plot that applies; None without matplotlib, else the paths."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    written = [_metric_plot(Figure, summary, os.path.join(folder, "metric.png"))]
    if len(datasets) > 1:
        written.append(_rank_plot(Figure, summary, os.path.join(folder, "ranks.png")))
    else:
        written.append(_heatmap(Figure, summary, rows, datasets[0],
                                os.path.join(folder, "recall_heatmap.png")))
    return written


def _colour(name, reference):
    if name == reference:
        return _REFERENCE
    return _BASELINE if name in BASELINES else _SKIMBAL


def _legend(figure, reference_label="reference"):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, marker="o", linestyle="", label=label)
               for c, label in ((_SKIMBAL, "skimbal method"), (_BASELINE, "classic baseline"),
                                (_REFERENCE, reference_label))]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small",
                  frameon=False)


def _metric_plot(Figure, summary, path):
    methods = [m for m in summary["methods"] if np.isfinite(m["mean"])][::-1]  # best on top
    figure = Figure(figsize=(8, 1.2 + 0.28 * len(methods)), layout="constrained")
    axes = figure.add_subplot()
    for y, m in enumerate(methods):
        colour = _colour(m["method"], summary["reference"])
        if np.isfinite(m["ci_low"]):
            axes.plot([m["ci_low"], m["ci_high"]], [y, y], color=colour, linewidth=2, alpha=0.6)
        axes.plot(m["mean"], y, "o", color=colour)
    reference = next((m for m in methods if m["method"] == summary["reference"]), None)
    if reference is not None:
        axes.axvline(reference["mean"], color=_REFERENCE, linestyle="--", linewidth=0.8)
    axes.set_yticks(range(len(methods)), [m["method"] for m in methods])
    axes.set_ylim(-0.7, len(methods) - 0.3)
    label = _LABELS[summary["metric"]]
    n_datasets = len({e["dataset"] for e in summary["datasets"]})
    over = f"mean over {n_datasets} data sets" if n_datasets > 1 else "mean over the folds"
    axes.set_xlabel(f"{label} ({over}; bar: 95 % interval)")
    axes.grid(True, axis="x", alpha=0.3)
    axes.set_title(f"{label} per method, best on top")
    _legend(figure, "reference (dashed line)")
    figure.savefig(path, dpi=120)
    return path


def _rank_plot(Figure, summary, path):
    methods = [m for m in summary["methods"] if np.isfinite(m["average_rank"])]
    methods.sort(key=lambda m: -m["average_rank"])  # best (lowest rank) on top
    figure = Figure(figsize=(8, 1.4 + 0.28 * len(methods)), layout="constrained")
    axes = figure.add_subplot()
    cd = summary.get("critical_difference")
    if methods and cd is not None and np.isfinite(cd):
        best = methods[-1]["average_rank"]
        axes.axvspan(best, best + cd, color="0.9", zorder=0)
        axes.annotate(f"critical difference {cd:.2f} (Nemenyi, 95 %)", (best, len(methods) - 0.4),
                      fontsize="small", va="bottom")
    for y, m in enumerate(methods):
        axes.plot(m["average_rank"], y, "o", color=_colour(m["method"], summary["reference"]))
    axes.set_yticks(range(len(methods)), [m["method"] for m in methods])
    axes.set_ylim(-0.7, len(methods) + 0.3)
    axes.set_xlabel(f"average rank over {summary['blocks']['n_blocks']} data sets "
                    f"({_LABELS[summary['metric']]}; 1 = best)")
    axes.grid(True, axis="x", alpha=0.3)
    friedman = summary["friedman"]
    if friedman["p_value"] is not None and np.isfinite(friedman["p_value"]):
        axes.set_title(f"average ranks (Friedman p = {friedman['p_value']:.2g})")
    _legend(figure)
    figure.savefig(path, dpi=120)
    return path


def _heatmap(Figure, summary, rows, dataset, path):
    from ._output import per_class_recall

    entries = [e for e in summary["datasets"] if e["dataset"] == dataset.name]
    order = [m["method"] for m in summary["methods"]]
    table = per_class_recall(rows, [dataset])
    methods = [n for n in order if any(t["method"] == n for t in table)]
    labels = list(dataset.labels)
    counts = np.array([np.mean([t["train_count"] for t in table if t["label"] == label])
                       for label in labels])
    columns = np.argsort(-counts, kind="stable")
    values = np.array([[next(t["recall"] for t in table
                             if t["method"] == method and t["label"] == labels[j])
                        for j in columns] for method in methods])
    figure = Figure(figsize=(2.5 + 0.55 * len(labels), 1.4 + 0.3 * len(methods)),
                    layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    if values.size <= 600:
        for (i, j), value in np.ndenumerate(values):
            axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                      color="white" if value < 0.6 else "black")
    axes.set_xticks(range(len(columns)),
                    [f"{labels[j]}\n({counts[j]:.0f})" for j in columns], fontsize="small")
    axes.set_yticks(range(len(methods)), methods)
    what = "attribute (training positives)" if dataset.task == "multilabel" else \
        "class (training samples)"
    axes.set_xlabel(f"{what}, most frequent first")
    if any(np.isfinite(e.get(c, np.nan)) for e in entries for c in SHOT_COLUMNS):
        for threshold in (100, 20):  # many > 100 >= medium >= 20 > few
            boundary = np.sum(counts[columns] > threshold) if threshold == 100 else \
                np.sum(counts[columns] >= threshold)
            if 0 < boundary < len(columns):
                axes.axvline(boundary - 0.5, color="white", linewidth=2)
        axes.set_title(f"test recall on {dataset.name} (white lines: many / medium / few shot)")
    else:
        axes.set_title(f"test recall on {dataset.name}")
    figure.colorbar(image, ax=axes, shrink=0.8, label="recall")
    figure.savefig(path, dpi=120)
    return path

