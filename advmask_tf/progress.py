"""Telling a person how long long work still takes."""

from __future__ import annotations

import sys
import time

import keras


def duration(seconds: float) -> str:
    """A duration for people: '3.5 min', '1 h 02 min'.

    >>> duration(210), duration(3720)
    ('3.5 min', '1 h 02 min')
    """
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    return f"{seconds / 60:.1f} min"


_IRREGULAR = {"batch": "batches"}


def plural(count: int, word: str) -> str:
    """'1 epoch', '3 epochs', '2 batches'.

    >>> plural(1, "epoch"), plural(3, "epoch"), plural(2, "batch")
    ('1 epoch', '3 epochs', '2 batches')
    """
    if count == 1:
        return f"{count} {word}"
    return f"{count} {_IRREGULAR.get(word, word + 's')}"


class RunProgress(keras.callbacks.Callback):
    """After each epoch, one line: the epoch of the run's total, the time
    this process has trained and the ETA of the run (from the mean epoch
    time here, so a resumed run estimates from its own epochs)."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_train_begin(self, logs=None):
        self._started, self._done = time.monotonic(), 0

    def on_epoch_end(self, epoch, logs=None):
        self._done += 1
        elapsed = time.monotonic() - self._started
        left = self.epochs - (epoch + 1)
        print(f"Run: epoch {epoch + 1} of {self.epochs} done; trained "
              f"{duration(elapsed)} here, run ETA "
              f"{duration(left * elapsed / self._done)}", flush=True)


class StepProgress:
    """Progress over `total` steps (None: unknown): Keras' bar on a
    terminal; in a log file a line at most every `interval` seconds and at
    the end, with the ETA. Values are shown as given (running figures, not
    averaged).

    >>> progress = StepProgress(2, "batch", "attacks", stream=sys.stdout)
    >>> progress.update(1, [("clean", 0.5)])
    attacks: 1/2 batches, 0.0 min so far, ETA 0.0 min; clean 0.5000
    >>> progress.update(2, [("clean", 0.75)])
    attacks: 2/2 batches, 0.0 min so far, done; clean 0.7500
    """

    def __init__(self, total: int | None, unit: str = "batch",
                 label: str = "", interval: float = 30.0, stream=None):
        self.total, self.unit, self.label = total, unit, label
        self.interval, self.stream = interval, stream or sys.stdout
        self._started = time.monotonic()
        self._last_line = None
        self._bar = None
        if stream is None and sys.stdout.isatty():
            self._bar = keras.utils.Progbar(total, unit_name=unit)

    def update(self, current: int, values=()) -> None:
        values = list(values)
        if self._bar is not None:
            names = [name for name, _ in values]
            self._bar.stateful_metrics.update(names)
            self._bar.update(current, values)
            return
        now = time.monotonic()
        done = self.total is not None and current >= self.total
        if not done and self._last_line is not None and \
                now - self._last_line < self.interval:
            return
        self._last_line = now
        elapsed = now - self._started
        of = f"/{self.total}" if self.total else ""
        unit = plural(self.total or 2, self.unit).split(" ", 1)[1]
        if done:
            eta = "done"
        elif self.total:
            eta = f"ETA {duration(elapsed / current * (self.total - current))}"
        else:
            eta = "total unknown"
        shown = "; " + ", ".join(f"{name} {value:.4f}" for name, value
                                 in values) if values else ""
        print(f"{self.label + ': ' if self.label else ''}{current}{of} "
              f"{unit}, {duration(elapsed)} so far, {eta}{shown}",
              file=self.stream, flush=True)
