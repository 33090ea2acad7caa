"""Learning-rate schedules the papers' recipes use, in optimizer updates.

`piecewise_schedule` drops the rate at given epochs (PGD-AT, TRADES,
GAIRAT, IAAT); `TriangularSchedule` is the cyclic rate of fast FGSM
training (Wong et al. 2020): 0 up to the peak at `peak_fraction` of the
run, then back down to 0.
"""

from __future__ import annotations

import keras

from advmask_tf.errors import InputError


def piecewise_schedule(learning_rate: float, boundaries_in_epochs,
                       multipliers, updates_per_epoch: int):
    """The rate times multipliers[i] from epoch boundaries_in_epochs[i] on.

    Keras' optimizer asks for the rate with its update count before the
    update (0 for the first), and `PiecewiseConstantDecay` keeps a value
    while step <= boundary: epoch b starts at update b * updates - 1 + 1.

    >>> rate = piecewise_schedule(0.1, (2,), (0.1,), updates_per_epoch=3)
    >>> [round(float(rate(step)), 3) for step in range(8)]
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01]
    """
    boundaries = [int(b) * int(updates_per_epoch) - 1
                  for b in boundaries_in_epochs]
    values = [float(learning_rate)] + [float(learning_rate) * float(m)
                                       for m in multipliers]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries,
                                                             values)


@keras.saving.register_keras_serializable(package="advmask_tf")
class TriangularSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak` over the first `peak_fraction` of
    `total_updates`, then falls linearly back to 0 (the cyclic rate of
    fast adversarial training); update k uses the value at k + 1.

    >>> rate = TriangularSchedule(0.2, total_updates=10, peak_fraction=0.4)
    >>> [round(float(rate(step)), 2) for step in (0, 3, 6, 9)]
    [0.05, 0.2, 0.1, 0.0]
    """

    def __init__(self, peak: float, total_updates: int,
                 peak_fraction: float = 0.4):
        if not 0 < float(peak_fraction) < 1:
            raise InputError(f"peak_fraction must be in (0, 1); received "
                             f"{peak_fraction!r}.")
        self.peak = float(peak)
        self.total_updates = int(total_updates)
        self.peak_fraction = float(peak_fraction)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32") + 1.0
        total = float(self.total_updates)
        top = self.peak_fraction * total
        rising = step / top
        falling = (total - step) / (total - top)
        fraction = keras.ops.where(step <= top, rising, falling)
        return self.peak * keras.ops.clip(fraction, 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "total_updates": self.total_updates,
                "peak_fraction": self.peak_fraction}

