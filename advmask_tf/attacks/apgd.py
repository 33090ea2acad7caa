"""APGD (Croce & Hein 2020): PGD without a step size to tune, Linf.

Each sample keeps its own step size, starting at 2*eps and halved at the
checkpoints w_j = ceil(p_j * N) (p_0 = 0, p_1 = 0.22,
p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)) when either
  1. the loss rose in fewer than rho = 75% of the steps since the last
     checkpoint (the official code's test is `<=`, used here), or
  2. the step was not halved at the last checkpoint and the best loss has
     not improved since;
a halved sample restarts from its best point. Steps use momentum
x_{k+1} = P(x_k + alpha (z_{k+1} - x_k) + (1 - alpha)(x_k - x_{k-1})),
z_{k+1} = P(x_k + eta sign(grad)), alpha = 0.75 (1 for the first step).

A sample counts as fooled when any evaluated point (the start and all N
iterates) is misclassified. `APGDConfig` adds restarts and, for targeted
losses, one run per target class (the 2nd..(targets+1)-th largest clean
logit), as APGD-T does.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from advmask_tf.attacks.losses import (
    ATTACK_LOSSES,
    TARGETED_LOSSES,
    attack_loss,
)
from advmask_tf.attacks.pgd import (
    AttackResult,
    _check_radius,
    _per_sample,
    _random_start,
    attack_labels,
    float_images,
    make_forward,
    project,
)
from advmask_tf.attacks.registry import ATTACKS
from advmask_tf.errors import InputError


def checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD may halve its step size.

    >>> checkpoints(100)
    [22, 41, 57, 70, 80, 87, 93, 99]
    """
    fractions = [0.0, 0.22]
    while True:
        nxt = fractions[-1] + max(fractions[-1] - fractions[-2] - 0.03, 0.06)
        if nxt > 1.0:
            break
        fractions.append(nxt)
    points = sorted({math.ceil(round(p * steps, 6)) for p in fractions[1:]})
    return [p for p in points if 0 < p <= steps]


def _check_apgd(steps, loss, rho, alpha, eot=1):
    for name, value in (("steps", steps), ("eot", eot)):
        if not isinstance(value, (int, np.integer)) or isinstance(
                value, bool) or value < 1:
            raise InputError(f"{name} must be an integer >= 1; received "
                             f"{value!r}.")
    if loss not in ATTACK_LOSSES or loss in ("kl",):
        raise InputError(f"Unknown APGD loss {loss!r}; expected one of "
                         "('ce', 'cw', 'dlr', 'dlr_targeted', 'ce_targeted').")
    if not 0.0 < rho <= 1.0:
        raise InputError(f"rho must be in (0, 1]; received {rho!r}.")
    if not 0.0 < alpha <= 1.0:
        raise InputError(f"alpha must be in (0, 1]; received {alpha!r}.")


def expected_loss_and_gradient(forward, point, y, loss: str, targets=None,
                                draws: int = 1):
    """Per-sample attack loss and its input gradient, each the mean over
    `draws` forward passes (expectation over transformation: for a
    randomised network, the gradient of the expected loss), and whether
    the last pass classified each sample right.

    >>> import keras
    >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> point = tf.fill((4, 3), 0.5); y = tf.zeros(4, tf.int32)
    >>> one = expected_loss_and_gradient(net, point, y, "ce")
    >>> five = expected_loss_and_gradient(net, point, y, "ce", draws=5)
    >>> bool(tf.reduce_all(tf.abs(one[1] - five[1]) < 1e-5))
    True
    """
    values, grad = 0.0, 0.0
    for _ in range(draws):
        with tf.GradientTape() as tape:
            tape.watch(point)
            logits = forward(point)
            draw = attack_loss(loss, logits, y, targets=targets)
            total = tf.reduce_sum(draw)
        values += draw / draws
        grad += tape.gradient(total, point) / draws
    correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y)
    return values, grad, correct


