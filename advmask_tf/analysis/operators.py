"""The linear operators inside a trained Keras network, as arrays.

At inference every convolution and dense layer is linear, and every
normalisation layer (batch norm on its moving statistics, split batch norm
on one route, RobMask's masking at one strength, the input `Normalization`)
is a per-channel affine map. A convolution or dense layer whose only
consumer is such a norm is folded with it (kernel times the norm's
per-channel scale): with batch norm after a convolution the kernel's own
scale is arbitrary, and the folded kernel is the map the network applies.
Norms that are not folded (pre-activation blocks, the input stem) become
diagonal operators of their own.

Only the scale matters for spectra; the shifts (biases) do not. Layers are
read from `model.layers`, so a model nested inside another counts as one
opaque layer: build the network flat (as the zoo does) to analyse it.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from advmask_tf.layers import RoutedNormalization

_NORM_TYPES = (keras.layers.BatchNormalization, keras.layers.Normalization,
               RoutedNormalization)


@dataclasses.dataclass
class LinearOperator:
    """One layer's linear map, at inference.

    Attributes:
        name: the layer's name (with "+<norm>" when a norm is folded in).
        kind: "conv" (kernel (kh, kw, cin, cout)), "dense" (kernel (in, out))
            or "diagonal" (kernel (channels,): one scale per channel).
        kernel: float64 numpy array, the folded kernel.
        input_shape: the layer's input shape without the batch axis.
        strides: (sh, sw) for convolutions.
        padding: "same" or "valid" for convolutions.
        output_layer: the layer whose output is this operator's output (the
            folded norm, or the layer itself), where features are probed.
    """

    name: str
    kind: str
    kernel: np.ndarray
    input_shape: tuple
    strides: tuple = (1, 1)
    padding: str = "same"
    output_layer: str = ""


def is_norm(layer) -> bool:
    """Whether `layer` is a per-channel affine map at inference."""
    return isinstance(layer, _NORM_TYPES)


def norm_scale(layer, channels: int, eps: float = 0.0, rank: int = 2
               ) -> np.ndarray:
    """The per-channel scale of a norm layer at inference (at strength eps).

    Found by evaluating the layer on all-ones and all-zeros inputs: an
    affine map a * x + b gives a = f(1) - f(0). `rank` is the rank of the
    layer's inputs (4 for feature maps), so stored statistics broadcast as
    they do in the network.

    >>> bn = keras.layers.BatchNormalization(epsilon=0.0)
    >>> bn.build((None, 2))
    >>> _ = bn.gamma.assign([2.0, 3.0])
    >>> _ = bn.moving_variance.assign([4.0, 9.0])
    >>> norm_scale(bn, 2).tolist()
    [1.0, 1.0]
    """
    probe = tf.reshape(tf.stack([tf.zeros((channels,)), tf.ones((channels,))]),
                       (2,) + (1,) * (rank - 2) + (channels,))
    if isinstance(layer, RoutedNormalization):
        out = layer(probe, tf.fill((2,), float(eps)), training=False)
    else:
        out = layer(probe, training=False)
    out = np.asarray(out, np.float64).reshape(2, channels)
    return out[1] - out[0]


def _consumers(layer) -> list:
    # Keras 3 functional graphs keep a layer's consumers as outbound nodes;
    # there is no public accessor for them.
    return [node.operation for node in getattr(layer, "_outbound_nodes", [])]


def linear_operators(model: keras.Model, eps: float = 0.0) -> list:
    """The network's linear operators in layer order, norms folded.

    Args:
        model: a functional Keras model (any zoo model, conditioned or not).
        eps: the strength a conditioned network is told (its norms' scale
            depends on it); ignored by plain norms.

    Returns:
        A list of `LinearOperator`.

    Example:

    >>> from advmask_tf.models import build_model
    >>> ops = linear_operators(build_model("small_cnn", (28, 28, 1), 10))
    >>> [(op.name, op.kind) for op in ops][:2]
    [('input_normalization', 'diagonal'), ('block0_conv0+block0_conv0_norm', 'conv')]
    >>> ops[-1].name, ops[-1].kernel.shape
    ('logits', (128, 10))
    """
    operators, folded = [], set()
    for layer in model.layers:
        if layer.name in folded:
            continue
        is_conv = isinstance(layer, keras.layers.Conv2D)
        if not (is_conv or isinstance(layer, keras.layers.Dense)
                or is_norm(layer)):
            continue
        input_shape = tuple(layer.input.shape[1:]) if not isinstance(
            layer, RoutedNormalization) else tuple(layer.input[0].shape[1:])
        if is_norm(layer):
            channels = int(input_shape[-1])
            operators.append(LinearOperator(
                layer.name, "diagonal",
                norm_scale(layer, channels, eps, len(input_shape) + 1),
                input_shape, output_layer=layer.name))
            continue
        kernel = np.asarray(layer.kernel, np.float64)
        name, output_layer = layer.name, layer.name
        consumers = _consumers(layer)
        if len(consumers) == 1 and is_norm(consumers[0]):
            norm = consumers[0]
            kernel = kernel * norm_scale(norm, kernel.shape[-1], eps,
                                         len(input_shape) + 1)
            folded.add(norm.name)
            name, output_layer = f"{layer.name}+{norm.name}", norm.name
        operators.append(LinearOperator(
            name, "conv" if is_conv else "dense", kernel, input_shape,
            strides=tuple(layer.strides) if is_conv else (1, 1),
            padding=layer.padding if is_conv else "same",
            output_layer=output_layer))
    return operators
