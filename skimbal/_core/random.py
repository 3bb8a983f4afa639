"""Seeds and random generators of a fit.

A fit draws one integer seed from ``random_state`` (``seed_``). Every random
stream of the fit is then derived from ``(seed_, epoch, stream name)`` alone:
the batch order of epoch 5 is the same whether the run got there in one go, with
``warm_start``, through ``partial_fit`` or after resuming from a checkpoint, and
two fits in two threads never share a generator. The module's weights are
initialised from the process-wide torch generator, seeded under a lock, so that
concurrent fits in threads initialise exactly as serial ones.
"""

import contextlib
import threading
import zlib

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = [
    "draw_seed", "epoch_generator", "epoch_seed", "preserved_torch_rng", "reseed_torch",
    "seeded_torch",
]

_SEED_BOUND = np.iinfo(np.int32).max
# Serialises the use of torch's process-wide generator by fits in threads.
_GLOBAL_GENERATOR_LOCK = threading.RLock()


def draw_seed(random_state):
    """An int seed from ``random_state``.

    None draws it from torch's process-wide generator, so that ``torch.manual_seed``
    before a fit makes it reproducible, as it does for a skorch net.
    """
    if random_state is None:
        with _GLOBAL_GENERATOR_LOCK:
            return int(torch.randint(_SEED_BOUND, (1,)).item())
    return int(check_random_state(random_state).randint(_SEED_BOUND))


def epoch_seed(seed, epoch, stream):
    """Seed of the random stream ``stream`` (a name) in epoch ``epoch`` of a fit."""
    key = zlib.crc32(stream.encode())
    return int(np.random.SeedSequence([seed, epoch, key]).generate_state(1)[0])


def epoch_generator(seed, epoch, stream, device="cpu"):
    """A fresh :class:`torch.Generator` on ``device`` for one stream of one epoch.

    Examples
    --------
    >>> from skimbal._core.random import epoch_generator
    >>> a = torch.randperm(5, generator=epoch_generator(0, 3, "order"))
    >>> b = torch.randperm(5, generator=epoch_generator(0, 3, "order"))
    >>> bool((a == b).all())
    True
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(epoch_seed(seed, epoch, stream))
    return generator


@contextlib.contextmanager
def seeded_torch(seed):
    """Run a block with torch's process-wide generators seeded, then restore them.

    Holds a lock for the duration, so that two threads never interleave their
    draws from the shared generator (weight initialisation, for instance).
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with _GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def reseed_torch(seed):
    """Seed torch's process-wide generators, never in the middle of a :func:`seeded_torch` block."""
    with _GLOBAL_GENERATOR_LOCK:
        torch.manual_seed(seed)


@contextlib.contextmanager
def preserved_torch_rng():
    """Run a block, then restore torch's process-wide generators to their state before it.

    As ``torch.random.fork_rng``, with the state saved and restored under the lock of
    :func:`seeded_torch`, so that a fit ending in one thread never resets the
    generator while another thread initialises its module.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with _GLOBAL_GENERATOR_LOCK:
        cpu_state = torch.get_rng_state()
        cuda_states = [torch.cuda.get_rng_state(device) for device in devices]
    try:
        yield
    finally:
        with _GLOBAL_GENERATOR_LOCK:
            torch.set_rng_state(cpu_state)
            for device, state in zip(devices, cuda_states, strict=True):
                torch.cuda.set_rng_state(state, device)
