"""Objectives: the per-sample loss the weights are trained on.

An objective says which loss its attack maximises and from where the attack
starts, and turns (x, x_adv, y) into per-sample losses plus the logits used
for logging. Weighting, normalisation over the global batch and the gradient
step live in `AdversarialModel`, so every objective is trained the same way.

A new objective is one subclass of `BaseObjective` (the contract), its
options declared in its `Options` dataclass, registered with
`@OBJECTIVES.register("name")`; `method.name` in a config,
`--config.method.<option>` and `AdversarialModel(objective=...)` then find
it.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from advmask_tf.attacks.losses import cross_entropy, float32, kl_divergence
from advmask_tf.attacks.pgd import PGDConfig
from advmask_tf.errors import InputError
from advmask_tf.options import Tunable, number, option
from advmask_tf.registry import Part, Registry
from advmask_tf.training.attack_settings import checked_attack
from advmask_tf.training.interfaces import StepFacts

OBJECTIVES = Registry("objective", field="method.name", default="madry")


class BaseObjective(Part):
    """The contract of an objective. Subclasses set `name`, `attack_loss`,
    `passes` and `loss` (and `random_start` when the attack should not
    start uniformly); options are declared in `Options` (see
    `advmask_tf.registry.Part`) and live in the config's method block.

    An objective names the inputs its network runs on in training mode
    (`passes`: pairs of images and the strength a conditioned network is
    told, 0 for clean images and the attack's per-sample eps for x_adv) and
    turns those passes' logits into per-sample losses. The
    model runs the passes in order and back-propagates them one at a time,
    which keeps synchronised batch norm's collectives in the same order on
    every replica.
    """

    name = "objective"
    section = "method"
    #: the loss the attack maximises, or None when no attack is run.
    attack_loss: str | None = None
    #: where the training attack starts when the config leaves it to the
    #: objective (attack.random_start "auto").
    random_start = "uniform"
    #: whether `loss` returns clean logits (else the model logs clean
    #: accuracy from an extra inference-mode pass).
    has_clean_pass = False
    #: whether `passes` needs `clean_correct`, the inference-mode clean
    #: prediction's correctness.
    needs_clean_prediction = False
    #: radius policies whose use the objective's name already says (IAAT's
    #: adaptive radii): left out of the run's label.
    implies_radius: tuple = ()
    #: the objective means something only when the network is told each
    #: pass's strength (a conditioned network): refused otherwise.
    needs_told_network: bool = False
    #: a second network the objective runs on the passes it marks GUIDE
    #: (`advmask_tf.training.guided`): None; "trained" (jointly, by the
    #: same optimizer: LBGAT); "frozen" (a given trained network: HAT).
    guide: str | None = None

    def trained_strengths(self, eps: float) -> tuple | None:
        """The strengths a conditioned network is told in training, when
        the objective chooses them (OAT: lambda x eps); None: the radius
        policy's."""
        del eps
        return None

    def guide_source(self, train_epochs: int):
        """Where a run's guide starts (`advmask_tf.training.guided.
        GuideSource`); only objectives with a guide have one."""
        raise NotImplementedError(f"objective {self.name!r} has no guide")

    def prepare(self, facts: StepFacts) -> StepFacts:
        """The step's facts, with anything drawn per sample added."""
        return facts

    def told(self, facts: StepFacts, eps):
        """What a conditioned network is told while x_adv is crafted at
        radius eps."""
        del facts
        return eps

    def passes(self, facts: StepFacts, x_adv, eps):
        """[(image, strength)] of the training-mode forward passes, in
        order; eps is x_adv's per-sample radius. A pass of the guide
        network is (image, strength, GUIDE)."""
        raise NotImplementedError

    def loss(self, logits, facts: StepFacts):
        """(per-sample loss, clean logits or None, adv logits or None)
        from the passes' logits; `facts` is the step's (labels in
        `facts.label`, anything `prepare` drew)."""
        raise NotImplementedError


OBJECTIVES.base = BaseObjective


class CleanAndAdversarial(BaseObjective):
    """An objective on two training-mode passes: the clean images (a
    conditioned network told 0), then x_adv (told its radius)."""

    has_clean_pass = True

    def passes(self, facts, x_adv, eps):
        return [(facts.image, clean_strength(facts.image)),
                (x_adv, adv_strength(x_adv, eps))]


class WithBeta(CleanAndAdversarial):
    """Two passes and a KL term weighted by `beta` (TRADES, MART)."""

    @dataclasses.dataclass(frozen=True)
    class Options:
        beta: float = option(
            6.0, "weight of the KL term (TRADES, MART; the papers: 6 on "
            "CIFAR-10, 1 on MNIST)", number(low=0), tune=Tunable(log=True))


@OBJECTIVES.register("standard")
class Standard(BaseObjective):
    """Empirical risk on clean data: CE(f(x), y)."""

    name = "standard"
    has_clean_pass = True

    def passes(self, facts, x_adv, eps):
        return [(facts.image, clean_strength(facts.image))]

    def loss(self, logits, facts):
        y = facts.label
        return cross_entropy(logits[0], y), logits[0], None


@OBJECTIVES.register("madry")
class Madry(BaseObjective):
    """Madry et al. 2018: CE(f(x_adv), y) with x_adv from PGD on the CE."""

    name = "madry"
    attack_loss = "ce"

    def passes(self, facts, x_adv, eps):
        return [(x_adv, adv_strength(x_adv, eps))]

    def loss(self, logits, facts):
        y = facts.label
        return cross_entropy(logits[0], y), None, logits[0]


@OBJECTIVES.register("trades")
class Trades(WithBeta):
    """Zhang et al. 2019: CE(f(x), y) + beta * KL(f(x) || f(x_adv)).

    The attack maximises the KL term from x + 0.001 N(0, 1); the clean and
    adversarial passes are separate training-mode passes, as in the authors'
    code.
    """

    name = "trades"
    attack_loss = "kl"
    random_start = "normal"

    def loss(self, logits, facts):
        y = facts.label
        clean, adv = logits
        per_sample = cross_entropy(clean, y) + self.beta * kl_divergence(
            adv, clean)
        return per_sample, clean, adv


@OBJECTIVES.register("mart")
class Mart(WithBeta):
    """Wang et al. 2020 (MART): boosted CE on x_adv plus
    beta * KL(f(x) || f(x_adv)) * (1 - p_y(x)).

    The boosted CE adds -log(1 - max_{k != y} p_k(x_adv)), which pushes
    the strongest wrong class down; the KL term counts most for the
    samples the network gets wrong on clean input. The attack is PGD on the
    CE from a uniform start; the clean and adversarial passes are separate
    training-mode passes, as in the authors' code.
    """

    name = "mart"
    attack_loss = "ce"

    def loss(self, logits, facts):
        y = facts.label
        clean, adv = logits
        misclassified_weight = 1.0 - true_probability(clean, y)
        per_sample = boosted_cross_entropy(adv, y) + (
            self.beta * kl_divergence(adv, clean) * misclassified_weight)
        return per_sample, clean, adv


def true_probability(logits, labels):
    """softmax(logits)[y] per sample (float32)."""
    probabilities = tf.nn.softmax(float32(logits))
    return tf.gather(probabilities, tf.cast(labels, tf.int32), batch_dims=1)


def boosted_cross_entropy(logits, labels):
    """MART's BCE: CE(logits, y) - log(1 - max_{k != y} p_k), the second
    term computed in log space as logsumexp over j != k minus logsumexp.

    >>> import numpy as np
    >>> logits = tf.constant([[2.0, 1.0, 0.0]])
    >>> p = tf.nn.softmax(logits)[0].numpy()
    >>> expected = -np.log(p[0]) - np.log(1 - p[1])
    >>> bool(abs(boosted_cross_entropy(logits, [0])[0] - expected) < 1e-5)
    True
    """
    logits = float32(logits)
    labels = tf.cast(labels, tf.int32)
    num_classes = tf.shape(logits)[-1]
    true_class = tf.one_hot(labels, num_classes, dtype=logits.dtype)
    strongest_wrong = tf.argmax(logits - 1e9 * true_class, axis=-1,
                                output_type=tf.int32)
    without_it = logits - 1e9 * tf.one_hot(strongest_wrong, num_classes,
                                           dtype=logits.dtype)
    log_rest = (tf.reduce_logsumexp(without_it, axis=-1)
                - tf.reduce_logsumexp(logits, axis=-1))
    return cross_entropy(logits, labels) - log_rest


@OBJECTIVES.register("iaat")
class Iaat(BaseObjective):
    """Balaji et al. 2019: CE on x_adv for samples the model gets right on
    clean input (in inference mode), CE on the clean x for the others.

    One training-mode pass on the per-sample choice of input, which gives the
    paper's loss (Algorithm 1, line 10).
    """

    name = "iaat"
    attack_loss = "ce"
    needs_clean_prediction = True
    implies_radius = ("adaptive",)

    def passes(self, facts, x_adv, eps):
        x, clean_correct = facts.image, facts.clean_correct
        if clean_correct is None:
            raise RuntimeError("The IAAT objective needs clean_correct.")
        choose_adv = tf.reshape(clean_correct,
                                [-1] + [1] * (x.shape.rank - 1))
        strength = tf.where(clean_correct, adv_strength(x_adv, eps),
                            clean_strength(x))
        return [(tf.where(choose_adv, x_adv, x), strength)]

    def loss(self, logits, facts):
        y = facts.label
        return cross_entropy(logits[0], y), None, logits[0]


@OBJECTIVES.register("mixed")
class Mixed(CleanAndAdversarial):
    """clean_weight * CE(f(x, 0), y) + adv_weight * CE(f(x_adv, eps), y).

    RobMask's objective (and AdvProp's): separate clean and adversarial
    passes; a conditioned network is told 0 on the clean pass and each
    sample's attack radius on the adversarial one.
    """

    name = "mixed"
    attack_loss = "ce"

    @dataclasses.dataclass(frozen=True)
    class Options:
        clean_weight: float = option(
            1.0, "weight of the clean CE (mixed)", number(low=0))
        adv_weight: float = option(
            1.0, "weight of the adversarial CE (mixed)", number(low=0),
            tune=Tunable())

        def __post_init__(self):
            if not self.clean_weight + self.adv_weight > 0:
                raise InputError("method.clean_weight + method.adv_weight "
                                 "must be > 0; both are 0.")

    def loss(self, logits, facts):
        y = facts.label
        clean, adv = logits
        per_sample = (self.clean_weight * cross_entropy(clean, y)
                      + self.adv_weight * cross_entropy(adv, y))
        return per_sample, clean, adv


def clean_strength(x):
    """Zeros (B,): what a conditioned network is told about clean images."""
    return tf.zeros(tf.shape(x)[:1], tf.float32)


def adv_strength(x_adv, eps):
    """(B,) radius of x_adv (0 when the attack reported none)."""
    if eps is None:
        return clean_strength(x_adv)
    return tf.cast(eps, tf.float32) * tf.ones(tf.shape(x_adv)[:1], tf.float32)


def make_objective(spec=None) -> BaseObjective:
    """An objective from a spec: a name, {"name": ..., options}, an
    objective, or None (Madry).

    >>> make_objective({"name": "trades", "beta": 1.0}).get_config()
    {'name': 'trades', 'beta': 1.0}
    """
    return OBJECTIVES.build(spec)


def global_sum(value):
    """Sums a per-replica value over all replicas (identity on one replica)."""
    if tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return value
    return tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, value)


def training_attack(spec, objective) -> PGDConfig:
    """The training attack: `spec` (a `PGDConfig` or its dict; None: eps
    0.1) with the objective's loss and, unless the spec names one, the
    objective's random start.

    >>> training_attack({"eps": 0.1}, make_objective("trades")).random_start
    'normal'
    """
    if isinstance(spec, PGDConfig):
        return spec
    spec = checked_attack("attack", dict(spec if spec is not None
                                         else {"eps": 0.1}))
    if objective.attack_loss:
        spec["loss"] = objective.attack_loss
    if spec.get("random_start", "auto") == "auto":
        spec["random_start"] = objective.random_start
    return PGDConfig(**spec)
