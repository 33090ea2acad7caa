"""Telling a person how long long work still takes."""

from __future__ import annotations

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
