"""Running attack configs over evaluation batches: compiled once per
network, on the points still robust, and ensembles stage by stage."""

from __future__ import annotations

import logging
import time

import numpy as np
import tensorflow as tf


class _OneTracePerAttack(logging.Filter):
    """TensorFlow counts retracing per source line, not per tf.function:
    an evaluation with its checks compiles several attacks here, each traced
    exactly once (`CompiledAttack.traces`), which it reports as excessive
    retracing. Only that false report is dropped."""

    def filter(self, record):
        return "CompiledAttack._fooled" not in record.getMessage()


tf.get_logger().addFilter(_OneTracePerAttack())


class CompiledAttack:
    """`attack.fooled` on `network` as one tf.function for batches of any
    size: its input signature (batch dimension None) is fixed by the first
    batch, so the points still robust, a different number each batch, never
    retrace it.

    >>> import keras
    >>> from advmask_tf.attacks import PGDConfig
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> fooled = CompiledAttack(PGDConfig(eps=0.1, steps=2), net)
    >>> for n in (4, 3, 1):
    ...     _ = fooled(tf.zeros((n, 2)), tf.zeros(n, tf.int32),
    ...                tf.zeros((n, 2), tf.int64))
    >>> fooled.traces
    1
    """

    def __init__(self, attack, network):
        self.attack = attack
        self.network = network
        self._function = None

    def __call__(self, image, label, keys):
        if self._function is None:
            image = tf.convert_to_tensor(image)
            signature = [
                tf.TensorSpec([None, *image.shape[1:]], image.dtype),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None, 2], tf.int64)]
            self._function = tf.function(self._fooled,
                                         input_signature=signature)
        return self._function(image, tf.cast(label, tf.int32),
                              tf.cast(keys, tf.int64))

    def _fooled(self, image, label, keys):
        return self.attack.fooled(self.network, image, label,
                                  noise_keys=keys)

    @property
    def traces(self) -> int:
        """How often the function was traced (1 once it has run)."""
        if self._function is None:
            return 0
        return self._function.experimental_get_tracing_count()


def compile_attack(attack, network) -> CompiledAttack:
    """A tf.function running `attack.fooled` on batches of any size."""
    return CompiledAttack(attack, network)


def run_on(fooled_fn, image, label, keys, candidates):
    """Runs a compiled attack on the `candidates` (bool numpy mask) only;
    returns a bool numpy mask of the points it fooled."""
    fooled = np.zeros(candidates.shape, bool)
    chosen = np.flatnonzero(candidates)
    if chosen.size:
        fooled[chosen] = fooled_fn(tf.gather(image, chosen),
                                   tf.gather(label, chosen),
                                   tf.gather(keys, chosen)).numpy()
    return fooled


def cascade(stage_fns: dict, image, label, keys, robust):
    """Attacks the still-robust points with each stage in turn.

    Args:
        stage_fns: stage name -> compiled attack (`compile_attack`).
        robust: bool numpy mask of the points to start from (clean-correct).

    Returns:
        (robust after the last stage, {stage: {"attacked", "broken",
        "robust", "seconds"}} for this batch, {stage: robust mask after it}).
    """
    robust = np.array(robust, bool)
    counts, after = {}, {}
    for name, fooled_fn in stage_fns.items():
        start = time.perf_counter()
        fooled = run_on(fooled_fn, image, label, keys, robust)
        counts[name] = {"attacked": int(robust.sum()),
                        "broken": int(fooled.sum()),
                        "seconds": time.perf_counter() - start}
        robust = robust & ~fooled
        counts[name]["robust"] = int(robust.sum())
        after[name] = robust
    return robust, counts, after
