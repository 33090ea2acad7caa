"""Adversarial training: `AdversarialModel` and the parts of a method.

A method is an objective (`objectives`), a radius policy (`radius`), an
instance weighting (`weighting`) and the attack; per-example state lives in
tables (`state`) that `monitoring` shows.
"""

from advmask_tf.training.adversarial_model import (
    AdversarialModel,
    EpochCounter,
    robust_mask,
    split_inputs,
)
from advmask_tf.training.monitoring import InstanceStateMonitor, save_radius_grid
from advmask_tf.training.objectives import (
    OBJECTIVES,
    Iaat,
    Madry,
    Objective,
    Standard,
    Trades,
    global_sum,
    make_objective,
)
from advmask_tf.training.radius import (
    IAAT_RULES,
    AdaptiveRadius,
    FixedRadius,
    make_radius_policy,
)
from advmask_tf.training.weighting import (
    GeometryAwareWeighting,
    UniformWeighting,
    gairat_weights,
    make_weighting,
)

__all__ = [
    "AdversarialModel",
    "EpochCounter",
    "robust_mask",
    "split_inputs",
    "InstanceStateMonitor",
    "save_radius_grid",
    "OBJECTIVES",
    "Iaat",
    "Madry",
    "Objective",
    "Standard",
    "Trades",
    "global_sum",
    "make_objective",
    "IAAT_RULES",
    "AdaptiveRadius",
    "FixedRadius",
    "make_radius_policy",
    "GeometryAwareWeighting",
    "UniformWeighting",
    "gairat_weights",
    "make_weighting",
]
