"""Training throughput of ResNet-32 at batch 128: plain PyTorch loops vs skimbal.

Every variant trains :class:`skimbal.nn.ResNet32` with the CIFAR recipe's
optimizer (SGD, lr 0.1, momentum 0.9, weight decay 2e-4), batch 128 and the
on-device crop + flip augmentation, on synthetic 32 x 32 images that live on
the device (the labels are a learnable function of the image brightness, so the
per-epoch losses show that every variant trains). Variants:

``eager_loop``
    Hand-written loop: slice a batch, forward, backward, step; no host sync.
``graph_loop``
    The same loop with the whole step (forward, backward, SGD step) captured in
    one CUDA graph and replayed (the recipe of the PyTorch CUDA graphs docs).
``compile_loop`` (``--compile``)
    The eager loop on ``torch.compile(model)``.
``estimator_skorch``
    :class:`skimbal.CrossEntropyClassifier` as is (skorch's loop, one
    ``loss.item()`` per batch).
``estimator_fast``
    The same estimator with :func:`skimbal.gpu.with_gpu_fast_path`,
    ``cuda_graph=False``: losses read back once per epoch.
``estimator_graph``
    With ``cuda_graph=True``: the training step replayed from a CUDA graph.

Images/s is the number of training images divided by the median epoch time,
leaving out the first epoch (warm-up, cuDNN autotuning, capture, compilation).

Usage::

    python benchmarks/bench_gpu_throughput.py --out benchmarks/results/gpu_throughput.json
    python benchmarks/bench_gpu_throughput.py --channels-last --bf16 \\
        --out benchmarks/results/gpu_throughput_bf16.json
    # CPU smoke run (graph variants are skipped without CUDA):
    python benchmarks/bench_gpu_throughput.py --device cpu --n-images 256 --epochs 2 \\
        --out /tmp/gpu_throughput_cpu.json
"""

import argparse
import json
import platform
import statistics
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from skimbal import CrossEntropyClassifier
from skimbal.gpu import with_gpu_fast_path
from skimbal.nn import ChannelNormalize, RandomCropFlip, ResNet32

