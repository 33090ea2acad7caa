"""The per-step facts a method's parts receive, and the attack interface.

`AdversarialModel.train_step` gathers what it knows about a batch once, as a
`StepFacts`, and hands it to the radius policy (which eps each sample is
attacked at), the instance weighting (how much each sample counts) and the
objective (what loss the weights see). The contract of each kind of part is
its base class: `objectives.BaseObjective`, `radius.BaseRadiusPolicy`,
`weighting.BaseWeighting` (subclasses of `advmask_tf.registry.Part`, which
declares the options); a new part subclasses one and registers itself in
that kind's registry (`OBJECTIVES`, `RADIUS_POLICIES`, `WEIGHTINGS`;
attacks: `advmask_tf.attacks.ATTACKS`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import tensorflow as tf


@dataclasses.dataclass
class StepFacts:
    """What a training step knows about its batch.

    Attributes:
        image: pixels in [0, 1], (B, H, W, C).
        label: int32 labels, (B,).
        index: int64 example indices (B,), or None for bare images.
        noise_keys: int64 (B, 2) stateless-RNG keys per sample (keyed by
            index and step), or None.
        clean_correct: bool (B,), the inference-mode clean prediction is
            right; None unless some part asked for it
            (`needs_clean_prediction`).
        epoch: int32 scalar tensor, the epoch fit is in.
        trade_off: (B,) per-sample trade-off weight an objective drew in
            its `prepare` (OAT's lambda), or None.
    """

    image: tf.Tensor
    label: tf.Tensor
    index: tf.Tensor | None = None
    noise_keys: tf.Tensor | None = None
    clean_correct: tf.Tensor | None = None
    epoch: tf.Tensor | int = 0
    trade_off: tf.Tensor | None = None


@dataclasses.dataclass
class StepLoss:
    """One training pass's losses: the passes' logits, what the metrics
    read, and the (loss-scaled) values the gradients come from."""

    logits: list
    clean_logits: tf.Tensor | None
    adv_logits: tf.Tensor | None
    total: tf.Tensor
    scaled_loss: tf.Tensor
    scaled_regularisation: tf.Tensor
    scaled_total: tf.Tensor
    logged: list = dataclasses.field(default_factory=lambda: ["loss"])


@runtime_checkable
class Attack(Protocol):
    """An attack's settings, validated once (`PGDConfig`, `APGDConfig`,
    `SquareConfig`, ...). Ensembles also have `stages() -> {name: Attack}`.
    `uses_gradients` False marks a black-box attack (the sanity checks
    compare it with the gradient attacks).
    """

    eps: float
    uses_gradients: bool

    def fooled(self, model, x, y, eps=None, noise_keys=None, seed=None):
        """Bool per sample: the attack found a misclassified point in the
        eps-ball around x (or an iterate on the way was misclassified)."""
