"""Telling a conditioned network the perturbation strength.

A conditioned network (built with a `split_batchnorm` or `masking` norm)
takes {"image": x, "eps": e}. Attacks and evaluations want a function of the
image alone; `at_strength(network, eps)` gives one, with eps fixed (a scalar
or one per sample), and returns an unconditioned network unchanged.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def is_conditioned(network) -> bool:
    """Whether `network` takes {"image", "eps"}.

    >>> from advmask_tf.models import build_model
    >>> is_conditioned(build_model("small_cnn", (28, 28, 1), 10))
    False
    """
    try:
        inputs = network.input
    except (AttributeError, ValueError):
        return False
    return isinstance(inputs, dict) and "eps" in inputs


class ConditionedView:
    """`network` as a function image -> logits at a fixed strength eps.

    Example:

    >>> from advmask_tf.models import build_model
    >>> net = build_model("small_cnn", (28, 28, 1), 10, norm="split_batchnorm")
    >>> view = ConditionedView(net, 0.1)
    >>> view(tf.zeros((2, 28, 28, 1))).shape
    TensorShape([2, 10])
    """

    def __init__(self, network: keras.Model, eps):
        self.network = network
        self.eps = eps
        self.name = f"{network.name}@eps"

    def __call__(self, image, training=False):
        image = tf.convert_to_tensor(image)
        eps = tf.cast(self.eps, image.dtype) * tf.ones(
            tf.shape(image)[:1], image.dtype)
        return self.network({"image": image, "eps": eps}, training=training)


def at_strength(network, eps):
    """The network told eps (conditioned), or the network itself."""
    return ConditionedView(network, eps) if is_conditioned(network) \
        else network


def logits_at(network, image, eps, training=False):
    """The network's logits on image at strength eps (ignored when the
    network is not conditioned)."""
    return at_strength(network, eps)(image, training=training)
