"""Attacks in pixel space: batched, per-sample eps, tf.function-safe.

Every attack config (`PGDConfig`, `APGDConfig`, `SquareConfig`,
`FABConfig`, `AutoAttackConfig`) has `fooled(model, x, y, eps=None,
noise_keys=None) -> bool per sample`; `ATTACKS` holds them by name
(`build_attacks`).
"""

from advmask_tf.attacks.apgd import APGDConfig, apgd, checkpoints
from advmask_tf.attacks.autoattack import AutoAttackConfig
from advmask_tf.attacks.fab import FABConfig, boundary_step, fab_targeted
from advmask_tf.attacks.losses import (
    ATTACK_LOSSES,
    attack_loss,
    cross_entropy,
    cw_margin,
    dlr,
    dlr_targeted,
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
from advmask_tf.attacks.registry import (
    ATTACKS,
    AttackBudgets,
    budget_fields,
    build_attacks,
    report_name,
)
from advmask_tf.attacks.square import SquareConfig, square

__all__ = [
    "APGDConfig",
    "AutoAttackConfig",
    "budget_fields",
    "FABConfig",
    "boundary_step",
    "fab_targeted",
    "SquareConfig",
    "apgd",
    "checkpoints",
    "dlr",
    "dlr_targeted",
    "square",
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
    "ATTACKS",
    "AttackBudgets",
    "build_attacks",
    "report_name",
]
