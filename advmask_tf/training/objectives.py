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
    (`passes`) and turns those passes' logits into per-sample losses. The
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

    def passes(self, x, x_adv, clean_correct=None):
        """The inputs of the training-mode forward passes, in order."""
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

    def passes(self, x, x_adv, clean_correct=None):
        return [x]

    def loss(self, logits, y):
        return cross_entropy(logits[0], y), logits[0], None


class Madry(Objective):
    """Madry et al. 2018: CE(f(x_adv), y) with x_adv from PGD on the CE."""

    name = "madry"
    attack_loss = "ce"

    def passes(self, x, x_adv, clean_correct=None):
        return [x_adv]

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

    def passes(self, x, x_adv, clean_correct=None):
        return [x, x_adv]

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

    def passes(self, x, x_adv, clean_correct=None):
        if clean_correct is None:
            raise ValueError("The IAAT objective needs clean_correct.")
        choose_adv = tf.reshape(clean_correct,
                                [-1] + [1] * (x.shape.rank - 1))
        return [tf.where(choose_adv, x_adv, x)]

    def loss(self, logits, y):
        return cross_entropy(logits[0], y), None, logits[0]


OBJECTIVES = {cls.name: cls for cls in (Standard, Madry, Trades, Iaat)}


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
