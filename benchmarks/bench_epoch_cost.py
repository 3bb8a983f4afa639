"""Training cost on the CPU: skimbal vs stock skorch vs a hand-written PyTorch loop.

Two configurations, run side by side in one process, the contenders interleaved so
that machine noise hits all of them alike:

- ``fit``: the whole ``fit`` is timed. An MLP with two hidden layers of 128 units,
  20,000 rows x 32 features, 10 long-tailed classes (imbalance ratio 100), batch 128,
  Adam, one torch thread, 20 epochs.
- ``epoch``: the median seconds per epoch (first epoch dropped) of the default MLP
  (one hidden layer of 100 units), 20,000 x 64, 10 balanced classes, batch 128,
  Adam, 12 epochs, torch's default threads.

The hand-written loop is the floor: a random permutation per epoch, an
``index_select`` per batch, forward, backward, step, and ``loss.item()`` (skorch and
skimbal record every batch's loss). Target: skimbal at most 1.10x the loop.

Usage::

    python benchmarks/bench_epoch_cost.py --out benchmarks/results/epoch_cost_cpu.json
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

CONFIGURATIONS = {
    "fit": dict(n_samples=20000, n_features=32, n_classes=10, imbalance_ratio=100,
                hidden=(128, 128), epochs=20, batch_size=128, threads=1),
    "epoch": dict(n_samples=20000, n_features=64, n_classes=10, imbalance_ratio=1,
                  hidden=(100,), epochs=12, batch_size=128, threads=None),
}


class _EpochClock(Callback):
    """Record the wall time of every epoch."""

    def initialize(self):
        self.times = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self._start = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        self.times.append(time.perf_counter() - self._start)


def make_data(config, seed=0):
    rng = np.random.RandomState(seed)
    n_classes, ratio = config["n_classes"], config["imbalance_ratio"]
    # Exponential profile (head class first), scaled to n_samples rows in all.
    share = ratio ** (-np.arange(n_classes) / (n_classes - 1))
    counts = np.maximum(np.round(share / share.sum() * config["n_samples"]), 1).astype(int)
    y = rng.permutation(np.repeat(np.arange(n_classes), counts))
    X = rng.randn(len(y), config["n_features"]).astype(np.float32)
    X += 0.5 * y[:, None].astype(np.float32) / config["n_classes"]
    return X, y.astype(np.int64)


def plain_loop(X, y, config):
    """The floor: returns (whole-run seconds, per-epoch seconds)."""
    start_run = time.perf_counter()
    model = MLP(X.shape[1], config["n_classes"], hidden_layer_sizes=config["hidden"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    batch_size, times = config["batch_size"], []
    model.train()
    for _ in range(config["epochs"]):
        start = time.perf_counter()
        order = torch.randperm(len(Xt))
        for i in range(0, len(Xt), batch_size):
            index = order[i:i + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(Xt.index_select(0, index)), yt.index_select(0, index))
            loss.backward()
            optimizer.step()
            loss.item()
        times.append(time.perf_counter() - start)
    return time.perf_counter() - start_run, times


def skimbal_fit(X, y, config):
    clock = _EpochClock()
    start = time.perf_counter()
    CrossEntropyClassifier(
        hidden_layer_sizes=config["hidden"], max_epochs=config["epochs"],
        batch_size=config["batch_size"], callbacks=[clock], random_state=0,
    ).fit(X, y)
    return time.perf_counter() - start, clock.times


def skorch_fit(X, y, config):
    clock = _EpochClock()
    start = time.perf_counter()
    NeuralNetClassifier(
        MLP, module__n_features=X.shape[1], module__n_classes=config["n_classes"],
        module__hidden_layer_sizes=config["hidden"], criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam, lr=1e-3, max_epochs=config["epochs"],
        batch_size=config["batch_size"], train_split=None, iterator_train__shuffle=True,
        callbacks=[clock], verbose=0,
    ).fit(X, y)
    return time.perf_counter() - start, clock.times


CONTENDERS = {"plain_pytorch": plain_loop, "skimbal": skimbal_fit, "stock_skorch": skorch_fit}


def measure(name, config, repeats):
    X, y = make_data(config)
    threads = torch.get_num_threads()
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    whole = {contender: [] for contender in CONTENDERS}
    epochs = {contender: [] for contender in CONTENDERS}
    try:
        for _ in range(repeats):
            for contender, run in CONTENDERS.items():
                torch.manual_seed(0)
                total, times = run(X, y, config)
                whole[contender].append(total)
                epochs[contender] += times[1:]  # the first epoch is warm-up
    finally:
        torch.set_num_threads(threads)
    if name == "fit":
        seconds = {c: statistics.median(v) for c, v in whole.items()}
        unit = "seconds per fit (median over repeats)"
    else:
        seconds = {c: statistics.median(v) for c, v in epochs.items()}
        unit = "seconds per epoch (median, first epoch of each run dropped)"
    return {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()},
        "threads": config["threads"] or threads,
        "unit": unit,
        "seconds": seconds,
        "ratio_to_plain": {c: seconds[c] / seconds["plain_pytorch"] for c in seconds},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configurations", nargs="+", default=list(CONFIGURATIONS),
                        choices=list(CONFIGURATIONS))
    parser.add_argument("--out", default="benchmarks/results/epoch_cost_cpu.json")
    args = parser.parse_args(argv)
    result = {
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "command": "python benchmarks/bench_epoch_cost.py --repeats "
                   f"{args.repeats} --out {args.out}",
        "configurations": {
            name: measure(name, CONFIGURATIONS[name], args.repeats)
            for name in args.configurations
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
