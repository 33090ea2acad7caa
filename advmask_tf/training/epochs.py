"""The epoch a training step is in, for the parts that follow a schedule."""

from __future__ import annotations

import keras


class EpochCounter(keras.callbacks.Callback):
    """Writes the epoch fit is starting into `model.epoch`.

    `AdversarialModel.fit` adds it, so warmup and burn-in epochs and lambda
    schedules follow fit's epochs (also when a run resumes at a later
    epoch).
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.model.epoch.assign(epoch)
