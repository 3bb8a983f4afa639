"""Long-tailed CIFAR-10 with skimbal estimators: the standard protocol on a GPU.

The protocol of /work/shared/REFERENCE.md ("The standard long-tailed protocol"):
ResNet-32 (:class:`skimbal.nn.ResNet32`), SGD with learning rate 0.1, momentum
0.9 and weight decay 2e-4, batch 128, 200 epochs, linear warm-up over 5 epochs
and ``lr x 0.01`` from epoch 160, ``x 0.0001`` from 180
(:class:`skimbal.callbacks.WarmupMultiStepLR`), random 32 x 32 crops of the
4-pixel zero-padded image and horizontal flips, done on the device
(:class:`skimbal.nn.RandomCropFlip`). Every method is a skimbal estimator with
the GPU fast path (:func:`skimbal.gpu.with_gpu_fast_path`: no per-batch host sync,
training step captured in a CUDA graph). Reported: the last epoch's top-1
accuracy on the balanced test set, per-class accuracy, many (> 100 training
images) / medium (20-100) / few (< 20) shot accuracy and training images/s.

Data: ``cifar10_lt_jpeg.npz`` (the CIFAR-10 JPEG copy described in its README).
The JPEGs are decoded with Pillow once and cached as uint8 ``.npy`` files in
``benchmarks/data/`` (git-ignored). Long-tailed training sets take the first
``n_i = int(5000 * (1 / IR) ** (i / 9))`` images of class ``i`` in file order.

Usage (GPU; methods run as parallel processes, one CUDA context each)::

    python benchmarks/cifar10_lt.py --methods ce ce_drw ldam_drw balanced_softmax \\
        --imbalance-ratios 100 10 --jobs 4 --out benchmarks/results/cifar10_lt.json

Tiny CPU smoke run::

    python benchmarks/cifar10_lt.py --methods ce focal --device cpu --epochs 1 \\
        --limit-per-class 20 --jobs 2 --out /tmp/cifar10_lt_smoke.json

``--list`` prints the method table and which methods can be imported.
"""

import argparse
import csv
import io
import json
import os
import platform
import sys
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / "data"
SHARED_DATA = Path("/work/shared/data/cifar10/cifar10_lt_jpeg.npz")

# Normalisation of the LDAM-DRW code (Cao et al. 2019), images in [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
N_CLASSES = 10
N_MAX = 5000

# name -> (estimator class in skimbal, constructor parameters, extra callbacks
# by name in skimbal.callbacks, description). A class that cannot be imported
# is reported as unavailable, not an error.
METHODS = {
    "ce": ("CrossEntropyClassifier", {}, (), "cross-entropy"),
    "weighted_ce": ("WeightedCrossEntropyClassifier", {}, (), "inverse-frequency weighted CE"),
    "ce_drw": ("CrossEntropyClassifier", {}, ("DeferredReweighting",), "CE + DRW"),
    "focal": ("FocalLossClassifier", {"gamma": 1.0}, (), "focal loss, gamma 1"),
    "cb_focal": (
        "ClassBalancedClassifier",
        {"loss_type": "focal", "beta": 0.9999, "gamma": 1.0},
        (),
        "class-balanced focal, beta 0.9999",
    ),
    "ldam": ("LDAMClassifier", {"drw": False}, (), "LDAM"),
    "ldam_drw": ("LDAMClassifier", {"drw": True}, (), "LDAM-DRW"),
    "mm_drw": ("MaxMarginClassifier", {"drw": True}, (), "maximum-margin loss + DRW"),
    "balanced_softmax": ("BalancedSoftmaxClassifier", {}, (), "balanced softmax"),
    "logit_adjusted": ("LogitAdjustedClassifier", {"tau": 1.0}, (), "logit-adjusted loss, tau 1"),
    "crl": ("CRLClassifier", {}, (), "class rectification loss"),
    "bbn": ("BBNClassifier", {}, (), "bilateral-branch network"),
    "crt": ("DecoupledClassifier", {"method": "crt"}, (), "CE, then classifier re-training"),
    "tau_norm": ("DecoupledClassifier", {"method": "tau-norm"}, (), "CE, then tau-norm"),
    "lws": ("DecoupledClassifier", {"method": "lws"}, (), "CE, then learnable weight scaling"),
    "balms": ("BalancedMetaSoftmaxClassifier", {}, (), "balanced meta-softmax (meta sampler)"),
}
# Meta-estimators whose stage one is a CE estimator with the recipe.
META_ESTIMATORS = {"DecoupledClassifier"}


