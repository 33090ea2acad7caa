"""One classifier from an accurate and a robust one (MixedNUTS-style).

Bai et al. ("adaptive smoothing", 2023; MixedNUTS, TMLR 2024) mix the
probabilities of an accurate classifier f_acc and a robust one f_rob:

    p(x) = (1 - alpha) softmax(f_acc(x)) + alpha softmax(M(f_rob(x)))

where M sharpens the robust logits without retraining: standardise them
(mean and variance over the top-k logits), then GELU(z + c), then
sign(z) |z|^p, then times s. Where the robust classifier is confident its
mapped probabilities dominate (and an attacker who controls f_acc entirely
moves at most 1 - alpha of the mass); where it hesitates, the accurate one
decides. The output is log p(x), so the result is one model image -> logits.

`mixed_classifier` builds that model from Keras ops only: it saves to
`.keras` and loads back with `keras.models.load_model` alone, so any
external attack can load and attack it. `surrogate=True` builds the
relaxed model the adaptive evaluation attacks (most of the robust weight on
the raw robust softmax, whose gradient does not vanish where M saturates).
"""

from __future__ import annotations

import dataclasses
import math

import keras

from advmask_tf.errors import InputError
from advmask_tf.models.conditioning import is_conditioned


@dataclasses.dataclass(frozen=True)
class MixingMap:
    """The map's settings: scale s, bias c, power p, mixing weight alpha
    and the number of top logits the standardisation uses (0: all).

    >>> MixingMap(scale=2.0, bias=-1.0, power=2.0, alpha=0.9).alpha
    0.9
    """

    scale: float = 1.0
    bias: float = 0.0
    power: float = 1.0
    alpha: float = 1.0
    top_k: int = 0

    def __post_init__(self):
        checks = (("scale", self.scale > 0), ("power", self.power > 0),
                  ("alpha", 0.0 <= self.alpha <= 1.0),
                  ("bias", math.isfinite(self.bias)),
                  ("top_k", self.top_k >= 0))
        for name, ok in checks:
            if not ok:
                raise InputError(
                    f"mixing {name} out of range: received "
                    f"{getattr(self, name)!r} (scale, power > 0; alpha in "
                    "[0, 1]; bias finite; top_k >= 0).")


def mapped_logits(logits, mixing: MixingMap):
    """M(logits): standardise over the top-k, GELU(z + c), signed power,
    scale (float32; works on tensors and on Keras symbolic tensors)."""
    ops = keras.ops
    logits = ops.cast(logits, "float32")
    classes = logits.shape[-1]
    top = logits
    if mixing.top_k and mixing.top_k < classes:
        top = ops.top_k(logits, mixing.top_k)[0]
    count = top.shape[-1]
    mean = ops.mean(top, axis=-1, keepdims=True)
    # The unbiased variance, as MixedNUTS standardises.
    variance = ops.sum(ops.square(top - mean), axis=-1,
                       keepdims=True) / max(count - 1, 1)
    z = (logits - mean) / ops.sqrt(variance + 1e-8)
    z = ops.gelu(z + mixing.bias, approximate=False)
    z = ops.sign(z) * ops.power(ops.abs(z), mixing.power)
    return mixing.scale * z


def mixed_log_probabilities(accurate_logits, robust_logits,
                            mixing: MixingMap, surrogate: bool = False,
                            raw_share: float = 0.9):
    """log((1 - alpha) softmax(acc) + alpha softmax(M(rob))), in log space
    (a probability that underflows would give -inf logits). `surrogate`:
    the robust part is raw_share softmax(rob) + (1 - raw_share)
    softmax(M(rob))."""
    ops = keras.ops
    accurate = ops.log_softmax(ops.cast(accurate_logits, "float32"))
    robust = ops.log_softmax(mapped_logits(robust_logits, mixing))
    if surrogate:
        raw = ops.log_softmax(ops.cast(robust_logits, "float32"))
        robust = ops.logsumexp(ops.stack(
            [raw + math.log(raw_share), robust + math.log(1 - raw_share)]),
            axis=0)
    parts = []
    if mixing.alpha < 1:
        parts.append(accurate + math.log(1 - mixing.alpha))
    if mixing.alpha > 0:
        parts.append(robust + math.log(mixing.alpha))
    return ops.logsumexp(ops.stack(parts), axis=0)


def told(network: keras.Model, strength: float, name: str) -> keras.Model:
    """A conditioned network told a fixed strength, as a plain model
    image -> logits (an unconditioned one is returned as it is)."""
    if not is_conditioned(network):
        return network
    image = keras.Input(shape=network.input["image"].shape[1:], name="image")
    ones = keras.ops.ones_like(keras.ops.sum(image, axis=(1, 2, 3)))
    logits = network({"image": image, "eps": ones * float(strength)})
    return keras.Model(image, logits, name=name)


def mixed_classifier(accurate: keras.Model, robust: keras.Model,
                     mixing: MixingMap, surrogate: bool = False,
                     name: str = "mixed") -> keras.Model:
    """The mixed classifier as one Keras model, pixels -> logits.

    Args:
        accurate, robust: plain classifiers (a conditioned network: pass
            `told(network, strength, name)`, e.g. told 0 and told eps).
        mixing: the map and the mixing weight.
        surrogate: build the relaxed model for the adaptive attacks.

    Example:

    >>> from advmask_tf.models import build_model
    >>> a = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    >>> r = build_model("small_cnn", (28, 28, 1), 10, width=4, dense_units=8)
    >>> mixed = mixed_classifier(a, r, MixingMap(scale=2.0, alpha=0.9))
    >>> mixed.output_shape
    (None, 10)
    """
    if accurate.name == robust.name:
        # Keras needs distinct names for the two nested models.
        accurate.name = accurate.name + "_accurate"
    image = keras.Input(shape=accurate.input_shape[1:], name="image")
    logits = mixed_log_probabilities(accurate(image), robust(image), mixing,
                                     surrogate=surrogate)
    return keras.Model(image, logits, name=name)
