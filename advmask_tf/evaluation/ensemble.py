"""Running attack configs over evaluation batches: compiled once per
network, on the points still robust, and ensembles stage by stage."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def compile_attack(attack, network):
    """A tf.function running `attack.fooled` on batches of any size."""

    @tf.function(reduce_retracing=True)
    def fooled(image, label, keys):
        return attack.fooled(network, image, label, noise_keys=keys)

    return fooled


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
        "robust"}} counts for this batch, {stage: robust mask after it}).
    """
    robust = np.array(robust, bool)
    counts, after = {}, {}
    for name, fooled_fn in stage_fns.items():
        fooled = run_on(fooled_fn, image, label, keys, robust)
        counts[name] = {"attacked": int(robust.sum()),
                        "broken": int(fooled.sum())}
        robust = robust & ~fooled
        counts[name]["robust"] = int(robust.sum())
        after[name] = robust
    return robust, counts, after