# ------------------------------------------------------------------- data
def default_data_path():
    local = CACHE_DIR / "cifar10_lt_jpeg.npz"
    return local if local.exists() else SHARED_DATA


def decode_jpegs(blob, offsets):
    """Decode concatenated JPEG files into uint8 images of shape (n, 3, 32, 32)."""
    from PIL import Image

    images = np.empty((len(offsets) - 1, 32, 32, 3), dtype=np.uint8)
    for i in range(len(images)):
        with Image.open(io.BytesIO(blob[offsets[i] : offsets[i + 1]].tobytes())) as image:
            images[i] = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def load_cifar10_jpeg(path):
    """Decoded train and test images (uint8, NCHW) and labels, cached in benchmarks/data."""
    path = Path(path)
    CACHE_DIR.mkdir(exist_ok=True)
    stamp = f"{path.stem}_{path.stat().st_size}"
    arrays = np.load(path)
    out = {}
    for split in ("train", "test"):
        cache = CACHE_DIR / f"{stamp}_{split}_uint8.npy"
        if cache.exists():
            images = np.load(cache)
        else:
            images = decode_jpegs(arrays[f"{split}_jpeg"], arrays[f"{split}_offsets"])
            tmp = cache.with_suffix(f".tmp{os.getpid()}.npy")
            np.save(tmp, images)
            os.replace(tmp, cache)
        out[f"{split}_images"] = images
        out[f"{split}_labels"] = arrays[f"{split}_labels"].astype(np.int64)
    return out


def long_tailed_counts(imbalance_ratio, n_max=N_MAX, n_classes=N_CLASSES):
    """``n_i = int(n_max * (1 / IR) ** (i / (C - 1)))``, head class first."""
    return [int(n_max * (1 / imbalance_ratio) ** (i / (n_classes - 1))) for i in range(n_classes)]


def first_n_per_class(labels, counts):
    """Indices of the first ``counts[c]`` samples of every class c, in file order."""
    index = []
    for c, n in enumerate(counts):
        rows = np.flatnonzero(labels == c)
        if len(rows) < n:
            raise ValueError(f"class {c} has {len(rows)} images, the profile needs {n}.")
        index.append(rows[:n])
    return np.concatenate(index)


def make_split(data, imbalance_ratio, limit_per_class=None):
    counts = long_tailed_counts(imbalance_ratio)
    if limit_per_class is not None:
        counts = [min(n, limit_per_class) for n in counts]
    train = first_n_per_class(data["train_labels"], counts)
    test_counts = np.bincount(data["test_labels"], minlength=N_CLASSES)
    if limit_per_class is not None:
        test_counts = np.minimum(test_counts, limit_per_class)
    test = first_n_per_class(data["test_labels"], test_counts)
    to_float = lambda images: images.astype(np.float32) / 255.0  # noqa: E731
    return (
        to_float(data["train_images"][train]),
        data["train_labels"][train],
        to_float(data["test_images"][test]),
        data["test_labels"][test],
        counts,
    )


