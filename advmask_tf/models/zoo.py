"""The model zoo behind one `build_model` function.

All models are Keras functional models built from core layers only, so a
trained network saves to `.keras` and loads back with `keras.models.load_model`
alone. Each starts with a `Normalization` layer holding the dataset mean and
variance: models take pixels in [0, 1] and normalise their own input, so
attacks and eps live in pixel space.
"""

from __future__ import annotations

import keras

from advmask_tf.errors import InputError
from advmask_tf.models.normalization import (
    CONDITIONED_NORMS,
    NORMS,
    conditioned_norm,
    make_norm,
)

MODELS = ("small_cnn", "resnet18", "preact_resnet18", "wide_resnet")


def _input_stem(input_shape, mean, std):
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    channels = input_shape[-1]
    mean = list(mean) if mean is not None else [0.0] * channels
    std = list(std) if std is not None else [1.0] * channels
    if len(mean) != channels or len(std) != channels:
        raise InputError(
            f"mean {mean} and std {std} must have one value per channel "
            f"({channels}).")
    if min(std) <= 0:
        raise InputError(f"std must be positive per channel; received {std}.")
    x = keras.layers.Normalization(
        mean=mean, variance=[s * s for s in std], name="input_normalization"
    )(inputs)
    return inputs, x


def _conv(filters, kernel, strides=1, name=None):
    return keras.layers.Conv2D(filters, kernel, strides=strides,
                               padding="same", use_bias=False,
                               kernel_initializer="he_normal", name=name)


def small_cnn(inputs, x, num_classes, norm, width=16, dense_units=128):
    """Two conv blocks and a dense head, sized for 28x28 inputs."""
    for block, filters in enumerate((width, 2 * width)):
        for layer in range(2):
            prefix = f"block{block}_conv{layer}"
            x = _conv(filters, 3, name=prefix)(x)
            x = make_norm(norm, prefix + "_norm")(x)
            x = keras.layers.ReLU(name=prefix + "_relu")(x)
        x = keras.layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, name="fc")(x)
    x = make_norm(norm, "fc_norm")(x)
    x = keras.layers.ReLU(name="fc_relu")(x)
    return keras.layers.Dense(num_classes, name="logits")(x)


def _basic_block(x, filters, strides, norm, name):
    shortcut = x
    y = _conv(filters, 3, strides, name + "_conv1")(x)
    y = make_norm(norm, name + "_norm1")(y)
    y = keras.layers.ReLU(name=name + "_relu1")(y)
    y = _conv(filters, 3, 1, name + "_conv2")(y)
    y = make_norm(norm, name + "_norm2")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, strides, name + "_shortcut")(x)
        shortcut = make_norm(norm, name + "_shortcut_norm")(shortcut)
    y = keras.layers.Add(name=name + "_add")([y, shortcut])
    return keras.layers.ReLU(name=name + "_relu2")(y)


def _preact_block(x, filters, strides, norm, name, dropout=0.0):
    """Pre-activation block (He et al. 2016), also the WideResNet block."""
    y = make_norm(norm, name + "_norm1")(x)
    y = keras.layers.ReLU(name=name + "_relu1")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, strides, name + "_shortcut")(y)
    else:
        shortcut = x
    y = _conv(filters, 3, strides, name + "_conv1")(y)
    y = make_norm(norm, name + "_norm2")(y)
    y = keras.layers.ReLU(name=name + "_relu2")(y)
    if dropout:
        y = keras.layers.Dropout(dropout, name=name + "_dropout")(y)
    y = _conv(filters, 3, 1, name + "_conv2")(y)
    return keras.layers.Add(name=name + "_add")([y, shortcut])


def resnet18(inputs, x, num_classes, norm, width=64):
    """ResNet-18, CIFAR variant: 3x3 stem, no max-pool."""
    x = _conv(width, 3, name="stem_conv")(x)
    x = make_norm(norm, "stem_norm")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for stage, multiple in enumerate((1, 2, 4, 8)):
        for block in range(2):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, width * multiple, strides, norm,
                             f"stage{stage}_block{block}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(num_classes, name="logits")(x)