def apgd(model, x, y, eps, steps: int = 100, loss: str = "ce", targets=None,
         rho: float = 0.75, alpha: float = 0.75, random_start: bool = True,
         bn_mode: str = "inference", seed=None,
         noise_keys=None, eot: int = 1) -> AttackResult:
    """One APGD run on a batch (Linf ball of radius eps, images in [0, 1]).

    Args:
        model: `model(x, training=...) -> logits`.
        x, y: images (B, H, W, C) and integer labels (B,).
        eps: a scalar or one radius per sample.
        steps: iterations N; the attack evaluates N + 1 gradients (the start
            and every iterate).
        loss: "ce", "cw", "dlr", or a targeted one ("dlr_targeted",
            "ce_targeted") with `targets` (B,).
        rho, alpha: the checkpoint test's fraction and the momentum.
        random_start: start uniformly in the ball (else at x).
        seed, noise_keys: as in `pgd` (per-sample keys make the start
            independent of the batch layout).
        eot: each loss and gradient is the mean over this many forward
            passes (expectation over transformation, for randomised
            networks; 1 for deterministic ones).

    Returns:
        An `AttackResult`: x_adv is the first misclassified point found (the
        highest-loss point for samples never fooled); success marks samples
        fooled at any evaluated point; kappa counts the points at which the
        sample was still classified right.

    Example:

    >>> import keras
    >>> net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(3)])
    >>> x = tf.random.uniform((8, 4, 4, 1)); y = tf.zeros(8, tf.int32)
    >>> result = apgd(net, x, y, eps=0.1, steps=10)
    >>> bool(tf.reduce_max(tf.abs(result.x_adv - x)) <= 0.1 + 1e-6)
    True
    """
    _check_apgd(steps, loss, rho, alpha, eot)
    _check_radius("eps", eps, tf.convert_to_tensor(x).shape[0], "linf")
    if loss in TARGETED_LOSSES and targets is None:
        raise InputError(f"APGD loss {loss!r} needs targets.")
    forward = make_forward(model, bn_mode)
    x = float_images(x, "apgd")
    y = attack_labels(model, forward, x, y, "apgd")
    per_sample_shape = tf.concat(
        [tf.shape(x)[:1], tf.ones([x.shape.rank - 1], tf.int32)], 0)
    # Always one radius per sample: the step size is halved per sample.
    eps_b = _per_sample(eps, x) * tf.ones(per_sample_shape, x.dtype)
    per_sample = [-1] + [1] * (x.shape.rank - 1)

    def loss_and_grad(point):
        return expected_loss_and_gradient(forward, point, y, loss, targets,
                                          draws=eot)

    def select(mask, a, b):
        return tf.where(tf.reshape(mask, per_sample), a, b)

    start = x
    if random_start:
        start = project(_random_start(x, eps_b, "linf", "uniform", 0.0, seed,
                                      noise_keys), x, eps_b, "linf")
    value, grad, correct = loss_and_grad(start)
    fooled = tf.logical_not(correct)
    kappa = tf.cast(correct, tf.int32)

    marks = checkpoints(steps)
    is_check = np.zeros(steps + 1, bool)
    window = np.ones(steps + 1, np.float32)
    previous = 0
    for mark in marks:
        is_check[mark] = True
        window[mark] = mark - previous
        previous = mark
    is_check = tf.constant(is_check)
    window = tf.constant(window)

    state = dict(
        i=tf.constant(0), x_cur=start, x_prev=start, grad=grad,
        value=value, eta=2.0 * eps_b, x_best=start, value_best=value,
        grad_best=grad, best_at_check=value,
        reduced_last=tf.ones_like(fooled),
        increases=tf.zeros_like(value), fooled=fooled,
        x_found=start, kappa=kappa)

    def body(s):
        i = s["i"]
        momentum = tf.where(i > 0, alpha, 1.0)
        z = project(s["x_cur"] + s["eta"] * tf.sign(s["grad"]), x, eps_b,
                    "linf")
        x_next = project(
            s["x_cur"] + momentum * (z - s["x_cur"])
            + (1.0 - momentum) * (s["x_cur"] - s["x_prev"]), x, eps_b, "linf")
        value, grad, correct = loss_and_grad(x_next)
        newly_fooled = tf.logical_and(tf.logical_not(correct),
                                      tf.logical_not(s["fooled"]))
        better = value > s["value_best"]
        increases = s["increases"] + tf.cast(value > s["value"], value.dtype)
        out = dict(
            i=i + 1, x_prev=s["x_cur"], x_cur=x_next, grad=grad, value=value,
            eta=s["eta"],
            x_best=select(better, x_next, s["x_best"]),
            value_best=tf.where(better, value, s["value_best"]),
            grad_best=select(better, grad, s["grad_best"]),
            best_at_check=s["best_at_check"],
            reduced_last=s["reduced_last"], increases=increases,
            fooled=tf.logical_or(s["fooled"], newly_fooled),
            x_found=select(newly_fooled, x_next, s["x_found"]),
            kappa=s["kappa"] + tf.cast(correct, tf.int32))

        def at_checkpoint(o):
            o = dict(o)
            oscillating = o["increases"] <= rho * window[i + 1]
            stalled = tf.logical_and(
                tf.logical_not(o["reduced_last"]),
                o["best_at_check"] >= o["value_best"])
            reduce = tf.logical_or(oscillating, stalled)
            o["eta"] = select(reduce, o["eta"] / 2.0, o["eta"])
            o["x_cur"] = select(reduce, o["x_best"], o["x_cur"])
            o["grad"] = select(reduce, o["grad_best"], o["grad"])
            o["reduced_last"] = reduce
            o["best_at_check"] = o["value_best"]
            o["increases"] = tf.zeros_like(o["increases"])
            return o

        return (tf.cond(is_check[i + 1], lambda: at_checkpoint(out),
                        lambda: out),)

    (final,) = tf.while_loop(lambda s: s["i"] < steps, body, (state,),
                             parallel_iterations=1)
    x_adv = select(final["fooled"], final["x_found"], final["x_best"])
    return AttackResult(x_adv=tf.stop_gradient(x_adv),
                        success=final["fooled"], kappa=final["kappa"])


