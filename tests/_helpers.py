"""Test helpers shared by several test modules."""

from skorch.callbacks import Callback


class InterruptAfter(Callback):
    """Simulate Ctrl-C after ``n`` finished epochs (for resume tests)."""

    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.n:
            raise KeyboardInterrupt
