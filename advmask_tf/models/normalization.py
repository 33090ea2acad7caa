"""The normalisation layer of a model, chosen by name.

`batchnorm` is Keras' BatchNormalization; `sync_batchnorm` the same with
statistics synchronised across replicas (needed under MirroredStrategy when the
batch statistics must equal those of the global batch); `auto` picks the
synchronised one when the current strategy has more than one replica; `none`
leaves features unnormalised.

Two norms condition the network on the perturbation strength, which makes
the model take {"image", "eps"}: `split_batchnorm`
(`advmask_tf.layers.SplitBatchNormalization`, statistics per route of eps)
and `masking` (`advmask_tf.layers.PerturbationMasking`, RobMask's rescaling
from an encoding of eps). Both synchronise their statistics when the
strategy has more than one replica.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from advmask_tf.errors import InputError
from advmask_tf.layers import PerturbationMasking, SplitBatchNormalization

PLAIN_NORMS = ("auto", "batchnorm", "sync_batchnorm", "none")
CONDITIONED_NORMS = ("split_batchnorm", "masking")
NORMS = PLAIN_NORMS + CONDITIONED_NORMS
_CONDITIONED_LAYERS = {"split_batchnorm": SplitBatchNormalization,
                       "masking": PerturbationMasking}


@dataclasses.dataclass
class ConditionedNorm:
    """A conditioned norm while a model is built: its kind, the layer
    options and the model's eps input every such layer is called with."""

    kind: str
    options: dict
    eps: object


def _replicas() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


def resolve_norm(norm: str) -> str:
    """Turns `auto` into a concrete norm name for the current strategy."""
    if norm not in NORMS:
        raise InputError(f"Unknown norm {norm!r}; expected one of {NORMS}.")
    if norm == "auto":
        return "sync_batchnorm" if _replicas() > 1 else "batchnorm"
    return norm


def conditioned_norm(norm: str, options: dict | None, eps) -> ConditionedNorm:
    """Checks a conditioned norm's options by building one layer."""
    options = dict(options or {})
    options.setdefault("synchronized", _replicas() > 1)
    try:
        _CONDITIONED_LAYERS[norm](**options)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"Bad norm_options {sorted(options)} for norm {norm!r}: {error}"
        ) from error
    return ConditionedNorm(norm, options, eps)


def norm_options_from_config(model_block, strengths: tuple) -> dict | None:
    """`build_model`'s norm_options for a config's model block: its
    sub-block of the conditioned norm (model.split, model.masking); the
    masking encodes `strengths` (the ones met in training) unless
    model.masking.strengths names them. None for a plain norm."""
    if model_block.norm == "split_batchnorm":
        split = model_block.split
        return {"route_boundaries": tuple(split.route_boundaries),
                "split_rescaling": bool(split.split_rescaling)}
    if model_block.norm == "masking":
        masking = model_block.masking
        strengths = tuple(masking.strengths) or tuple(strengths)
        if masking.encoding == "one_hot" and masking.strengths == ():
            dim = len(strengths)
        else:
            dim = int(masking.encoding_dim)
        return {"encoding": masking.encoding, "encoding_dim": dim,
                "strengths": strengths,
                "max_eps": float(masking.max_eps) or max(strengths),
                "route_boundaries": tuple(masking.route_boundaries),
                "seed": int(masking.seed)}
    return None


def make_norm(norm, name: str, momentum: float = 0.9, epsilon: float = 1e-5):
    """Returns a function features -> normalised features for the norm.

    `norm` is a name of `PLAIN_NORMS` or a `ConditionedNorm`.
    """
    if isinstance(norm, ConditionedNorm):
        options = {"momentum": momentum, "epsilon": epsilon, **norm.options}
        layer = _CONDITIONED_LAYERS[norm.kind](name=name, **options)
        return lambda x: layer(x, norm.eps)
    norm = resolve_norm(norm)
    if norm in CONDITIONED_NORMS:
        raise InputError(f"norm {norm!r} conditions on eps: build the model "
                         "with `build_model`, which adds the eps input.")
    if norm == "none":
        return lambda x: x
    return keras.layers.BatchNormalization(
        momentum=momentum, epsilon=epsilon,
        synchronized=(norm == "sync_batchnorm"), name=name)
