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

__all__ = ["draw_seed", "epoch_generator", "epoch_seed", "seeded_torch"]

_SEED_BOUND = np.iinfo(np.int32).max
# Serialises the use of torch's process-wide generator by fits in threads.
_GLOBAL_GENERATOR_LOCK = threading.RLock()


def draw_seed(random_state):
    """An int seed from ``random_state``.

    None draws it from torch's process-wide generator, so that ``torch.manual_seed``
    before a fit makes it reproducible, as it does for a skorch net.
    """
    if random_state is None:
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