N_CLASSES = 10
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def make_data(n_images, seed=0):
    """Random images in [0, 1]; the label is the decile of the image's mean brightness."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_images, 3, 32, 32), dtype=np.float32)
    X *= rng.uniform(0.3, 1.0, size=(n_images, 1, 1, 1)).astype(np.float32)
    brightness = X.mean(axis=(1, 2, 3))
    y = np.searchsorted(np.quantile(brightness, np.linspace(0, 1, N_CLASSES + 1)[1:-1]),
                        brightness)
    return X, y.astype(np.int64)


def make_model(device, channels_last):
    transform = nn.Sequential(RandomCropFlip(4, 0.5), ChannelNormalize(MEAN, STD))
    model = ResNet32(N_CLASSES, transform=transform).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _forward(model, x, channels_last, bf16):
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if bf16:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, cache_enabled=False):
            return model(x).float()
    return model(x)


def eager_loop(X, y, args, compile_model=False):
    model = make_model(args.device, args.channels_last)
    if compile_model:
        model = torch.compile(model)
    optimizer = make_optimizer(model)
    model.train()
    times, losses = [], []
    for _ in range(args.epochs):
        _sync(args.device)
        start = time.perf_counter()
        order = torch.randperm(len(X), device=X.device)
        total = torch.zeros((), device=X.device)
        for i in range(0, len(X), args.batch_size):
            index = order[i : i + args.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(_forward(model, X[index], args.channels_last, args.bf16),
                                   y[index])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        losses.append((total / len(X)).item())
        _sync(args.device)
        times.append(time.perf_counter() - start)
    return times, losses, {}


def graph_loop(X, y, args):
    """Whole-step capture, as in the PyTorch documentation on CUDA graphs."""
    if torch.device(args.device).type != "cuda":
        raise RuntimeError("skipped: CUDA graphs need a CUDA device")
    batch = args.batch_size
    n_full = len(X) // batch * batch
    model = make_model(args.device, args.channels_last)
    optimizer = make_optimizer(model)
    model.train()
    static_x, static_y = X[:batch].clone(), y[:batch].clone()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(_forward(model, static_x, args.channels_last, args.bf16), static_y)
        loss.backward()
        optimizer.step()
        return loss

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = step()
    times, losses = [], []
    for _ in range(args.epochs):
        _sync(args.device)
        start = time.perf_counter()
        order = torch.randperm(len(X), device=X.device)
        total = torch.zeros((), device=X.device)
        for i in range(0, n_full, batch):
            index = order[i : i + batch]
            static_x.copy_(X[index])
            static_y.copy_(y[index])
            graph.replay()
            total += static_loss.detach() * batch
        losses.append((total / n_full).item())
        _sync(args.device)
        times.append((time.perf_counter() - start) * len(X) / n_full)
    return times, losses, {"dropped_last_partial_batch": len(X) != n_full}


def estimator_run(X, y, args, fast, cuda_graph):
    params = dict(
        module__transform=nn.Sequential(RandomCropFlip(4, 0.5), ChannelNormalize(MEAN, STD)),
        optimizer=torch.optim.SGD,
        lr=0.1,
        optimizer__momentum=0.9,
        optimizer__weight_decay=2e-4,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        device=args.device,
        random_state=0,
    )
    if fast:
        estimator = with_gpu_fast_path(CrossEntropyClassifier)(
            ResNet32, cuda_graph=cuda_graph, channels_last=args.channels_last, bf16=args.bf16,
            **params,
        )
    else:
        estimator = CrossEntropyClassifier(ResNet32, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    extra = {"warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught})}
    return list(estimator.history_[:, "dur"]), list(estimator.history_[:, "train_loss"]), extra


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n-images", type=int, default=12_800)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--compile", action="store_true", help="add the torch.compile loop")
    parser.add_argument("--variants", nargs="+", default=None, help="subset to run")
    parser.add_argument("--out", default="benchmarks/results/gpu_throughput.json")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if torch.device(args.device).type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    X_np, y_np = make_data(args.n_images)
    X = torch.as_tensor(X_np, device=args.device)
    y = torch.as_tensor(y_np, device=args.device)
    variants = {
        "eager_loop": lambda: eager_loop(X, y, args),
        "graph_loop": lambda: graph_loop(X, y, args),
        "estimator_skorch": lambda: estimator_run(X_np, y_np, args, fast=False, cuda_graph=False),
        "estimator_fast": lambda: estimator_run(X_np, y_np, args, fast=True, cuda_graph=False),
        "estimator_graph": lambda: estimator_run(X_np, y_np, args, fast=True, cuda_graph=True),
    }
    if args.compile:
        variants["compile_loop"] = lambda: eager_loop(X, y, args, compile_model=True)
    selected = args.variants or list(variants)
    results = {}
    for name in selected:
        try:
            times, losses, extra = variants[name]()
            steady = times[1:] or times
            results[name] = {
                "images_per_s": args.n_images / statistics.median(steady),
                "epoch_seconds": times,
                "train_loss": losses,
                **extra,
            }
            print(f"{name:18s} {results[name]['images_per_s']:10.0f} images/s  "
                  f"loss {losses[0]:.3f} -> {losses[-1]:.3f}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a failed variant is reported, not fatal
            results[name] = {"error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc()}
            print(f"{name:18s} {results[name]['error']}", flush=True)
    report = {
        "command": "bench_gpu_throughput.py " + " ".join(argv if argv is not None else
                                                          __import__("sys").argv[1:]),
        "device": args.device,
        "device_name": (torch.cuda.get_device_name() if torch.device(args.device).type == "cuda"
                        else platform.processor() or "cpu"),
        "torch": torch.__version__,
        "n_images": args.n_images,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "channels_last": args.channels_last,
        "bf16": args.bf16,
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
