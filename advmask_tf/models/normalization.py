"""The normalisation layer of a model, chosen by name.

`batchnorm` is Keras' BatchNormalization; `sync_batchnorm` the same with
statistics synchronised across replicas (needed under MirroredStrategy when the
batch statistics must equal those of the global batch); `auto` picks the
synchronised one when the current strategy has more than one replica; `none`
leaves features unnormalised. Split and perturbation-conditioned norms plug in
here later.
"""

from __future__ import annotations

import keras
import tensorflow as tf

NORMS = ("auto", "batchnorm", "sync_batchnorm", "none")


def resolve_norm(norm: str) -> str:
    """Turns `auto` into a concrete norm name for the current strategy."""
    if norm not in NORMS:
        raise ValueError(f"Unknown norm {norm!r}; expected one of {NORMS}.")
    if norm == "auto":
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return "sync_batchnorm" if replicas > 1 else "batchnorm"
    return norm


def make_norm(norm: str, name: str, momentum: float = 0.9,
              epsilon: float = 1e-5):
    """Returns a layer (or an identity function) for the named norm."""
    norm = resolve_norm(norm)
    if norm == "none":
        return lambda x: x
    return keras.layers.BatchNormalization(
        momentum=momentum, epsilon=epsilon,
        synchronized=(norm == "sync_batchnorm"), name=name)
