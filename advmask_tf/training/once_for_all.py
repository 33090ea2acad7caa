"""Once-for-all adversarial training (OAT; Wang et al., NeurIPS 2020).

One network learns a whole family of trade-offs: each training sample gets
a weight lambda drawn from a set (the paper: {0, .1, .2, .3, .4, 1}) and
the loss

    (1 - lambda) CE(f(x; lambda), y) + lambda CE(f(x_adv; lambda), y),

with the network told lambda (FiLM-style rescaling from an encoding of
lambda, and separate normalisation statistics for lambda = 0 and > 0). At
inference the same weights are dialled between accuracy (lambda 0) and
robustness (lambda 1).

Here the network is a conditioned one (`norm="masking"`, route boundary 0)
and is told lambda * eps, the trade-off on the scale of the attack's radius:
0 is the clean setting and eps (lambda 1) the robust one, so validation
(told 0 for clean accuracy, eps under attack) and evaluation
(`eval.condition_eps`) read the dial like RobMask's. The attack crafting
x_adv (PGD on the CE at the full eps) attacks the network told its
sample's lambda, as in the authors' code.

Where it differs from the paper: the rescaling is the masking layer's linear
projection of a 16-dimensional orthogonal code (relu on the scale), where the
paper feeds a 128-dimensional code through a 2-layer MLP; lambda is drawn
uniformly from the set.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from advmask_tf.attacks.losses import cross_entropy
from advmask_tf.options import numbers, option
from advmask_tf.training.objectives import OBJECTIVES, CleanAndAdversarial
from advmask_tf.training.radius import draw_from_set

PAPER_LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.4, 1.0)


@OBJECTIVES.register("oat")
class OnceForAll(CleanAndAdversarial):
    """OAT's objective: per-sample lambda from `lambdas`, loss
    (1 - lambda) CE(clean) + lambda CE(adv), the network told lambda * eps.

    >>> OnceForAll(lambdas=(0.0, 0.5, 1.0)).get_config()
    {'name': 'oat', 'lambdas': [0.0, 0.5, 1.0]}
    """

    name = "oat"
    attack_loss = "ce"
    needs_told_network = True
    # Separates lambda's draw from the random start's and the radius's.
    KEY_OFFSET = 1 << 41

    @dataclasses.dataclass(frozen=True)
    class Options:
        lambdas: tuple = option(
            PAPER_LAMBDAS, "the set each sample's trade-off weight lambda is "
            "drawn from (oat); the network is told lambda x attack.eps",
            numbers(0, 1, at_least=2, note=f"the paper: {PAPER_LAMBDAS}"))

        def __post_init__(self):
            object.__setattr__(self, "lambdas", tuple(sorted(
                float(v) for v in self.lambdas)))

    def trained_strengths(self, eps):
        """The network is told lambda x eps."""
        return tuple(v * float(eps) for v in self.lambdas)

    def prepare(self, facts):
        """Draws each sample's lambda into `facts.trade_off`."""
        facts.trade_off = draw_from_set(self.lambdas, tf.shape(facts.label)[0],
                                        facts.noise_keys, self.KEY_OFFSET)
        return facts

    def told(self, facts, eps):
        """What the network is told while x_adv is crafted: lambda * eps."""
        return facts.trade_off * tf.cast(eps, tf.float32)

    def passes(self, facts, x_adv, eps):
        if facts.trade_off is None:
            raise RuntimeError("The OAT objective draws lambda in prepare(); "
                             "call it before passes().")
        told = self.told(facts, eps) * tf.ones(tf.shape(facts.label),
                                               tf.float32)
        return [(facts.image, told), (x_adv, told)]

    def loss(self, logits, facts):
        y = facts.label
        clean, adv = logits
        weight = facts.trade_off
        per_sample = ((1.0 - weight) * cross_entropy(clean, y)
                      + weight * cross_entropy(adv, y))
        return per_sample, clean, adv

