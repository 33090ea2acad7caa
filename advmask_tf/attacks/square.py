"""The Square attack (Andriushchenko et al. 2020), Linf: score-based, no
gradients.

Random search over the vertices of the eps-ball. Start from vertical
stripes (each column of each channel at +eps or -eps); at query i change one
square window per sample, of side s = round(sqrt(p_i * H * W)), to a random
vertex (one random sign per channel), and keep the change when it lowers the
margin z_y - max_{j != y} z_j. A sample stops being queried once its margin
is negative.

The fraction p_i starts at `p_init` and halves after iterations 10, 50, 200,
500, 1000, 2000, 4000, 6000 and 8000. `schedule="official"` (the default)
counts those in iterations, as AutoAttack's standard version runs Square (a
5,000-query budget never reaches the last two halvings); "rescaled" reads
them as ten-thousandths of the query budget, so any budget sees all nine.

Every draw of a sample is keyed by its noise key (example index and salt;
the position in the batch when no keys are given), so a point's result does
not depend on the batch it is attacked in. For batching, all samples share
the window side of an iteration (it depends only on the iteration), and a
window that happens to equal the current one is not re-drawn (that query is
spent without changing the point).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from advmask_tf.attacks.keyed_random import keyed_uniform
from advmask_tf.attacks.losses import cw_margin
from advmask_tf.attacks.pgd import (
    _check_radius,
    _per_sample,
    attack_labels,
    float_images,
    make_forward,
)
from advmask_tf.attacks.registry import ATTACKS
from advmask_tf.errors import InputError

# Iterations (or, rescaled, ten-thousandths of the budget) after which p
# halves: the published schedule.
_HALVING_POINTS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
SCHEDULES = ("official", "rescaled")


def square_fraction(p_init: float, iteration, queries: int,
                    schedule: str = "official"):
    """The fraction of pixels changed at `iteration` (0 is the first query
    after the stripes) of a budget of `queries`; `iteration` may be a
    tensor (as inside the attack's loop).

    >>> [round(float(square_fraction(0.8, i, 5000)), 7)
    ...  for i in (5, 30, 4500)]
    [0.8, 0.4, 0.00625]
    >>> [round(float(square_fraction(0.8, i, 5000, "rescaled")), 7)
    ...  for i in (5, 30, 4500)]
    [0.8, 0.2, 0.0015625]
    """
    progress = (iteration if schedule == "official"
                else (iteration * 10000) // queries)
    halvings = tf.reduce_sum(tf.cast(
        progress > tf.constant(_HALVING_POINTS), tf.float32))
    return p_init / tf.pow(2.0, halvings)


def square(model, x, y, eps, queries: int = 5000, p_init: float = 0.8,
           seed: int = 0, bn_mode: str = "inference",
           schedule: str = "official", noise_keys=None):
    """Runs the Square attack on a batch; never computes a gradient.

    Args:
        model: `model(x, training=...) -> logits`.
        x, y: images (B, H, W, C) in [0, 1] and integer labels (B,).
        eps: a scalar or one Linf radius per sample.
        queries: model evaluations per sample at most (the first one is the
            stripes start).
        p_init: the initial fraction of pixels changed per query.
        seed: a sample's draws are a function of (its key, seed, query).
        schedule: "official" or "rescaled" (see the module docstring).
        noise_keys: int64 (B, 2) per-sample keys (`noise_keys_for`); by
            default the position in the batch.

    Returns:
        (x_adv, fooled, used): the best point per sample, whether its margin
        went negative, and the queries each sample used.

    Example:

    >>> import keras
    >>> net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(3)])
    >>> x = tf.random.uniform((2, 4, 4, 1))
    >>> x_adv, fooled, used = square(net, x, tf.zeros(2, tf.int32), 0.1, 20)
    >>> bool(tf.reduce_max(tf.abs(x_adv - x)) <= 0.1 + 1e-6)
    True
    """
    _check_square(queries, p_init, schedule)
    _check_radius("eps", eps, tf.convert_to_tensor(x).shape[0], "linf")
    forward = make_forward(model, bn_mode)
    x = float_images(x, "square")
    if x.shape.rank != 4:
        raise InputError(f"square() needs images (B, H, W, C); received shape "
                         f"{x.shape}.")
    y = attack_labels(model, forward, x, y, "square")
    eps_b = _per_sample(eps, x)
    batch = tf.shape(x)[0]
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    low = tf.maximum(x - eps_b, 0.0)
    high = tf.minimum(x + eps_b, 1.0)

    def margin(point):
        return -cw_margin(forward(point), y)

    if noise_keys is None:
        noise_keys = tf.stack([tf.range(batch, dtype=tf.int64),
                               tf.zeros([batch], tf.int64)], 1)

    def draws(query, size):
        stream = tf.cast(seed, tf.int64) * 1_000_003 + tf.cast(query,
                                                                 tf.int64)
        return keyed_uniform(noise_keys, stream, size)

    def signs(draw):
        return tf.where(draw < 0.5, -1.0, 1.0)

    stripes = tf.reshape(signs(draws(0, width * channels)),
                         tf.stack([batch, 1, width, channels]))
    x_best = tf.clip_by_value(x + eps_b * stripes, low, high)
    margin_best = margin(x_best)
    used = tf.ones_like(y)
    rows = tf.reshape(tf.range(height), [1, height, 1, 1])
    cols = tf.reshape(tf.range(width), [1, 1, width, 1])
    min_side = min(height, width)

    def body(i, x_best, margin_best, used):
        active = margin_best > 0
        fraction = square_fraction(p_init, i - 1, queries, schedule)
        side = tf.cast(tf.round(tf.sqrt(
            fraction * float(height * width))), tf.int32)
        side = tf.clip_by_value(side, 1, max(min_side - 1, 1))
        draw = draws(i, 2 + channels)

        def position(u, extent):
            places = extent - side + 1
            return tf.reshape(tf.minimum(tf.cast(
                u * tf.cast(places, tf.float32), tf.int32), places - 1),
                [-1, 1, 1, 1])

        top, left = position(draw[:, 0], height), position(draw[:, 1], width)
        window = ((rows >= top) & (rows < top + side)
                  & (cols >= left) & (cols < left + side))
        vertex = x + eps_b * tf.reshape(signs(draw[:, 2:]),
                                        tf.stack([batch, 1, 1, channels]))
        candidate = tf.clip_by_value(tf.where(window, vertex, x_best), low,
                                     high)
        margin_new = margin(candidate)
        improved = tf.logical_and(active, margin_new < margin_best)
        x_best = tf.where(tf.reshape(improved, [-1, 1, 1, 1]), candidate,
                          x_best)
        margin_best = tf.where(improved, margin_new, margin_best)
        return i + 1, x_best, margin_best, used + tf.cast(active, tf.int32)

    def more(i, x_best, margin_best, used):
        return tf.logical_and(i < queries, tf.reduce_any(margin_best > 0))

    _, x_best, margin_best, used = tf.while_loop(
        more, body, (tf.constant(1), x_best, margin_best, used),
        parallel_iterations=1)
    return x_best, margin_best <= 0, used


def _check_square(queries, p_init, schedule="official"):
    if schedule not in SCHEDULES:
        raise InputError(f"schedule must be one of {SCHEDULES}; received "
                         f"{schedule!r}.")
    if not isinstance(queries, (int, np.integer)) or isinstance(
            queries, bool) or queries < 1:
        raise InputError(f"queries must be an integer >= 1; received "
                         f"{queries!r}.")
    if not 0.0 < p_init <= 1.0:
        raise InputError(f"p_init must be in (0, 1]; received {p_init!r}.")


@dataclasses.dataclass
class SquareConfig:
    """Square attack settings (Linf); `fooled` runs it on a batch.

    >>> import keras
    >>> net = keras.Sequential([keras.Input((3, 3, 1)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(2)])
    >>> SquareConfig(eps=0.1, queries=10).fooled(
    ...     net, tf.fill((2, 3, 3, 1), 0.5), tf.zeros(2, tf.int32)).shape
    TensorShape([2])
    """

    eps: float
    queries: int = 5000
    p_init: float = 0.8
    seed: int = 0
    bn_mode: str = "inference"
    schedule: str = "official"
    #: score-based: the black-box check's reference
    uses_gradients = False

    def __post_init__(self):
        _check_radius("eps", self.eps, norm="linf")
        _check_square(self.queries, self.p_init, self.schedule)

    def fooled(self, model, x, y, eps=None, noise_keys=None, seed=None):
        """Bool per sample; each sample's draws keyed by its noise key."""
        eps = self.eps if eps is None else eps
        _, fooled, _ = square(model, x, y, eps, self.queries, self.p_init,
                              self.seed if seed is None else seed,
                              self.bn_mode, self.schedule, noise_keys)
        return fooled


@ATTACKS.register("square")
def _square(eps, budgets):
    return SquareConfig(eps=eps, queries=budgets.square_queries,
                        schedule=budgets.square_schedule)
