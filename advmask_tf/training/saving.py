"""Model files that appear whole or not at all.

`AtomicSaving` makes a Keras model's `save_weights` and `save` go through
`advmask_tf.io_utils.atomic_save`, so the files Keras callbacks write
(ModelCheckpoint's weights, a backup) are never left torn by a kill or a
full disk, and a write that cannot fit is refused before HDF5 starts.
"""

from __future__ import annotations

import numpy as np

from advmask_tf.io_utils import atomic_save


def state_bytes(model) -> int:
    """Bytes of the model's variables and its optimizer's: about the size
    of its weights file."""
    variables = list(model.variables)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    return int(sum(np.prod(v.shape, dtype=np.int64)
                   * np.dtype(v.dtype).itemsize for v in variables))


class AtomicSaving:
    """Mixin for a `keras.Model`: `save_weights` and `save` write
    atomically (write aside, sync, rename) after a free-space check."""

    def save_weights(self, filepath, overwrite=True, **kwargs):
        atomic_save(lambda tmp: super(AtomicSaving, self).save_weights(
            tmp, overwrite=True, **kwargs), str(filepath),
            expected_bytes=state_bytes(self))

    def save(self, filepath, overwrite=True, **kwargs):
        atomic_save(lambda tmp: super(AtomicSaving, self).save(
            tmp, overwrite=True, **kwargs), str(filepath),
            expected_bytes=state_bytes(self))
