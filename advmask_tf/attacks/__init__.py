"""Attacks in pixel space: batched, per-sample eps, tf.function-safe."""

from advmask_tf.attacks.losses import (
    ATTACK_LOSSES,
    attack_loss,
    cross_entropy,
    cw_margin,
    kl_divergence,
)
from advmask_tf.attacks.pgd import (
    AttackResult,
    PGDConfig,
    fgsm,
    make_forward,
    noise_keys_for,
    pgd,
    project,
)

__all__ = [
    "ATTACK_LOSSES",
    "attack_loss",
    "cross_entropy",
    "cw_margin",
    "kl_divergence",
    "AttackResult",
    "PGDConfig",
    "fgsm",
    "make_forward",
    "noise_keys_for",
    "pgd",
    "project",
]
