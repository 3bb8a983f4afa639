"""Scale-out on existing engines: rank-aware batches, Accelerate, a Dask cluster."""

import os

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

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
