"""Stopping a run whose loss is no longer a number.

Keras' TerminateOnNaN ends `fit` quietly, and a run that diverged would
then be reported as if it trained. `StopWhenLossIsNotFinite` raises
instead, before the epoch's backup is written, so the work directory keeps
the last epoch whose loss was finite.
"""

from __future__ import annotations

import math

import keras

from advmask_tf.errors import InputError


class TrainingDiverged(InputError):
    """The loss became NaN or infinite (a setting to change, reported in one
    line)."""


class StopWhenLossIsNotFinite(keras.callbacks.Callback):
    """Raises `TrainingDiverged` at the end of an epoch whose training loss
    is not finite, naming the learning rate to lower.

    Put it before the callbacks that store the epoch (backups,
    checkpoints): their `on_epoch_end` then never sees the diverged one.

    >>> stop = StopWhenLossIsNotFinite(learning_rate=1e12)
    >>> stop.on_epoch_end(0, {"loss": float("nan")})
    Traceback (most recent call last):
    ...
    advmask_tf.training.divergence.TrainingDiverged: the training loss is nan ...
    """

    def __init__(self, learning_rate: float | None = None):
        super().__init__()
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if math.isfinite(loss):
            return
        rate = ("" if self.learning_rate is None else
                f" (train.learning_rate={self.learning_rate:g})")
        raise TrainingDiverged(
            f"the training loss is {loss} after epoch {epoch + 1}: training "
            f"diverged; lower the learning rate{rate} and train again (the "
            "work directory keeps the last epoch whose loss was finite).")
