"""Objectives: the per-sample loss the weights are trained on.

An objective says which loss its attack maximises and turns (x, x_adv, y) into
per-sample losses plus the logits used for logging. Weighting, normalisation
over the global batch and the gradient step live in `AdversarialModel`, so
every objective is trained the same way.
"""

from __future__ import annotations

import tensorflow as tf

from advmask_tf.attacks.losses import cross_entropy, kl_divergence


class Objective:
    """Base class. Subclasses set `name`, `attack_loss`, `passes` and `loss`.

    An objective names the inputs its network runs on in training mode
    (`passes`: pairs of images and the strength a conditioned network is
    told, 0 for clean images and the attack's per-sample eps for x_adv) and
    turns those passes' logits into per-sample losses. The
    model runs the passes in order and back-propagates them one at a time,
    which keeps synchronised batch norm's collectives in the same order on
    every replica.
    """

    name = "objective"
    #: the loss the attack maximises, or None when no attack is run.
    attack_loss: str | None = None
    #: whether `loss` returns clean logits (else the model logs clean
    #: accuracy from an extra inference-mode pass).
    has_clean_pass = False
    #: whether `passes` needs `clean_correct`, the inference-mode clean
    #: prediction's correctness.
    needs_clean_prediction = False

    def passes(self, x, x_adv, clean_correct=None, eps=None):
        """[(image, strength)] of the training-mode forward passes, in
        order; eps is x_adv's per-sample radius."""
        raise NotImplementedError

    def loss(self, logits, y):
        """(per-sample loss, clean logits or None, adv logits or None)."""
        raise NotImplementedError

    def get_config(self):
        return {}


class Standard(Objective):
    """Empirical risk on clean data: CE(f(x), y)."""

    name = "standard"
    has_clean_pass = True

    def passes(self, x, x_adv, clean_correct=None, eps=None):
        return [(x, clean_strength(x))]

    def loss(self, logits, y):
        return cross_entropy(logits[0], y), logits[0], None


class Madry(Objective):
    """Madry et al. 2018: CE(f(x_adv), y) with x_adv from PGD on the CE."""

    name = "madry"
    attack_loss = "ce"

    def passes(self, x, x_adv, clean_correct=None, eps=None):
        return [(x_adv, adv_strength(x_adv, eps))]

    def loss(self, logits, y):
        return cross_entropy(logits[0], y), None, logits[0]


class Trades(Objective):
    """Zhang et al. 2019: CE(f(x), y) + beta * KL(f(x) || f(x_adv)).

    The attack maximises the KL term; the clean and adversarial passes are
    separate training-mode passes, as in the authors' code.
    """

    name = "trades"
    attack_loss = "kl"
    has_clean_pass = True

    def __init__(self, beta: float = 6.0):
        if not beta >= 0 or beta != beta:
            raise ValueError(f"TRADES beta must be >= 0; received {beta!r}.")
        self.beta = float(beta)

    def passes(self, x, x_adv, clean_correct=None, eps=None):
        return [(x, clean_strength(x)), (x_adv, adv_strength(x_adv, eps))]

    def loss(self, logits, y):
        clean, adv = logits
        per_sample = cross_entropy(clean, y) + self.beta * kl_divergence(
            adv, clean)
        return per_sample, clean, adv

    def get_config(self):
        return {"beta": self.beta}


class Iaat(Objective):
    """Balaji et al. 2019: CE on x_adv for samples the model gets right on
    clean input (in inference mode), CE on the clean x for the others.

    One training-mode pass on the per-sample choice of input, which gives the
    paper's loss (Algorithm 1, line 10).
    """

    name = "iaat"
    attack_loss = "ce"
    needs_clean_prediction = True

    def passes(self, x, x_adv, clean_correct=None, eps=None):
        if clean_correct is None:
            raise ValueError("The IAAT objective needs clean_correct.")
        choose_adv = tf.reshape(clean_correct,
                                [-1] + [1] * (x.shape.rank - 1))
        strength = tf.where(clean_correct, adv_strength(x_adv, eps),
                            clean_strength(x))
        return [(tf.where(choose_adv, x_adv, x), strength)]

    def loss(self, logits, y):
        return cross_entropy(logits[0], y), None, logits[0]


class Mixed(Objective):
    """clean_weight * CE(f(x, 0), y) + adv_weight * CE(f(x_adv, eps), y).

    RobMask's objective (and AdvProp's): separate clean and adversarial
    passes; a conditioned network is told 0 on the clean pass and each
    sample's attack radius on the adversarial one.
    """

    name = "mixed"
    attack_loss = "ce"
    has_clean_pass = True

    def __init__(self, clean_weight: float = 1.0, adv_weight: float = 1.0):
        for label, value in (("clean_weight", clean_weight),
                             ("adv_weight", adv_weight)):
            if not 0.0 <= float(value) < float("inf"):
                raise ValueError(f"method.{label} must be finite and >= 0; "
                                 f"received {value!r}.")
        if not clean_weight + adv_weight > 0:
            raise ValueError("method.clean_weight + method.adv_weight must be "
                             "> 0; both are 0.")
        self.clean_weight = float(clean_weight)
        self.adv_weight = float(adv_weight)

    def passes(self, x, x_adv, clean_correct=None, eps=None):
        return [(x, clean_strength(x)), (x_adv, adv_strength(x_adv, eps))]

    def loss(self, logits, y):
        clean, adv = logits
        per_sample = (self.clean_weight * cross_entropy(clean, y)
                      + self.adv_weight * cross_entropy(adv, y))
        return per_sample, clean, adv

    def get_config(self):
        return {"clean_weight": self.clean_weight,
                "adv_weight": self.adv_weight}


def clean_strength(x):
    """Zeros (B,): what a conditioned network is told about clean images."""
    return tf.zeros(tf.shape(x)[:1], tf.float32)


def adv_strength(x_adv, eps):
    """(B,) radius of x_adv (0 when the attack reported none)."""
    if eps is None:
        return clean_strength(x_adv)
    return tf.cast(eps, tf.float32) * tf.ones(tf.shape(x_adv)[:1], tf.float32)


OBJECTIVES = {cls.name: cls
              for cls in (Standard, Madry, Trades, Iaat, Mixed)}


def make_objective(name: str, **kwargs) -> Objective:
    """Builds an objective by name.

    >>> make_objective("trades", beta=1.0).beta
    1.0
    """
    if name not in OBJECTIVES:
        raise ValueError(
            f"Unknown training method {name!r}; expected one of "
            f"{sorted(OBJECTIVES)}.")
    return OBJECTIVES[name](**kwargs)


def global_sum(value):
    """Sums a per-replica value over all replicas (identity on one replica)."""
    if tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return value
    return tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, value)
