"""Cost of one training epoch: skimbal vs stock skorch vs a hand-written loop.

All three train the same default MLP (one hidden layer of 100 units) with Adam,
batch 128, on the same in-memory data, and the same number of epochs. The
hand-written loop is the floor: a random permutation per epoch, a slice per
batch, forward, backward, step.

Usage::

    python benchmarks/bench_epoch_cost.py --out benchmarks/results/epoch_cost_cpu.json

Writes a JSON file with the median seconds per epoch of each and the ratios.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback

from skimbal import CrossEntropyClassifier
from skimbal.nn import MLP


class _EpochClock(Callback):
    """Record the wall time of every epoch (train part only, no validation)."""

    def initialize(self):
        self.times = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self._start = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        self.times.append(time.perf_counter() - self._start)


def plain_loop(X, y, n_classes, epochs, batch_size, device):
    model = MLP(X.shape[1], n_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt = torch.as_tensor(X, device=device)
    yt = torch.as_tensor(y, device=device)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(Xt), device=device)
        model.train()
        for i in range(0, len(Xt), batch_size):
            index = order[i : i + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(Xt[index]), yt[index])
            loss.backward()
            optimizer.step()
            loss.item()  # skorch and skimbal record the loss of every batch
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def skimbal_fit(X, y, epochs, batch_size, device):
    clock = _EpochClock()
    CrossEntropyClassifier(
        max_epochs=epochs, batch_size=batch_size, device=device, callbacks=[clock]
    ).fit(X, y)
    return clock.times


def skorch_fit(X, y, n_classes, epochs, batch_size, device):
    clock = _EpochClock()
    NeuralNetClassifier(
        MLP,
        module__n_features=X.shape[1],
        module__n_classes=n_classes,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=batch_size,
        device=device,
        train_split=None,
        iterator_train__shuffle=True,
        callbacks=[clock],
        verbose=0,
    ).fit(X, y)
    return clock.times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/epoch_cost_cpu.json")
    args = parser.parse_args(argv)

    rng = np.random.RandomState(0)
    X = rng.randn(args.n_samples, args.n_features).astype(np.float32)
    y = rng.randint(args.n_classes, size=args.n_samples).astype(np.int64)
    runs = {
        "plain_pytorch": lambda: plain_loop(
            X, y, args.n_classes, args.epochs, args.batch_size, args.device
        ),
        "skimbal": lambda: skimbal_fit(X, y, args.epochs, args.batch_size, args.device),
        "stock_skorch": lambda: skorch_fit(
            X, y, args.n_classes, args.epochs, args.batch_size, args.device
        ),
    }
    seconds = {name: [] for name in runs}
    # Interleave the contenders so that machine noise hits all of them alike;
    # the first epoch of each run is warm-up and is dropped.
    for _ in range(args.repeats):
        for name, run in runs.items():
            torch.manual_seed(0)
            seconds[name] += run()[1:]
    median = {name: statistics.median(values) for name, values in seconds.items()}
    result = {
        "device": args.device,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "n_samples": args.n_samples,
        "n_features": args.n_features,
        "batch_size": args.batch_size,
        "seconds_per_epoch": median,
        "ratio_to_plain": {name: median[name] / median["plain_pytorch"] for name in median},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
