"""The written interfaces of a method's parts, and the per-step facts they
receive.

`AdversarialModel.train_step` gathers what it knows about a batch once, as a
`StepFacts`, and hands it to the radius policy (which eps each sample is
attacked at), the instance weighting (how much each sample counts) and the
objective (what loss the weights see). A new part implements one of the
protocols below and registers its class in the part's registry
(`advmask_tf.training.objectives.OBJECTIVES`, `radius.RADIUS_POLICIES`,
`weighting.WEIGHTINGS`; attacks: `advmask_tf.attacks.ATTACKS`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Protocol, runtime_checkable

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


@runtime_checkable
class Objective(Protocol):
    """What loss the weights see.

    Class attributes: `name`; `attack_loss` (the loss the training attack
    maximises, or None: no attack); `random_start` (the attack's start when
    the config says "auto"); `has_clean_pass` (the loss returns clean
    logits); `needs_clean_prediction` (`passes` needs
    `facts.clean_correct`).

    Optional hooks (`BaseObjective` has the defaults): `prepare(facts)`
    returns the step's facts with anything the objective draws per sample
    (OAT's lambda); `told(facts, eps)` is what a conditioned network is
    told while x_adv is crafted at radius eps (default: eps).
    """

    name: str
    attack_loss: str | None
    random_start: str
    has_clean_pass: bool
    needs_clean_prediction: bool

    def passes(self, facts: StepFacts, x_adv, eps) -> list:
        """[(images, strength per sample)] of the training-mode forward
        passes, in order; a conditioned network is told the strength."""

    def loss(self, logits: list, facts: StepFacts) -> tuple:
        """(per-sample loss, clean logits or None, adv logits or None) from
        the passes' logits and the step's facts (labels, per-sample draws)."""

    def get_config(self) -> dict:
        """The spec that rebuilds this objective ({"name": ..., options})."""


@runtime_checkable
class RadiusPolicy(Protocol):
    """Which eps each sample is attacked at; runs the training attack."""

    name: str
    needs_clean_prediction: bool

    def build(self, model, num_examples: int | None) -> None:
        """Adds per-example state (tables) to `model`, if any."""

    def craft(self, attack, network_at: Callable, facts: StepFacts):
        """Runs `attack` on the batch (network_at(eps) is the network told
        eps) and updates the policy's state; returns an `AttackResult`."""

    def get_config(self) -> dict:
        """The spec that rebuilds this policy."""


@runtime_checkable
class InstanceWeighting(Protocol):
    """How much each adversarial example counts in the loss."""

    name: str

    def build(self, model, num_examples: int | None) -> None:
        """Adds per-example state (tables) to `model`, if any."""

    def weights(self, kappa, steps: int, facts: StepFacts):
        """Per-sample weights summing to the global batch size, or None
        (uniform)."""

    def get_config(self) -> dict:
        """The spec that rebuilds this weighting."""
