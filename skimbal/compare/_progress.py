"""One progress display over the folds x methods of a comparison.

On a terminal: a tqdm bar whose text names the current method, data set and
fold. Elsewhere (a log file, CI, a pipe): one plain line per finished fit, no
carriage-return frames.
"""

import sys

__all__ = ["Progress"]


class Progress:
    """Progress over ``total`` fits, written to ``stream`` (default stderr).

    Parameters
    ----------
    total : int
    enabled : bool, default=True
    stream : file, default=None
        None is ``sys.stderr``.
    metric : str, default='balanced_accuracy'
        The score quoted on each plain line.
    """

    def __init__(self, total, *, enabled=True, stream=None, metric="balanced_accuracy"):
        self.total = total
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.metric = metric
        self.done = 0
        self._bar = None
        if enabled and _is_terminal(self.stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit="fit", file=self.stream)

    def start(self, task):
        """A fit begins (serial runs name it before it runs)."""
        if self._bar is not None:
            self._bar.set_postfix_str(_name(task), refresh=True)

    def finish(self, task, row):
        """A fit ended; ``row`` is its result."""
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_name(task), refresh=False)
            self._bar.update(1)
            return
        if row.get("status") == "failed":
            outcome = f"failed: {row['error']}"
        else:
            outcome = f"{self.metric} {row[self.metric]:.3f} in {row['fit_time']:.1f} s"
        width = len(str(self.total))
        print(f"[{self.done:{width}d}/{self.total}] {_name(task)}: {outcome}",
              file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()


def _name(task):
    dataset, fold, method = task
    return f"{method} on {dataset} (repeat {fold.repeat + 1}, fold {fold.fold + 1})"


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
