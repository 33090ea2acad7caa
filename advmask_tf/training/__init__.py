"""Adversarial training: `AdversarialModel` and its objectives."""

from advmask_tf.training.adversarial_model import (
    AdversarialModel,
    robust_mask,
    split_inputs,
)
from advmask_tf.training.objectives import (
    OBJECTIVES,
    Madry,
    Objective,
    Standard,
    Trades,
    global_sum,
    make_objective,
)

__all__ = [
    "AdversarialModel",
    "robust_mask",
    "split_inputs",
    "OBJECTIVES",
    "Madry",
    "Objective",
    "Standard",
    "Trades",
    "global_sum",
    "make_objective",
]
