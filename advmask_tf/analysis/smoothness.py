"""How much each layer's features move when the input moves.

For a layer l and an input change delta, the ratio
||f_l(x + delta) - f_l(x)||_2 / ||delta||_2, with delta a random corner of
the Linf ball (each pixel +-eps) or the PGD perturbation at eps. Wen, Li and
Jia's reading: adversarial training makes these ratios small uniformly in
all directions, so random and adversarial ratios get close.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from advmask_tf.attacks import PGDConfig
from advmask_tf.errors import InputError
from advmask_tf.models import is_conditioned


def feature_model(network: keras.Model, layer_names) -> keras.Model:
    """A model with the network's inputs and the named layers' outputs.

    >>> net = keras.Sequential([keras.Input((3,)),
    ...                         keras.layers.Dense(2, name="hidden")])
    >>> len(feature_model(net, ["hidden"]).outputs)
    1
    """
    missing = [n for n in layer_names
               if n not in {layer.name for layer in network.layers}]
    if missing:
        raise InputError(f"layers {missing} are not in network "
                         f"{network.name!r}.")
    # A conditioned network's inputs are a dict, which the copy must keep.
    inputs = network.input if is_conditioned(network) else network.inputs
    return keras.Model(inputs,
                       [network.get_layer(n).output for n in layer_names])


def random_corner(images, eps: float, seed: int = 0):
    """images + eps * random signs, clipped to [0, 1]."""
    signs = tf.sign(tf.random.stateless_uniform(
        tf.shape(images), (seed, 1), -1.0, 1.0))
    return tf.clip_by_value(images + eps * signs, 0.0, 1.0)


def ratios(features, images, moved) -> np.ndarray:
    """(layers, batch) ratios of feature change to input change, for the
    features of a callable image -> list of per-layer tensors."""
    delta = tf.reshape(moved - images, [tf.shape(images)[0], -1])
    input_change = tf.norm(delta, axis=1)
    rows = []
    for before, after in zip(features(images), features(moved)):
        change = tf.reshape(after - before, [tf.shape(images)[0], -1])
        rows.append((tf.norm(change, axis=1)
                     / tf.maximum(input_change, 1e-12)).numpy())
    return np.stack(rows)


def pgd_perturbation(network, eps: float, steps: int = 10):
    """A compiled function (images, labels, noise keys) -> PGD-`steps`
    images at Linf eps (step eps / 4, CE, uniform start)."""
    attack = PGDConfig(eps=float(eps), steps=steps)

    @tf.function(reduce_retracing=True)
    def perturb(images, labels, keys):
        return attack.run(network, images, labels, noise_keys=keys,
                          compute_success=False).x_adv

    return perturb


def smoothness_batch(features, perturb, images, labels, keys, eps: float,
                     seed: int = 0) -> dict:
    """{"random": (layers, batch), "adversarial": (layers, batch)} ratios.

    Args:
        features: image -> list of per-layer feature tensors.
        perturb: a `pgd_perturbation(network, eps, steps)`.
        keys: per-sample noise keys of the PGD random start.
        eps: the Linf radius of the random corner (PGD's is in `perturb`).
        seed: seed of the random corner.

    Example:

    >>> from advmask_tf.attacks import noise_keys_for
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> ratios_ = smoothness_batch(
    ...     lambda x: [net(x)], pgd_perturbation(net, 0.1, 2),
    ...     tf.fill((2, 4), 0.5), tf.zeros(2, tf.int32),
    ...     noise_keys_for(tf.range(2), 0), 0.1)
    >>> ratios_["adversarial"].shape
    (1, 2)
    """
    images = tf.convert_to_tensor(images, tf.float32)
    adversarial = perturb(images, tf.cast(labels, tf.int32), keys)
    return {"random": ratios(features, images,
                             random_corner(images, eps, seed)),
            "adversarial": ratios(features, images, adversarial)}
