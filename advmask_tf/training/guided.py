"""Objectives guided by a clean network: LBGAT and HAT.

Both train the robust network with a second, clean-trained network beside
it, the *guide*, which `AdversarialModel` holds (`model.guide`) and runs on
the passes the objective marks with `GUIDE`:

- LBGAT (Cui et al., ICCV 2021): the guide is trained jointly with the
  robust network by the same optimizer, on CE(guide(x), y); the robust
  network's logits on x_adv are pulled to the guide's logits on x (a mean
  squared error, its gradient reaching both networks), plus TRADES'
  beta * KL(f(x) || f(x_adv)) (beta 0: LBGAT0, 6: LBGAT6). x_adv comes from
  TRADES' KL attack on the robust network, as in the authors' code.
- HAT (Rade & Moosavi-Dezfooli, ICLR 2022): TRADES plus
  gamma * CE(f(x_h), y_h) on helper examples x_h = x + h (x_adv - x),
  labelled y_h by a frozen standard network's prediction on x_adv (the
  authors' code does not clip x_h to the pixel range; neither does this).

The guide of LBGAT is a fresh copy of the network's architecture unless one
is given; HAT's must be given (a trained standard classifier). On the
command line each objective says where its guide starts (`guide_source`):
HAT's helper is loaded from `method.helper_from` or trained first in the
work directory (`helper/`); LBGAT's guide starts fresh, or from the weights
of a standard classifier of the same architecture (`method.guide_from`, or
trained first for `method.guide_epochs`).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from advmask_tf.attacks.losses import cross_entropy, float32, kl_divergence
from advmask_tf.errors import InputError
from advmask_tf.options import Tunable, integer, number, option, text
from advmask_tf.training.inputs import check_logits
from advmask_tf.training.objectives import (
    OBJECTIVES,
    BaseObjective,
    WithBeta,
    adv_strength,
    clean_strength,
)

#: Marks a pass that runs on the guide network: (image, strength, GUIDE).
GUIDE = "guide"


@dataclasses.dataclass(frozen=True)
class GuideSource:
    """Where a run's guide starts: the weights of the classifier saved at
    `path`, or of one trained first by standard training for `epochs`, or
    (neither) a fresh network."""

    path: str = ""
    epochs: int = 0


@OBJECTIVES.register("lbgat")
class Lbgat(BaseObjective):
    """LBGAT: CE(g(x), y) + guide_weight * MSE(f(x_adv), g(x))
    + beta * KL(f(x) || f(x_adv)), with g the guide, trained jointly.

    The MSE averages over the classes, as the authors' code does
    (`torch.nn.MSELoss` over the batch and the logits). With beta 0 the
    robust network has no clean training pass; its clean accuracy is then
    logged from an inference-mode pass.

    >>> from advmask_tf.training.objectives import make_objective
    >>> lbgat0 = make_objective({"name": "lbgat", "beta": 0.0})
    >>> lbgat0.guide, lbgat0.guide_source(train_epochs=5)
    ('trained', GuideSource(path='', epochs=0))
    """

    name = "lbgat"
    attack_loss = "kl"
    random_start = "normal"
    guide = "trained"

    @dataclasses.dataclass(frozen=True)
    class Options(WithBeta.Options):
        guide_weight: float = option(
            1.0, "LBGAT: weight of the MSE pulling the robust logits on "
            "x_adv to the guide's on x (the authors' code: 1)",
            number(low=0, low_open=True), tune=Tunable(log=True))
        guide_from: str = option(
            "", "LBGAT: start the guide from this saved standard classifier "
            "(.keras, the network's architecture); '': see guide_epochs",
            text())
        guide_epochs: int = option(
            0, "LBGAT: with no guide_from, train the guide first by standard "
            "training for this many epochs in <workdir>/helper (0: a fresh "
            "guide, as in the paper)", integer(low=0))

    def guide_source(self, train_epochs: int) -> GuideSource:
        """Where the guide starts (see `GuideSource`)."""
        del train_epochs
        return GuideSource(self.guide_from,
                           0 if self.guide_from else self.guide_epochs)

    @property
    def has_clean_pass(self):
        return self.beta > 0

    def passes(self, facts, x_adv, eps):
        x = facts.image
        robust = [(x_adv, adv_strength(x_adv, eps))]
        if self.beta > 0:
            robust.insert(0, (x, clean_strength(x)))
        return robust + [(x, clean_strength(x), GUIDE)]

    def loss(self, logits, facts):
        y = facts.label
        *robust, guide = logits
        adv = robust[-1]
        guide = float32(guide)
        per_sample = cross_entropy(guide, y) + self.guide_weight * \
            tf.reduce_mean(tf.square(float32(adv) - guide), axis=-1)
        clean = None
        if self.beta > 0:
            clean = robust[0]
            per_sample += self.beta * kl_divergence(adv, clean)
        return per_sample, clean, adv


@OBJECTIVES.register("hat")
class Hat(BaseObjective):
    """HAT: CE(f(x), y) + beta * KL(f(x) || f(x_adv))
    + helper_weight * CE(f(x + h (x_adv - x)), argmax g(x_adv)), with g a
    frozen standard network and h `helper_scale`.

    >>> from advmask_tf.training.objectives import make_objective
    >>> hat = make_objective("hat")
    >>> hat.guide, hat.guide_source(train_epochs=5)  # trained first
    ('frozen', GuideSource(path='', epochs=5))
    """

    name = "hat"
    attack_loss = "kl"
    random_start = "normal"
    has_clean_pass = True
    guide = "frozen"

    @dataclasses.dataclass(frozen=True)
    class Options(WithBeta.Options):
        helper_scale: float = option(
            3.5, "HAT's h: helper examples x + h (x_adv - x) (the authors' "
            "code: 3.5 on CIFAR-10)", number(low=1))
        helper_weight: float = option(
            1.0, "HAT's gamma: weight of the helper examples' CE (the "
            "paper: 0.5 to 1)", number(low=0), tune=Tunable())
        helper_from: str = option(
            "", "HAT's helper: a saved standard classifier (.keras) to load; "
            "'' trains one first in <workdir>/helper", text())
        helper_epochs: int = option(
            0, "HAT: epochs of the helper trained first (0: train.epochs)",
            integer(low=0))

    def guide_source(self, train_epochs: int) -> GuideSource:
        """The helper: `helper_from`, or trained first (`helper_epochs`,
        0: `train_epochs`)."""
        if self.helper_from:
            return GuideSource(self.helper_from, 0)
        return GuideSource("", self.helper_epochs or int(train_epochs))

    def passes(self, facts, x_adv, eps):
        x = facts.image
        helper = x + self.helper_scale * (x_adv - x)
        strength = adv_strength(x_adv, eps)
        return [(x, clean_strength(x)), (x_adv, strength),
                (helper, self.helper_scale * strength),
                (x_adv, clean_strength(x), GUIDE)]

    def loss(self, logits, facts):
        y = facts.label
        clean, adv, helper, guide = logits
        helper_label = tf.argmax(guide, axis=-1, output_type=tf.int32)
        per_sample = (cross_entropy(clean, y)
                      + self.beta * kl_divergence(adv, clean)
                      + self.helper_weight * cross_entropy(helper,
                                                           helper_label))
        return per_sample, clean, adv


def guide_network(objective, network, guide=None):
    """The guide an objective runs beside `network` (see `guide` in
    `AdversarialModel`), checked; None for an objective without one."""
    if objective.guide is None:
        if guide is not None:
            guided = [name for name in OBJECTIVES.names()
                      if OBJECTIVES.get(name).guide]
            raise InputError(
                f"objective {objective.name!r} takes no guide network; "
                f"the objectives with one are {guided}.")
        return None
    if guide is None:
        if objective.guide == "frozen":
            raise InputError(
                f"objective {objective.name!r} needs its helper: pass "
                "guide=<a trained standard classifier> (the command line: "
                "method.helper_from, or it trains one first).")
        guide = keras.models.clone_model(network)
        guide.name = f"{network.name}_guide"
    check_logits(guide)
    if objective.guide == "frozen":
        guide.trainable = False
    return guide
