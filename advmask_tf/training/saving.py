"""Model files that appear whole or not at all.

`AtomicSaving` makes a Keras model's `save_weights` and `save` go through
`advmask_tf.io_utils.atomic_save`, so the files Keras callbacks write
(ModelCheckpoint's weights, a backup) are never left torn by a kill or a
full disk, and a write that cannot fit is refused before HDF5 starts.
`upgraded_config` reads the configs of AdversarialModel files saved by
earlier versions.
"""

from __future__ import annotations

import numpy as np

from advmask_tf.io_utils import atomic_save
from advmask_tf.options import declared
from advmask_tf.training.objectives import OBJECTIVES


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


def upgraded_config(config: dict) -> dict:
    """The config of an AdversarialModel saved before every part became a
    {"name": ...} spec (method and its options as arguments; the radius
    policy under "policy")."""
    if "method" in config:
        objective = {"name": config.pop("method")}
        # The options were arguments of the model then; the objective
        # takes those it declares.
        declares = {d.name for d in declared(
            OBJECTIVES.get(objective["name"]).Options)}
        for key in ("beta", "clean_weight", "adv_weight"):
            value = config.pop(key, None)
            if key in declares:
                objective[key] = value
        config["objective"] = objective
    radius = config.get("radius")
    if isinstance(radius, dict) and "policy" in radius:
        radius = dict(radius)
        radius["name"] = radius.pop("policy")
        config["radius"] = radius
    return config
