"""Where the test points sit relative to the decision boundary.

Logit margins f_y - max_{j != y} f_j (negative: misclassified), confidence
(max softmax), and the distance to the boundary estimated as the smallest
eps at which PGD finds an adversarial example, by bisection on a per-sample
eps (every sample bisects its own radius in the same batched attack).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advmask_tf.attacks import PGDConfig, noise_keys_for
from advmask_tf.errors import InputError


def logit_margins(logits, labels) -> np.ndarray:
    """f_y - max_{j != y} f_j per sample.

    >>> logit_margins(np.array([[2.0, 0.5, 1.0]]), np.array([0])).tolist()
    [1.0]
    """
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels).astype(int)
    rows = np.arange(len(labels))
    true = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    return true - others.max(axis=1)


def confidence(logits) -> np.ndarray:
    """Max softmax probability per sample.

    >>> confidence(np.array([[0.0, 0.0]])).tolist()
    [0.5]
    """
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).max(axis=1)


def pgd_fooled(network, steps: int = 20, loss: str = "ce"):
    """A compiled function (images, labels, eps per sample, noise keys) ->
    bool per sample, PGD-`steps` (step eps / 4, uniform start) broke it."""
    attack = PGDConfig(eps=1.0, steps=steps, loss=loss)

    @tf.function(reduce_retracing=True)
    def fooled(images, labels, eps, keys):
        return attack.fooled(network, images, labels, eps=eps,
                             noise_keys=keys)

    return fooled


def boundary_distance(network, images, labels, max_eps: float,
                      bisections: int = 8, steps: int = 20,
                      loss: str = "ce", noise_keys=None,
                      fooled=None) -> np.ndarray:
    """Smallest Linf eps at which PGD misclassifies each point.

    0 for points misclassified clean; inf for points PGD cannot break at
    `max_eps`; otherwise an upper bound on the distance to the boundary
    within max_eps / 2**bisections (PGD succeeding at eps shows a boundary
    point at most eps away).

    Args:
        network: image -> logits.
        images, labels: one batch.
        max_eps: the largest radius tried.
        bisections: halvings of [0, max_eps] per point.
        steps, loss: the PGD attack (step eps / 4, uniform random start).
        noise_keys: per-sample random-start keys (see `noise_keys_for`;
            default: keyed by position in the batch).
        fooled: a `pgd_fooled(network, steps, loss)` to reuse across
            batches (saves retracing).

    Example:

    >>> import keras
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> d = boundary_distance(net, np.full((3, 2), 0.5, np.float32),
    ...                       np.zeros(3, int), 0.5)
    >>> d.shape
    (3,)
    """
    if max_eps <= 0 or bisections < 0:
        raise InputError(
            f"boundary_distance needs max_eps > 0 and bisections >= 0; "
            f"received max_eps={max_eps}, bisections={bisections}.")
    fooled = fooled or pgd_fooled(network, steps, loss)
    images = tf.convert_to_tensor(images, tf.float32)
    labels = tf.cast(labels, tf.int32)
    if noise_keys is None:
        noise_keys = noise_keys_for(tf.range(tf.shape(labels)[0]), 0)

    def fooled_at(eps):
        return fooled(images, labels, tf.constant(eps, tf.float32),
                      noise_keys).numpy()

    clean_wrong = (tf.argmax(network(images, training=False), -1,
                             output_type=tf.int32) != labels).numpy()
    count = len(clean_wrong)
    low, high = np.zeros(count), np.full(count, float(max_eps))
    broken = fooled_at(high) | clean_wrong
    for _ in range(bisections):
        middle = (low + high) / 2
        broken_here = fooled_at(middle)
        high = np.where(broken_here, middle, high)
        low = np.where(broken_here, low, middle)
    distance = np.where(broken, high, np.inf)
    return np.where(clean_wrong, 0.0, distance)


def fraction_within(distances, radii) -> list:
    """The fraction of points at distance <= r from the boundary, per r.

    >>> fraction_within([0.0, 0.05, np.inf], [0.0, 0.1])
    [0.3333333333333333, 0.6666666666666666]
    """
    distances = np.asarray(distances)
    return [float(np.mean(distances <= r)) for r in radii]
