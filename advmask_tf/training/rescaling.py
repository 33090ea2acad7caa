"""Batch norm's rescaling as a mask, the paper's analysis behind RobMask.

Batch norm is a normalisation followed by a rescaling (gamma, beta). The
analysis: keep a trained network's convolutions and normalisation statistics
and re-learn only its rescaling under another objective (clean training for
an adversarially trained network, adversarial training for a clean one);
then combine the two rescalings, (1 - t) * first + t * second, and watch
clean and robust accuracy move with t.

`AdversarialModel(..., trainable="rescaling")` does the re-learning (only
gamma and beta get gradients, and batch norm runs on its moving statistics);
`mixed_rescaling` builds the combination.
"""

from __future__ import annotations

import keras

from advmask_tf.errors import InputError
from advmask_tf.layers import RoutedNormalization

TRAINABLE = ("all", "rescaling")


def _rescaling_layers(network: keras.Model) -> list:
    layers = [layer for layer in network.layers
              if isinstance(layer, keras.layers.BatchNormalization)]
    others = [layer.name for layer in network.layers
              if isinstance(layer, RoutedNormalization)]
    if others:
        raise InputError(
            f"network {network.name!r} has conditioned norms {others}; the "
            "rescaling analysis is for plain batch norm networks.")
    if not layers:
        raise InputError(
            f"network {network.name!r} has no BatchNormalization layer, so "
            "no rescaling to re-learn or combine (was it built with "
            "norm='none'?).")
    return layers


def rescaling_variables(network: keras.Model) -> list:
    """The gamma and beta variables of every batch norm layer.

    >>> from advmask_tf.models import build_model
    >>> net = build_model("small_cnn", (28, 28, 1), 10, width=4)
    >>> sorted({v.name for v in rescaling_variables(net)})
    ['beta', 'gamma']
    """
    variables = []
    for layer in _rescaling_layers(network):
        variables += [v for v in (layer.gamma, layer.beta) if v is not None]
    return variables


def mixed_rescaling(first: keras.Model, second: keras.Model,
                    t: float) -> keras.Model:
    """A copy of `first` whose batch norms use (1 - t) * first's rescaling +
    t * second's. Everything else (convolutions, statistics) is first's.

    >>> from advmask_tf.models import build_model
    >>> a = build_model("small_cnn", (28, 28, 1), 10, width=4)
    >>> b = build_model("small_cnn", (28, 28, 1), 10, width=4)
    >>> mixed_rescaling(a, b, 0.5).name
    'small_cnn_rescaling_mix'
    """
    if not 0.0 <= float(t) <= 1.0:
        raise InputError(f"t must be in [0, 1]; received {t!r}.")
    first_layers = _rescaling_layers(first)
    second_layers = {layer.name: layer for layer in _rescaling_layers(second)}
    missing = [layer.name for layer in first_layers
               if layer.name not in second_layers
               or second_layers[layer.name].gamma.shape
               != layer.gamma.shape]
    if missing:
        raise InputError(
            f"{second.name!r} does not match {first.name!r}: batch norm "
            f"layers {missing} are missing or differ in shape. Both networks "
            "must be the same architecture.")
    mixed = keras.models.clone_model(first)
    mixed.set_weights(first.get_weights())
    mixed.name = f"{first.name}_rescaling_mix"
    for layer in first_layers:
        target = mixed.get_layer(layer.name)
        other = second_layers[layer.name]
        for name in ("gamma", "beta"):
            mine, theirs = getattr(layer, name), getattr(other, name)
            if mine is not None and theirs is not None:
                getattr(target, name).assign(
                    (1.0 - t) * mine + t * theirs)
    return mixed
