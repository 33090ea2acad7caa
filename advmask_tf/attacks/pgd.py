"""FGSM and PGD in pixel space, batched, with per-sample eps and step size.

`pgd` is the single implementation; `fgsm` is its one-step special case.
Both run eagerly, inside `tf.function` and inside a replica function of a
distribution strategy (no cross-replica ops unless the model has them).
"""

from __future__ import annotations

import dataclasses
import numbers

import keras
import numpy as np
import tensorflow as tf

from advmask_tf.attacks.losses import ATTACK_LOSSES, attack_loss, float32
from advmask_tf.attacks.registry import ATTACKS
from advmask_tf.data.validation import check_pixels
from advmask_tf.errors import InputError

NORMS = ("linf", "l2")
BN_MODES = ("inference", "batch")
STARTS = ("none", "uniform", "normal")


@dataclasses.dataclass
class AttackResult:
    """What an attack returns.

    Attributes:
        x_adv: adversarial images, same shape as the input.
        success: bool per sample, the final iterate is misclassified (None
            when the attack was asked not to compute it).
        kappa: int32 per sample, the number of iterates 0..K-1 (iterate 0 is
            the random start) at which the model still predicted the label,
            GAIRAT's geometry value.
        eps: float32 per sample, the radius each sample was attacked at (what
            a conditioned network is told about x_adv).
    """

    x_adv: tf.Tensor
    success: tf.Tensor | None
    kappa: tf.Tensor
    eps: tf.Tensor | None = None

    def survived(self, steps: int):
        """True where no iterate (nor the final point) was misclassified.

        Every iterate lies in the eps-ball, so this is stronger than checking
        the final point alone. Needs `success` (compute_success=True).
        """
        return tf.logical_and(tf.equal(self.kappa, steps),
                              tf.logical_not(self.success))


def robust_mask(result: AttackResult, attack) -> tf.Tensor:
    """1.0 where every PGD iterate of `attack` and the final point are
    classified right (`AttackResult.survived` as a float mask)."""
    return tf.cast(result.survived(attack.steps), tf.float32)


def _check_radius(name, value, batch: int | None = None,
                  norm: str | None = None):
    """Validates python, numpy and eager-tensor radii now (against the
    batch size when known; under "linf", at most 1, the pixel range);
    graph tensors are checked by a TF assert."""
    if isinstance(value, tf.Tensor) and tf.executing_eagerly():
        value = value.numpy()
    if isinstance(value, (str, bytes)):
        raise InputError(f"{name} must be a number (pixels are in [0, 1]); "
                         f"received the text {value!r}.")
    if isinstance(value, (numbers.Number, np.ndarray, list, tuple)):
        array = np.asarray(value, dtype=np.float64)
        if array.ndim > 1:
            raise InputError(
                f"{name} must be a scalar or one value per sample; received "
                f"shape {array.shape}.")
        if np.any(~np.isfinite(array) | (array < 0)):
            raise InputError(
                f"{name} must be finite and >= 0; received {value!r}.")
        if norm == "linf" and np.any(array > 1):
            raise InputError(
                f"{name} must be at most 1 under the Linf norm (pixels are "
                f"in [0, 1]; 8/255 is written 8 / 255); received {value!r}.")
        if array.ndim == 1 and batch is not None and len(array) != batch:
            raise InputError(
                f"{name} has {len(array)} values for a batch of {batch} "
                "images; give a scalar or one value per image.")


def _class_count(model, forward, x) -> int | None:
    """The number of classes a Keras classifier outputs (from its output
    shape, or one probe image); None for other callables."""
    if not isinstance(model, keras.Model):
        return None
    try:
        return int(model.output_shape[-1])
    except (AttributeError, ValueError, TypeError):
        return int(forward(x[:1]).shape[-1])


def attack_labels(model, forward, x, y, attack: str):
    """`y` as int32 labels; called eagerly on a Keras classifier, anything
    but one class per image in [0, classes) is refused, naming it."""
    y = tf.convert_to_tensor(y)
    if tf.executing_eagerly():
        labels = y.numpy()
        if labels.ndim != 1 or len(labels) != x.shape[0]:
            raise InputError(
                f"{attack} takes one integer class per image, shape "
                f"({x.shape[0]},); received labels of shape {labels.shape}.")
        classes = _class_count(model, forward, x)
        if classes is None:
            return tf.cast(y, tf.int32)
        outside = labels[(labels < 0) | (labels >= classes)]
        if outside.size:
            raise InputError(
                f"{attack} received label {outside[0].item()!r}; the "
                f"network has {classes} classes, so labels are in [0, {classes}).")
    return tf.cast(y, tf.int32)


