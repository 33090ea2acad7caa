"""FAB-T (Croce & Hein, ICML 2020): the targeted fast adaptive boundary
attack, Linf and L2, batched and tf.function-safe.

FAB looks for the smallest perturbation that moves x across the boundary
between its class y and a target class t. At the iterate x_k it linearises
g(z) = z_t - z_y: the boundary becomes the hyperplane {z : w.z = b} with
w = grad g(x_k) and b = w.x_k - g(x_k). Both x_k and the original x are
projected onto that hyperplane within the box [0, 1] (the smallest Linf or
L2 step, `boundary_step`), giving steps d_k and d_0, and

    x_{k+1} = clip((1 - a) (x_k + eta d_k) + a (x + eta d_0), 0, 1),
    a = min(|d_k| / (|d_k| + |d_0|), alpha_max),

so the iterate is pulled toward x in proportion to how far it already is
(eta = 1.05 overshoots the linearised boundary, alpha_max = 0.1). When
x_{k+1} is misclassified it is remembered if it is the closest such point
so far, and the iterate steps back toward x: x_{k+1} = x + beta (x_{k+1} - x),
beta = 0.9. A sample counts as fooled when the closest misclassified point
found is within eps of x.

FAB-T runs once per target class, the classes ranked 2..targets+1 by the
clean logits, each time only on the samples no earlier target fooled, and
starts at x (AutoAttack's standard version runs FAB-T with one restart,
which starts at x). A sample decided (fooled within eps) stops iterating:
later iterations could only move it closer, which does not change the
verdict; the loop ends early when every sample is decided.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from advmask_tf.attacks.apgd import target_classes
from advmask_tf.attacks.losses import float32
from advmask_tf.attacks.pgd import (
    _check_radius,
    _per_sample,
    attack_labels,
    float_images,
    make_forward,
)
from advmask_tf.attacks.registry import ATTACKS
from advmask_tf.errors import InputError

FAB_NORMS = ("linf", "l2")
# Unreachable distances and breakpoints (a coordinate that cannot move).
_FAR = 1e30


def _check_norm(norm) -> None:
    if norm not in FAB_NORMS:
        raise InputError(f"norm must be one of {FAB_NORMS}; received "
                         f"{norm!r}.")


def boundary_step(points, w, b, norm: str):
    """The smallest step d (Linf or L2) with w.(points + d) = b and
    points + d in [0, 1]; where the box cannot reach the hyperplane, the
    step that comes closest (every coordinate at its bound).

    Each row is one problem: points, w (B, D) and b (B,). The step is
    d_i = s_i min(r k_i, room_i): s_i the sign that moves w.d toward b,
    room_i how far coordinate i may move that way, k_i = 1 (Linf) or |w_i|
    (L2); w.d grows piecewise linearly in r, so the smallest r that reaches
    b is found exactly from the sorted breakpoints room_i / k_i.

    >>> d = boundary_step(tf.constant([[0.5, 0.5]]), tf.constant([[1.0, 1.0]]),
    ...                   tf.constant([1.4]), "linf")
    >>> [round(float(v), 4) for v in d.numpy()[0]]
    [0.2, 0.2]
    >>> d = boundary_step(tf.constant([[0.5, 0.5]]), tf.constant([[3.0, 4.0]]),
    ...                   tf.constant([4.5]), "l2")
    >>> [round(float(v), 4) for v in d.numpy()[0]]
    [0.12, 0.16]
    """
    _check_norm(norm)
    need = b - tf.reduce_sum(w * points, axis=-1)
    direction = tf.sign(w * need[:, None])
    room = tf.where(direction > 0, 1.0 - points, points)
    weight = tf.abs(w)
    rate = tf.ones_like(w) if norm == "linf" else weight
    movable = weight * rate > 0
    breakpoint_ = tf.where(movable, room / tf.where(movable, rate, 1.0), _FAR)
    order = tf.argsort(breakpoint_, axis=-1)
    sorted_breaks = tf.gather(breakpoint_, order, batch_dims=1)
    saturated_gain = tf.gather(weight * room, order, batch_dims=1)
    slope = tf.gather(weight * rate, order, batch_dims=1)
    # Gain from coordinates saturated before breakpoint j, and the slope of
    # the coordinates still moving from j on.
    before = tf.math.cumsum(saturated_gain, axis=-1, exclusive=True)
    after = tf.math.cumsum(slope, axis=-1, reverse=True)
    gain_at_break = before + sorted_breaks * after
    target = tf.abs(need)
    first = tf.reduce_sum(tf.cast(gain_at_break < target[:, None], tf.int32),
                          axis=-1)
    reachable = first < tf.shape(w)[-1]
    at = tf.minimum(first, tf.shape(w)[-1] - 1)[:, None]
    radius = tf.math.divide_no_nan(
        target - tf.gather(before, at, batch_dims=1)[:, 0],
        tf.gather(after, at, batch_dims=1)[:, 0])
    radius = tf.where(reachable, radius, _FAR)
    return direction * tf.minimum(radius[:, None] * rate, room)


def _norm(d, norm):
    flat = tf.reshape(d, [tf.shape(d)[0], -1])
    if norm == "linf":
        return tf.reduce_max(tf.abs(flat), axis=-1)
    return tf.sqrt(tf.reduce_sum(tf.square(flat), axis=-1))


def fab_targeted(model, x, y, targets, norm: str = "linf", steps: int = 100,
                 eps=None, alpha_max: float = 0.1, eta: float = 1.05,
                 beta: float = 0.9, bn_mode: str = "inference"):
    """One FAB run toward `targets` on a batch; finds small adversarials.

    Args:
        model: `model(x, training=...) -> logits`.
        x, y, targets: images (B, H, W, C) in [0, 1], labels and target
            classes (B,).
        norm: "linf" or "l2", the distance minimised.
        steps: iterations (one gradient and one prediction each).
        eps: optional radius (scalar or per sample); a sample stops once a
            misclassified point within eps is found.

    Returns:
        (x_adv, distance): the closest misclassified point found per sample
        (x itself where none was) and its distance to x (inf where none;
        0 for samples misclassified at x).

    Example:

    >>> import keras
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(
    ...     3, kernel_initializer="ones",
    ...     bias_initializer=keras.initializers.Constant([0.2, 0.0, -1.0]))])
    >>> x = tf.constant([[0.3, 0.3]])
    >>> _, distance = fab_targeted(net, x, tf.constant([0]), tf.constant([1]))
    >>> float(distance[0])  # the bias gap 0.2 can never be closed
    inf
    """
    _check_fab(norm, steps, 1, alpha_max, eta, beta)
    forward = make_forward(model, bn_mode)
    x = float_images(x, "fab")
    y = attack_labels(model, forward, x, y, "fab")
    targets = tf.cast(targets, tf.int32)
    batch = tf.shape(x)[0]
    flat = lambda t: tf.reshape(t, [batch, -1])  # noqa: E731
    pick = tf.stack([tf.range(batch), y], 1)
    pick_target = tf.stack([tf.range(batch), targets], 1)
    radius = (tf.fill([batch], np.inf) if eps is None
              else tf.reshape(_per_sample(eps, x), [-1])
              * tf.ones([batch], x.dtype))

    def gap_and_gradient(point):
        with tf.GradientTape() as tape:
            tape.watch(point)
            logits = float32(forward(point))
            gap = (tf.gather_nd(logits, pick_target)
                   - tf.gather_nd(logits, pick))
        return gap, tape.gradient(gap, point)

    def misclassified(point):
        return tf.not_equal(tf.argmax(forward(point), -1,
                                      output_type=tf.int32), y)

    at_start = misclassified(x)
    best = tf.where(at_start, 0.0, np.inf)

    def body(i, current, x_best, best):
        gap, grad = gap_and_gradient(current)
        w = flat(grad)
        b = tf.reduce_sum(w * flat(current), -1) - gap
        steps_ = boundary_step(tf.concat([flat(current), flat(x)], 0),
                               tf.concat([w, w], 0), tf.concat([b, b], 0),
                               norm)
        from_current = tf.reshape(steps_[:batch], tf.shape(x))
        from_start = tf.reshape(steps_[batch:], tf.shape(x))
        size_current = tf.maximum(_norm(from_current, norm), 1e-8)
        size_start = tf.maximum(_norm(from_start, norm), 1e-8)
        alpha = tf.minimum(size_current / (size_current + size_start),
                           alpha_max)
        alpha = tf.reshape(alpha, [-1] + [1] * (x.shape.rank - 1))
        moved = tf.clip_by_value(
            (current + eta * from_current) * (1.0 - alpha)
            + (x + eta * from_start) * alpha, 0.0, 1.0)
        adversarial = misclassified(moved)
        distance = _norm(moved - x, norm)
        closer = adversarial & (distance < best)
        per_sample = [-1] + [1] * (x.shape.rank - 1)
        x_best = tf.where(tf.reshape(closer, per_sample), moved, x_best)
        best = tf.where(closer, distance, best)
        moved = tf.where(tf.reshape(adversarial, per_sample),
                         x + beta * (moved - x), moved)
        # Decided samples keep their iterate (see the module docstring).
        done = tf.reshape(decided(best, radius), per_sample)
        return i + 1, tf.where(done, current, moved), x_best, best

    def more(i, current, x_best, best):
        return tf.logical_and(
            i < steps, tf.reduce_any(~decided(best, radius)))

    _, _, x_best, best = tf.while_loop(
        more, body, (tf.constant(0), x, x, best), parallel_iterations=1)
    return x_best, best


def decided(distance, radius):
    """A misclassified point was found within the radius (an infinite
    radius decides nothing: the search for the smallest goes on)."""
    return (distance <= radius) & tf.math.is_finite(radius)


def _check_fab(norm, steps, targets, alpha_max, eta, beta):
    _check_norm(norm)
    for name, value in (("steps", steps), ("targets", targets)):
        if not isinstance(value, (int, np.integer)) or isinstance(
                value, bool) or value < 1:
            raise InputError(f"{name} must be an integer >= 1; received "
                             f"{value!r}.")
    if not 0.0 <= alpha_max <= 1.0:
        raise InputError(f"alpha_max must be in [0, 1]; received "
                         f"{alpha_max!r}.")
    if eta < 1.0:
        raise InputError(f"eta must be >= 1 (an overshoot); received {eta!r}.")
    if not 0.0 < beta < 1.0:
        raise InputError(f"beta must be in (0, 1); received {beta!r}.")


@dataclasses.dataclass
class FABConfig:
    """FAB-T settings (AutoAttack's standard budgets by default); `fooled`
    runs one FAB per target class on a batch.

    >>> import keras
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> FABConfig(eps=0.1, steps=3, targets=2).fooled(
    ...     net, tf.fill((3, 2), 0.5), tf.zeros(3, tf.int32)).shape
    TensorShape([3])
    """

    eps: float
    norm: str = "linf"
    steps: int = 100
    targets: int = 9
    alpha_max: float = 0.1
    eta: float = 1.05
    beta: float = 0.9
    bn_mode: str = "inference"
    uses_gradients = True

    def __post_init__(self):
        _check_radius("eps", self.eps, norm=self.norm)
        _check_fab(self.norm, self.steps, self.targets, self.alpha_max,
                   self.eta, self.beta)

    def distances(self, model, x, y, eps=None):
        """The smallest adversarial distance FAB-T found per sample, over
        the target classes (inf where none; a run stops early at eps)."""
        x = float_images(x, "fab")
        y = tf.cast(y, tf.int32)
        clean_logits = make_forward(model, self.bn_mode)(x)
        num_classes = clean_logits.shape[-1]
        last = self.targets + 1 if num_classes is None else min(
            self.targets + 1, num_classes)
        eps = self.eps if eps is None else eps
        radius = tf.reshape(_per_sample(eps, x), [-1]) * tf.ones_like(
            y, x.dtype)
        best = tf.fill(tf.shape(y), tf.constant(np.inf, x.dtype))
        for rank in range(2, last + 1):
            # Only the samples no earlier target fooled within eps.
            open_ = tf.where(~decided(best, radius))[:, 0]

            def attack(open_=open_, rank=rank, best=best):
                _, found = fab_targeted(
                    model, tf.gather(x, open_), tf.gather(y, open_),
                    tf.gather(target_classes(clean_logits, rank), open_),
                    self.norm, self.steps, tf.gather(radius, open_),
                    self.alpha_max, self.eta, self.beta, self.bn_mode)
                return tf.tensor_scatter_nd_min(best, open_[:, None], found)

            # Some layers refuse an empty batch: skip a target none needs.
            best = tf.cond(tf.size(open_) > 0, attack,
                           lambda best=best: best)
        return best

    def fooled(self, model, x, y, eps=None, noise_keys=None, seed=None):
        """Bool per sample: a misclassified point within eps was found
        (FAB-T starts at x: it draws no random numbers)."""
        del noise_keys, seed
        eps = self.eps if eps is None else eps
        radius = tf.reshape(_per_sample(eps, tf.convert_to_tensor(x)), [-1])
        return self.distances(model, x, y, eps) <= radius


@ATTACKS.register("fab_t")
def _fab_t(eps, budgets):
    """FAB-T, Linf, over the top `targets` classes."""
    return FABConfig(eps=eps, steps=budgets.fab_steps,
                     targets=budgets.apgd_targets)


@ATTACKS.register("fab_t_l2")
def _fab_t_l2(eps, budgets):
    """FAB-T minimising the L2 distance: eval.eps is then an L2 radius."""
    return FABConfig(eps=eps, norm="l2", steps=budgets.fab_steps,
                     targets=budgets.apgd_targets)
