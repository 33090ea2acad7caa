"""Choosing a tf.distribute strategy by name.

`none` is the default (single-device) strategy; `mirrored` replicates over the
visible GPUs, or over the logical CPU devices when there is no GPU and more
than one CPU device is configured (how the tests run two replicas here);
`multi_worker` reads TF_CONFIG; `auto` is `mirrored` with two or more GPUs and
`none` otherwise.
"""

from __future__ import annotations

import os

import tensorflow as tf

STRATEGIES = ("auto", "none", "mirrored", "multi_worker")


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy for `name` (one of STRATEGIES).

    >>> get_strategy("none").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown distribute {name!r}; expected one of {STRATEGIES}.")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in gpus] or [
            d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if "TF_CONFIG" not in os.environ:
        raise ValueError(
            "distribute='multi_worker' needs the TF_CONFIG environment "
            "variable (cluster and task of this worker).")
    return tf.distribute.MultiWorkerMirroredStrategy()