def float_images(x, attack: str):
    """`x` as a float tensor; integer images, and called eagerly, pixels
    outside [0, 1] are refused, since every radius is in that scale (a
    compiled caller checks its batches first, as `evaluate` does)."""
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise InputError(
            f"{attack} takes float images with pixels in [0, 1]; received "
            f"dtype {x.dtype.name} (divide 0..255 images by 255).")
    if tf.executing_eagerly():
        check_pixels(x, attack)
    return x


def _check_settings(steps, norm, loss, random_start, bn_mode):
    """Raises ValueError naming any invalid attack setting."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) \
            or steps < 1:
        raise InputError(f"steps must be an integer >= 1; received {steps!r}.")
    if norm not in NORMS:
        raise InputError(f"Unknown norm {norm!r}; expected one of {NORMS}.")
    if loss not in ATTACK_LOSSES:
        raise InputError(
            f"Unknown attack loss {loss!r}; expected one of {ATTACK_LOSSES}.")
    if random_start not in STARTS + (True, False):
        raise InputError(
            f"Unknown random_start {random_start!r}; expected one of {STARTS} "
            "or a bool.")
    if bn_mode not in BN_MODES:
        raise InputError(f"Unknown bn_mode {bn_mode!r}; expected {BN_MODES}.")


def _per_sample(value, x):
    """Broadcastable view of a scalar or per-sample value against images x."""
    value = tf.cast(tf.convert_to_tensor(value), x.dtype)
    if value.shape.rank == 0:
        return value
    tf.debugging.assert_non_negative(value, message="eps/step must be >= 0")
    return tf.reshape(value, [-1] + [1] * (x.shape.rank - 1))


def _l2_norm(v):
    axes = list(range(1, v.shape.rank))
    return tf.sqrt(tf.reduce_sum(tf.square(v), axis=axes, keepdims=True))


def _noise(kind, x, keys, seed):
    """Standard normal or U(-1, 1) noise shaped like x.

    With `keys` (int64, (B, 2)), sample i's noise is a stateless function of
    keys[i]: the same whatever the batch split or device count.
    """
    if keys is None:
        if kind == "normal":
            return tf.random.normal(tf.shape(x), seed=seed, dtype=x.dtype)
        return tf.random.uniform(tf.shape(x), -1.0, 1.0, seed=seed,
                                 dtype=x.dtype)
    shape = tf.shape(x)[1:]

    def one(key):
        if kind == "normal":
            return tf.random.stateless_normal(shape, key, dtype=x.dtype)
        return tf.random.stateless_uniform(shape, key, -1.0, 1.0,
                                           dtype=x.dtype)

    return tf.map_fn(one, tf.cast(keys, tf.int64),
                     fn_output_signature=x.dtype)


def _random_start(x, eps, norm, start, start_scale, seed, keys=None):
    if start == "none":
        return x
    if start == "normal":
        return tf.clip_by_value(
            x + start_scale * _noise("normal", x, keys, seed), 0.0, 1.0)
    if norm == "linf":
        noise = _noise("uniform", x, keys, seed) * eps
    else:
        direction = _noise("normal", x, keys, seed)
        direction /= _l2_norm(direction) + 1e-12
        # Radius fraction from the noise itself keeps it keyed per sample.
        one_per_sample = tf.reshape(x, [tf.shape(x)[0], -1])[:, :1]
        radius = tf.abs(tf.reshape(
            _noise("uniform", one_per_sample, keys, seed),
            [-1] + [1] * (x.shape.rank - 1)))
        noise = direction * radius * eps
    return tf.clip_by_value(x + noise, 0.0, 1.0)


def project(x_adv, x, eps, norm, to_ball: bool = True):
    """Projects x_adv onto the eps-ball around x (unless not `to_ball`)
    and onto [0, 1]."""
    if not to_ball:
        pass
    elif norm == "linf":
        x_adv = tf.clip_by_value(x_adv, x - eps, x + eps)
    else:
        delta = x_adv - x
        delta *= tf.minimum(1.0, eps / (_l2_norm(delta) + 1e-12))
        x_adv = x + delta
    return tf.clip_by_value(x_adv, 0.0, 1.0)


def make_forward(model, bn_mode="inference"):
    """Returns f(x) -> float32 logits for the attack.

    `inference` runs batch norm on its moving statistics; `batch` uses the
    statistics of the attacked batch without touching the moving statistics
    (the updates are captured by a `keras.StatelessScope` and dropped).
    """
    if bn_mode not in BN_MODES:
        raise InputError(f"Unknown bn_mode {bn_mode!r}; expected {BN_MODES}.")
    if bn_mode == "inference":
        return lambda x: float32(model(x, training=False))

    def batch_statistics_forward(x):
        with keras.StatelessScope():
            return float32(model(x, training=True))

    return batch_statistics_forward


def pgd(model, x, y, eps, step_size, steps: int, norm: str = "linf",
        loss: str = "ce", random_start="uniform", start_scale: float = 1e-3,
        bn_mode: str = "inference", reference_logits=None,
        compute_success: bool = True, seed=None,
        noise_keys=None, start_radius: float = 1.0,
        project_to_ball: bool = True) -> AttackResult:
    """Projected gradient ascent on `loss` within an eps-ball, in [0, 1].

    Args:
        model: a callable `model(x, training=...) -> logits` (any Keras model).
        x: images in [0, 1], shape (B, H, W, C).
        y: integer labels, shape (B,).
        eps: radius, a scalar or one per sample (B,). eps = 0 leaves x as is.
        step_size: step, a scalar or one per sample.
        steps: number of gradient steps K >= 1.
        norm: "linf" (signed gradient steps) or "l2" (normalised steps).
        loss: "ce", "cw" (margin) or "kl" (TRADES; needs reference_logits, or
            uses the model's inference-mode logits on x).
        random_start: "uniform" in the ball, "normal" (x + start_scale*N(0,1),
            as TRADES), "none"; True/False mean "uniform"/"none".
        bn_mode: "inference" or "batch" (see `make_forward`).
        compute_success: also run the model on the final iterate to report
            per-sample success (one extra forward pass).
        seed: op seed of the random start when `noise_keys` is None.
        noise_keys: optional int64 (B, 2); sample i's random start is then a
            stateless function of noise_keys[i] (see `noise_keys_for`).
        start_radius: the uniform start is drawn from the ball of
            start_radius * eps (N-FGSM: 2).
        project_to_ball: project each iterate back onto the eps-ball
            (N-FGSM does not: the result is only clipped to [0, 1], so it
            may lie up to (start_radius * eps + steps * step) from x).

    Returns:
        An `AttackResult`.

    Example:

    >>> import keras
    >>> net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(3)])
    >>> x = tf.random.uniform((8, 4, 4, 1)); y = tf.zeros(8, tf.int32)
    >>> result = pgd(net, x, y, eps=0.1, step_size=0.025, steps=10)
    >>> bool(tf.reduce_max(tf.abs(result.x_adv - x)) <= 0.1 + 1e-6)
    True
    """
    _check_settings(steps, norm, loss, random_start, bn_mode)
    if random_start is True:
        random_start = "uniform"
    elif random_start is False:
        random_start = "none"
    x = float_images(x, "pgd")
    _check_radius("eps", eps, x.shape[0], norm)
    _check_radius("step_size", step_size, x.shape[0])

    forward = make_forward(model, bn_mode)
    y = attack_labels(model, forward, x, y, "pgd")
    eps_b = _per_sample(eps, x)
    step_b = _per_sample(step_size, x)
    if loss == "kl" and reference_logits is None:
        reference_logits = tf.stop_gradient(model(x, training=False))

    if start_radius <= 0:
        raise InputError(f"start_radius must be > 0; received {start_radius}.")
    x_start = project(_random_start(x, start_radius * eps_b, norm,
                                    random_start, start_scale, seed,
                                    noise_keys), x, eps_b, norm,
                      project_to_ball)

    def body(i, x_adv, kappa):
        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            logits = forward(x_adv)
            objective = tf.reduce_sum(
                attack_loss(loss, logits, y, reference_logits))
        grad = tape.gradient(objective, x_adv)
        still_correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y)
        kappa += tf.cast(still_correct, tf.int32)
        if norm == "linf":
            x_adv = x_adv + step_b * tf.sign(grad)
        else:
            x_adv = x_adv + step_b * grad / (_l2_norm(grad) + 1e-12)
        return i + 1, project(x_adv, x, eps_b, norm, project_to_ball), kappa

    _, x_adv, kappa = tf.while_loop(
        lambda i, *_: i < steps, body,
        (tf.constant(0), x_start, tf.zeros_like(y)),
        parallel_iterations=1)
    x_adv = tf.stop_gradient(x_adv)
    success = None
    if compute_success:
        final = forward(x_adv)
        success = tf.not_equal(tf.argmax(final, -1, output_type=tf.int32), y)
    eps_per_sample = tf.reshape(eps_b, [-1]) * tf.ones_like(y, x.dtype)
    return AttackResult(x_adv=x_adv, success=success, kappa=kappa,
                        eps=eps_per_sample)


def noise_keys_for(index, salt):
    """Per-sample stateless-RNG keys from example indices and a salt.

    The salt separates uses of the same example (training step, evaluation
    round), so a random start is reproducible across device layouts.

    >>> noise_keys_for(tf.constant([3, 4], tf.int64), 7).numpy().tolist()
    [[3, 7], [4, 7]]
    """
    index = tf.cast(tf.reshape(index, [-1]), tf.int64)
    salt = tf.cast(salt, tf.int64) * tf.ones_like(index)
    return tf.stack([index, salt], axis=1)


def fgsm(model, x, y, eps, norm: str = "linf", loss: str = "ce",
         bn_mode: str = "inference", compute_success: bool = True
         ) -> AttackResult:
    """Fast gradient (sign) method: one full-size step from x.

    >>> import keras
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> result = fgsm(net, tf.fill((3, 2), 0.5), tf.zeros(3, tf.int32), 0.1)
    >>> result.x_adv.shape
    TensorShape([3, 2])
    """
    return pgd(model, x, y, eps, eps, 1, norm, loss, random_start="none",
               bn_mode=bn_mode, compute_success=compute_success)


@dataclasses.dataclass
class PGDConfig:
    """A PGD attack's settings, validated once; `run` applies it.

    `step_size=None` means eps/4 (the common 2.5*eps/K for K=10).

    >>> attack = PGDConfig(eps=0.1, steps=20)
    >>> attack.run(lambda x, training: x, tf.zeros((2, 3)),
    ...            tf.constant([0, 1])).x_adv.shape
    TensorShape([2, 3])
    """

    uses_gradients = True
    eps: float
    steps: int = 10
    step_size: float | None = None
    norm: str = "linf"
    loss: str = "ce"
    random_start: str = "uniform"
    bn_mode: str = "inference"
    start_radius: float = 1.0
    project: bool = True
    uses_gradients = True

    def __post_init__(self):
        _check_radius("eps", self.eps, norm=self.norm)
        if self.step_size is not None:
            _check_radius("step_size", self.step_size)
        _check_settings(self.steps, self.norm, self.loss, self.random_start,
                        self.bn_mode)
        if not (isinstance(self.start_radius, (int, float))
                and self.start_radius > 0):
            raise InputError(f"start_radius must be a number > 0; received "
                             f"{self.start_radius!r}.")
        if self.start_radius != 1 and self.random_start not in (
                "uniform", True):
            raise InputError(
                f"start_radius={self.start_radius} sets the ball of a "
                f"uniform random start; random_start is "
                f"{self.random_start!r}.")
        if not isinstance(self.project, bool):
            raise InputError(f"project must be True or False; received "
                             f"{self.project!r}.")

    def run(self, model, x, y, eps=None, step_size=None, **kwargs):
        """Attacks (x, y); eps/step_size override the configured ones."""
        eps = self.eps if eps is None else eps
        if step_size is None:
            step_size = self.step_size if self.step_size is not None \
                else eps / 4.0
        return pgd(model, x, y, eps, step_size, self.steps, self.norm,
                   self.loss, self.random_start, bn_mode=self.bn_mode,
                   start_radius=self.start_radius,
                   project_to_ball=self.project, **kwargs)

    def start(self, x, noise_keys=None, seed=None):
        """The attack's starting point around x (its random start in the
        ball of start_radius * eps, within [0, 1])."""
        x = float_images(x, "pgd")
        random_start = {True: "uniform", False: "none"}.get(
            self.random_start, self.random_start)
        return project(_random_start(x, self.start_radius * self.eps,
                                     self.norm, random_start, 1e-3, seed,
                                     noise_keys),
                       x, self.eps, self.norm, self.project)

    def ascend(self, x_adv, x, gradient):
        """One step from x_adv along `gradient` (its sign for linf, its
        direction for l2), projected as the attack projects. Non-finite
        gradient entries (an overflowing mixed-precision loss) count as 0.
        """
        gradient = tf.where(tf.math.is_finite(gradient), gradient, 0.0)
        step = self.step_size if self.step_size is not None else self.eps / 4
        if self.norm == "linf":
            x_adv = x_adv + step * tf.sign(gradient)
        else:
            x_adv = x_adv + step * gradient / (_l2_norm(gradient) + 1e-12)
        return project(x_adv, x, self.eps, self.norm, self.project)

    def fooled(self, model, x, y, eps=None, noise_keys=None, seed=None):
        """Bool per sample: some iterate (or the final point) is
        misclassified. The interface every attack config shares."""
        result = self.run(model, x, y, eps=eps, noise_keys=noise_keys,
                          seed=seed, compute_success=True)
        return tf.logical_not(result.survived(self.steps))


@ATTACKS.register("pgd")
def _pgd_on_ce(eps, budgets):
    """PGD on the CE, step eps/4, uniform start (reported as pgd<steps>)."""
    return PGDConfig(eps=eps, steps=budgets.pgd_steps, loss="ce")


@ATTACKS.register("cw_inf")
def _pgd_on_margin(eps, budgets):
    """CW-inf: PGD on the Carlini-Wagner margin."""
    return PGDConfig(eps=eps, steps=budgets.cw_steps, loss="cw")