def preact_resnet18(inputs, x, num_classes, norm, width=64):
    """Pre-activation ResNet-18, CIFAR variant."""
    x = _conv(width, 3, name="stem_conv")(x)
    for stage, multiple in enumerate((1, 2, 4, 8)):
        for block in range(2):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _preact_block(x, width * multiple, strides, norm,
                              f"stage{stage}_block{block}")
    x = make_norm(norm, "final_norm")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(num_classes, name="logits")(x)


def wide_resnet(inputs, x, num_classes, norm, depth=34, width=10,
                dropout=0.0):
    """WideResNet-depth-width (Zagoruyko & Komodakis 2016), e.g. 34-10, 28-10."""
    if (depth - 4) % 6 != 0 or depth < 10:
        raise InputError(
            f"WideResNet depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, "
            f"...); received {depth}.")
    blocks = (depth - 4) // 6
    x = _conv(16, 3, name="stem_conv")(x)
    for stage, filters in enumerate((16 * width, 32 * width, 64 * width)):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _preact_block(x, filters, strides, norm,
                              f"stage{stage}_block{block}", dropout)
    x = make_norm(norm, "final_norm")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(num_classes, name="logits")(x)


_BUILDERS = {
    "small_cnn": small_cnn,
    "resnet18": resnet18,
    "preact_resnet18": preact_resnet18,
    "wide_resnet": wide_resnet,
}


def build_model(name: str, input_shape, num_classes: int, norm: str = "auto",
                mean=None, std=None, norm_options: dict | None = None,
                **kwargs) -> keras.Model:
    """Builds a zoo model that maps pixels in [0, 1] to logits.

    With a conditioned norm (`split_batchnorm`, `masking`) the model takes
    {"image": pixels, "eps": strength per sample}; eps = 0 means clean.

    Args:
        name: one of `MODELS`.
        input_shape: (H, W, C).
        num_classes: number of logits.
        norm: see `advmask_tf.models.normalization.NORMS`.
        mean, std: per-channel input statistics; the model normalises with them.
        norm_options: arguments of the conditioned norm's layer, such as
            {"route_boundaries": (0.0,)} for `split_batchnorm` or
            {"encoding": "orthogonal", "encoding_dim": 16, "strengths":
            (0.0, 0.05, 0.1)} for `masking`.
        **kwargs: model-specific: `width`, `dense_units` (small_cnn), `width`
            (resnets), `depth`, `width`, `dropout` (wide_resnet).

    Example:

    >>> model = build_model("small_cnn", (28, 28, 1), 10)
    >>> model.output_shape
    (None, 10)
    >>> masked = build_model("small_cnn", (28, 28, 1), 10, norm="masking",
    ...                      norm_options={"strengths": (0.0, 0.1)})
    >>> sorted(masked.input)
    ['eps', 'image']
    """
    if name not in _BUILDERS:
        raise InputError(f"Unknown model {name!r}; expected one of {MODELS}.")
    if num_classes < 2:
        raise InputError(f"num_classes must be >= 2; received {num_classes}.")
    if norm not in NORMS:
        raise InputError(f"Unknown norm {norm!r}; expected one of {NORMS}.")
    inputs, x = _input_stem(input_shape, mean, std)
    if norm in CONDITIONED_NORMS:
        eps = keras.Input(shape=(), name="eps")
        norm = conditioned_norm(norm, norm_options, eps)
        inputs = {"image": inputs, "eps": eps}
    elif norm_options:
        raise InputError(
            f"norm_options {norm_options!r} only apply to the conditioned "
            f"norms {CONDITIONED_NORMS}; norm is {norm!r}.")
    try:
        logits = _BUILDERS[name](inputs, x, num_classes, norm, **kwargs)
    except TypeError as error:
        raise InputError(
            f"Bad arguments {sorted(kwargs)} for model {name!r}: {error}"
        ) from error
    return keras.Model(inputs, logits, name=name)