# ---------------------------------------------------------------- methods
def available_methods():
    """``{name: None or the reason it is unavailable}``."""
    import skimbal
    import skimbal.callbacks

    status = {}
    for name, (cls_name, _, callbacks, _) in METHODS.items():
        missing = [cls_name] if not hasattr(skimbal, cls_name) else []
        missing += [cb for cb in callbacks if not hasattr(skimbal.callbacks, cb)]
        status[name] = f"not in skimbal: {', '.join(missing)}" if missing else None
    return status


def build_estimator(name, *, epochs, weight_decay, device, seed, cuda_graph, channels_last, bf16):
    """The estimator of method ``name`` with the recipe."""
    import torch
    from torch import nn

    import skimbal
    from skimbal.callbacks import WarmupMultiStepLR
    from skimbal.gpu import with_gpu_fast_path
    from skimbal.nn import ChannelNormalize, RandomCropFlip, ResNet32

    cls_name, params, callback_names, _ = METHODS[name]
    callbacks = [("lr_schedule", WarmupMultiStepLR())]
    callbacks += [(cb.lower(), getattr(skimbal.callbacks, cb)()) for cb in callback_names]
    recipe = dict(
        module__transform=nn.Sequential(
            RandomCropFlip(padding=4, flip_probability=0.5),
            ChannelNormalize(CIFAR10_MEAN, CIFAR10_STD),
        ),
        optimizer=torch.optim.SGD,
        lr=0.1,
        optimizer__momentum=0.9,
        optimizer__weight_decay=weight_decay,
        batch_size=128,
        max_epochs=epochs,
        callbacks=callbacks,
        device=device,
        random_state=seed,
        cuda_graph=cuda_graph,
        channels_last=channels_last,
        bf16=bf16,
    )
    if cls_name in META_ESTIMATORS:
        stage_one = with_gpu_fast_path(skimbal.CrossEntropyClassifier)(ResNet32, **recipe)
        return getattr(skimbal, cls_name)(stage_one, random_state=seed, **params)
    estimator_class = with_gpu_fast_path(getattr(skimbal, cls_name))
    return estimator_class(ResNet32, **params, **recipe)


def _epoch_seconds(estimator):
    inner = getattr(estimator, "estimator_", estimator)
    history = getattr(inner, "history_", None)
    if not history:
        return []
    return [row["dur"] for row in history if "dur" in row]


