"""Randomised networks: telling them apart, and evaluating them with
AutoAttack's "rand" version (APGD with expectation over transformation)
instead of the standard one, whose attacks assume one fixed network."""

from __future__ import annotations

import dataclasses

import numpy as np

from advmask_tf.attacks.autoattack import AutoAttackConfig
from advmask_tf.data.pipeline import split_inputs


def is_deterministic(network, images, atol: float = 1e-5) -> bool:
    """Whether two inference passes on `images` give the same logits.

    >>> import keras, tensorflow as tf
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> is_deterministic(net, tf.ones((3, 2)))
    True
    """
    return bool(np.allclose(network(images, training=False).numpy(),
                            network(images, training=False).numpy(),
                            atol=atol))


def for_randomised_networks(attacks: dict, network,
                            dataset) -> tuple[dict, str | None]:
    """`attacks` with every standard or fast AutoAttack switched to its rand
    version when `network` is randomised (two passes on the first batch of
    `dataset` differ), and a note saying why (None when nothing changed)."""
    chosen = [name for name, attack in attacks.items()
              if isinstance(attack, AutoAttackConfig)
              and attack.version != "rand"]
    if not chosen:
        return attacks, None
    images, _ = split_inputs(next(iter(dataset))[0])
    if is_deterministic(network, images):
        return attacks, None
    attacks = dict(attacks)
    for name in chosen:
        attacks[name] = dataclasses.replace(attacks[name], version="rand")
    return attacks, (
        f"{', '.join(chosen)}: the rand version (APGD-CE, APGD-DLR with "
        f"{attacks[chosen[0]].eot_samples} EOT draws), because two forward "
        "passes on the same batch differ (a randomised network)")
