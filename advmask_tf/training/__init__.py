"""Adversarial training: `AdversarialModel` and the parts of a method.

A method is an objective (`objectives`), a radius policy (`radius`), an
instance weighting (`weighting`) and the attack, each given as a spec (a name
plus its options) and built through its registry (`OBJECTIVES`,
`RADIUS_POLICIES`, `WEIGHTINGS`); their interfaces and the per-step facts
they receive are in `interfaces`. Per-example state lives in tables
(`state`) that `monitoring` shows.
"""

from advmask_tf.attacks.pgd import robust_mask
from advmask_tf.training.adversarial_model import (
    AdversarialModel,
    split_inputs,
)
from advmask_tf.training.epochs import EpochCounter
from advmask_tf.training.guided import GUIDE, Hat, Lbgat
from advmask_tf.training.interfaces import StepFacts
from advmask_tf.training.monitoring import InstanceStateMonitor, save_radius_grid
from advmask_tf.training.objectives import (
    OBJECTIVES,
    BaseObjective,
    Iaat,
    Madry,
    Mixed,
    Standard,
    Trades,
    global_sum,
    make_objective,
    training_attack,
)
from advmask_tf.training.once_for_all import OnceForAll
from advmask_tf.training.radius import (
    IAAT_RULES,
    RADIUS_POLICIES,
    AdaptiveRadius,
    BaseRadiusPolicy,
    FixedRadius,
    SampledRadius,
    make_radius_policy,
)
from advmask_tf.training.weighting import (
    WEIGHTINGS,
    BaseWeighting,
    GeometryAwareWeighting,
    UniformWeighting,
    gairat_weights,
    make_weighting,
)

__all__ = [
    "AdversarialModel",
    "EpochCounter",
    "GUIDE",
    "Hat",
    "Lbgat",
    "robust_mask",
    "split_inputs",
    "training_attack",
    "BaseObjective",
    "BaseRadiusPolicy",
    "BaseWeighting",
    "StepFacts",
    "InstanceStateMonitor",
    "save_radius_grid",
    "OBJECTIVES",
    "Iaat",
    "Madry",
    "Mixed",
    "OnceForAll",
    "Standard",
    "Trades",
    "global_sum",
    "make_objective",
    "IAAT_RULES",
    "RADIUS_POLICIES",
    "AdaptiveRadius",
    "FixedRadius",
    "SampledRadius",
    "make_radius_policy",
    "WEIGHTINGS",
    "GeometryAwareWeighting",
    "UniformWeighting",
    "gairat_weights",
    "make_weighting",
]