def target_classes(logits, rank: int):
    """The class with the `rank`-th largest logit (rank 1 = the top class).

    >>> target_classes(tf.constant([[0.1, 3.0, 2.0]]), 2).numpy().tolist()
    [2]
    """
    order = tf.argsort(logits, axis=-1, direction="DESCENDING")
    return tf.cast(order[:, rank - 1], tf.int32)


@dataclasses.dataclass
class APGDConfig:
    """APGD settings; `fooled` runs restarts (and targets) on a batch.

    With a targeted loss, every restart runs once per target class: the
    classes ranked 2..targets+1 by the clean logits (APGD-T).

    >>> import keras
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> attack = APGDConfig(eps=0.1, steps=5, loss="dlr_targeted", targets=2)
    >>> attack.fooled(net, tf.fill((3, 2), 0.5), tf.zeros(3, tf.int32)).shape
    TensorShape([3])
    """

    eps: float
    steps: int = 100
    loss: str = "ce"
    restarts: int = 1
    targets: int = 9
    rho: float = 0.75
    alpha: float = 0.75
    bn_mode: str = "inference"
    eot: int = 1
    uses_gradients = True

    def __post_init__(self):
        _check_radius("eps", self.eps, norm="linf")
        _check_apgd(self.steps, self.loss, self.rho, self.alpha, self.eot)
        for name in ("restarts", "targets"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name} must be an integer >= 1; received "
                                 f"{value!r}.")

    @property
    def runs(self) -> int:
        """Gradient evaluations per sample, at most."""
        per_restart = self.targets if self.loss in TARGETED_LOSSES else 1
        return self.restarts * per_restart * (self.steps + 1) * self.eot

    def fooled(self, model, x, y, eps=None, noise_keys=None, seed=None):
        """Bool per sample: some run found a misclassified point."""
        eps = self.eps if eps is None else eps
        y = tf.cast(y, tf.int32)
        ranks = [None]
        if self.loss in TARGETED_LOSSES:
            clean_logits = make_forward(model, self.bn_mode)(x)
            num_classes = clean_logits.shape[-1]
            last = self.targets + 1 if num_classes is None else min(
                self.targets + 1, num_classes)
            ranks = list(range(2, last + 1))
        fooled = tf.zeros_like(y, dtype=tf.bool)
        for restart in range(self.restarts):
            keys = None
            if noise_keys is not None:
                # A different start for each restart, still keyed per sample.
                keys = tf.cast(noise_keys, tf.int64) + tf.constant(
                    [0, 1_000_003 * restart], tf.int64)
            for rank in ranks:
                targets = None if rank is None else target_classes(
                    clean_logits, rank)
                result = apgd(model, x, y, eps, self.steps, self.loss,
                              targets, self.rho, self.alpha,
                              bn_mode=self.bn_mode,
                              seed=None if seed is None else seed + restart,
                              noise_keys=keys, eot=self.eot)
                fooled = tf.logical_or(fooled, result.success)
        return fooled


@ATTACKS.register("apgd_ce")
def _apgd_ce(eps, budgets):
    return APGDConfig(eps=eps, steps=budgets.apgd_steps, loss="ce")


@ATTACKS.register("apgd_dlr")
def _apgd_dlr(eps, budgets):
    return APGDConfig(eps=eps, steps=budgets.apgd_steps, loss="dlr")


@ATTACKS.register("apgd_t")
def _apgd_t(eps, budgets):
    """APGD on the targeted DLR loss over the top `targets` classes."""
    return APGDConfig(eps=eps, steps=budgets.apgd_steps,
                      loss="dlr_targeted", targets=budgets.apgd_targets)