def run_task(task):
    """Train and evaluate one (method, imbalance ratio, seed); never raises."""
    name, imbalance_ratio, seed, options = task
    result = {"method": name, "imbalance_ratio": imbalance_ratio, "seed": seed}
    try:
        import torch

        from skimbal.metrics import per_class_accuracy, shot_accuracy

        if options["device"].startswith("cuda"):
            torch.backends.cudnn.benchmark = True
        else:
            torch.set_num_threads(max(1, options["threads"]))
        data = load_cifar10_jpeg(options["data"])
        X_train, y_train, X_test, y_test, counts = make_split(
            data, imbalance_ratio, options["limit_per_class"]
        )
        estimator = build_estimator(
            name,
            epochs=options["epochs"],
            weight_decay=options["weight_decay"],
            device=options["device"],
            seed=seed,
            cuda_graph=options["cuda_graph"],
            channels_last=options["channels_last"],
            bf16=options["bf16"],
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            estimator.fit(X_train, y_train)
            fit_seconds = time.perf_counter() - start
        y_pred = estimator.predict(X_test)
        labels = np.arange(N_CLASSES)
        per_class = [float(a) for a in per_class_accuracy(y_test, y_pred, labels=labels)]
        epoch_seconds = _epoch_seconds(estimator)
        steady = epoch_seconds[1:] or epoch_seconds
        result.update(
            status="ok",
            n_train=int(len(y_train)),
            train_counts=[int(n) for n in counts],
            n_test=int(len(y_test)),
            top1=float((y_pred == y_test).mean()),
            per_class_accuracy=per_class,
            **shot_accuracy(y_test, y_pred, counts, labels=labels),
            fit_seconds=fit_seconds,
            images_per_s=(
                len(y_train) / float(np.median(steady)) if steady else None
            ),
            images_per_s_whole_fit=len(y_train) * options["epochs"] / fit_seconds,
            warnings=sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        )
    except Exception as exc:  # noqa: BLE001 - report, do not crash the other methods
        result.update(status="error", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc())
    return result


# -------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["ce"], help="names, see --list")
    parser.add_argument("--list", action="store_true", help="print the method table and exit")
    parser.add_argument("--imbalance-ratios", nargs="+", type=float, default=[100.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--weight-decay", type=float, default=2e-4)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument("--limit-per-class", type=int, default=None,
                        help="cap training and test images per class (smoke runs)")
    parser.add_argument("--data", default=None, help="path of cifar10_lt_jpeg.npz")
    parser.add_argument("--no-cuda-graph", dest="cuda_graph", action="store_false")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/cifar10_lt.json",
                        help="JSON output; a CSV is written next to it")
    return parser.parse_args(argv)


def write_csv(results, path):
    fields = ["method", "imbalance_ratio", "seed", "status", "top1", "many", "medium", "few",
              "images_per_s", "fit_seconds", "n_train"]
    fields += [f"acc_class_{c}" for c in range(N_CLASSES)]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in results:
            row = dict(row)
            for c, acc in enumerate(row.get("per_class_accuracy") or []):
                row[f"acc_class_{c}"] = acc
            writer.writerow(row)


def main(argv=None):
    args = parse_args(argv)
    status = available_methods()
    if args.list:
        for name, (cls_name, params, callbacks, text) in METHODS.items():
            state = status[name] or "available"
            print(f"{name:18s} {text:40s} {cls_name} {params} {list(callbacks)} [{state}]")
        return 0
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; known: {sorted(METHODS)}")
    data_path = Path(args.data) if args.data else default_data_path()
    load_cifar10_jpeg(data_path)  # decode and cache once, before the workers start
    options = dict(
        data=str(data_path), epochs=args.epochs, weight_decay=args.weight_decay,
        device=args.device, limit_per_class=args.limit_per_class, cuda_graph=args.cuda_graph,
        channels_last=args.channels_last, bf16=args.bf16,
        threads=max(1, (os.cpu_count() or 1) // max(1, args.jobs)),
    )
    results = [
        {"method": m, "status": "unavailable", "reason": status[m]}
        for m in args.methods if status[m] is not None
    ]
    tasks = [
        (m, ir, seed, options)
        for m in args.methods if status[m] is None
        for ir in args.imbalance_ratios
        for seed in args.seeds
    ]
    start = time.perf_counter()
    if args.jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            for result in pool.map(run_task, tasks):
                results.append(result)
                _print_result(result)
    else:
        for task in tasks:
            results.append(run_task(task))
            _print_result(results[-1])
    report = {
        "protocol": "long-tailed CIFAR-10 (first n_i rule), ResNet-32 recipe",
        "command": " ".join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
        "data": str(data_path),
        "options": {k: v for k, v in options.items() if k != "threads"},
        "wall_seconds": time.perf_counter() - start,
        "platform": platform.platform(),
        "device_name": _device_name(args.device),
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    write_csv(results, out.with_suffix(".csv"))
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


def _device_name(device):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return platform.processor() or "cpu"


def _print_result(result):
    if result["status"] == "ok":
        print(
            f"{result['method']:18s} IR {result['imbalance_ratio']:g} seed {result['seed']}: "
            f"top-1 {100 * result['top1']:.2f}  many/medium/few "
            f"{_pct(result['many'])}/{_pct(result['medium'])}/{_pct(result['few'])}  "
            f"{result['images_per_s']:.0f} images/s",
            flush=True,
        )
    else:
        print(f"{result['method']:18s} {result['status']}: {result.get('error')}", flush=True)


def _pct(value):
    return "-" if value is None else f"{100 * value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
