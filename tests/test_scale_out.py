"""Scale-out on existing engines: rank-aware batches, Accelerate, a Dask cluster."""

import os
import socket

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skimbal import CrossEntropyClassifier
from skimbal._core.data import TensorBatchLoader, TensorDataset, shard_indices

SMALL = dict(max_epochs=3, hidden_layer_sizes=(8,), random_state=0)


def test_shards_are_disjoint_equal_and_cover_the_epoch():
    index = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    shards = [shard_indices(index, rank, 3) for rank in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]
    together = torch.cat(shards)
    assert set(together.tolist()) == set(range(10))
    # two rows are repeated to pad 10 up to 12, as DistributedSampler does
    assert len(together) - len(set(together.tolist())) == 2
    with pytest.raises(ValueError, match="rank"):
        shard_indices(index, 3, 3)


@pytest.fixture
def single_process_group():
    """A real gloo process group of size 1 (what a one-GPU launch creates)."""
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29513")
    torch.distributed.init_process_group("gloo", rank=0, world_size=1)
    yield
    torch.distributed.destroy_process_group()


def test_loader_in_a_process_group_keeps_every_row(single_process_group):
    y = torch.arange(10) % 2
    loader = TensorBatchLoader(TensorDataset(torch.randn(10, 2), y), batch_size=4, shuffle=True)
    seen = torch.cat([batch_y for _, batch_y in loader])
    assert sorted(seen.tolist()) == sorted(y.tolist())
    assert len(loader) == 3


def test_accelerate_mixin_trains_in_a_single_process():
    accelerate = pytest.importorskip("accelerate")
    from skorch.hf import AccelerateMixin

    class AcceleratedCrossEntropy(AccelerateMixin, CrossEntropyClassifier):
        """Cross-entropy estimator run through Hugging Face Accelerate."""

    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    clf = AcceleratedCrossEntropy(
        accelerator=accelerate.Accelerator(cpu=True), device=None, verbose=0, **SMALL
    ).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y))
    assert clf.score(X, y) > 0.5


@pytest.mark.slow
def test_grid_search_on_a_two_worker_dask_cluster():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    X, y = make_classification(n_samples=150, n_features=5, weights=[0.8, 0.2], random_state=0)
    search = GridSearchCV(
        CrossEntropyClassifier(**SMALL),
        {"lr": [1e-3, 1e-2], "class_weight": [None, "balanced"]},
        cv=2,
        scoring="balanced_accuracy",
        n_jobs=-1,
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        with parallel_config(backend="dask"):
            search.fit(X, y)
        workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.predict(X).shape == (150,)


# ------------------------------------------------------- two real processes
TWO_PROCESS = dict(max_epochs=3, batch_size=32, hidden_layer_sizes=(8,), random_state=0)


def _two_process_data():
    # 256 rows: every epoch splits into equal shards and full batches on both ranks.
    X, y = make_classification(n_samples=256, n_features=6, n_informative=4, n_classes=3,
                               weights=[0.6, 0.3, 0.1], random_state=0)
    return X.astype(np.float32), y


class _RecordRows(Callback):
    """Record the rows (identified by their features) of every training batch."""

    def __init__(self, rows):
        self.rows = rows

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.rows.append([self.index[row.tobytes()] for row in batch[0].cpu().numpy()])

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.index = {row.tobytes(): i for i, row in enumerate(np.asarray(X))}


def _two_process_worker(rank, world_size, port, out):
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )

    class DistributedCrossEntropy(CrossEntropyClassifier):
        """Cross-entropy whose module averages its gradients over the processes (DDP)."""

        def initialize_module(self):
            super().initialize_module()
            self.module_ = torch.nn.parallel.DistributedDataParallel(self.module_)
            return self

    X, y = _two_process_data()
    rows = []
    clf = DistributedCrossEntropy(callbacks=[_RecordRows(rows)], **TWO_PROCESS).fit(X, y)
    torch.save({"weights": clf.module_.module.state_dict(),
                "class_counts": torch.as_tensor(clf.class_counts_), "rows": rows},
               os.path.join(out, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_processes_train_on_disjoint_shards_and_agree(tmp_path):
    """A real two-process data-parallel run on the CPU (gloo), against one process.

    Each rank trains on its shard of rank 0's batch order with a DDP module, so the
    two ranks together see the one-process batches of twice the size: the weights
    agree with those of a one-process run with ``batch_size=64`` to rounding.
    """
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    torch.multiprocessing.spawn(_two_process_worker, args=(2, port, str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    X, y = _two_process_data()
    for r in ranks:
        np.testing.assert_array_equal(r["class_counts"].numpy(), np.bincount(y))
    epochs = [ranks[0]["rows"][e * 4:(e + 1) * 4] for e in range(3)]  # 4 batches of 32
    for epoch in range(3):
        shards = [sum(r["rows"][epoch * 4:(epoch + 1) * 4], []) for r in ranks]
        assert not set(shards[0]) & set(shards[1])
        assert sorted(shards[0] + shards[1]) == list(range(len(y)))
    assert epochs[0] != epochs[1]  # a new order every epoch
    for name, weight in ranks[0]["weights"].items():
        assert torch.equal(weight, ranks[1]["weights"][name])
    one = CrossEntropyClassifier(**{**TWO_PROCESS, "batch_size": 64}).fit(X, y)
    for name, weight in one.module_.state_dict().items():
        torch.testing.assert_close(ranks[0]["weights"][name], weight, rtol=1e-5, atol=1e-6)
