"""Conditioned normalisation layers: split batch norm and RobMask's
perturbation-conditioned masking. All are registered Keras serialisables."""

from advmask_tf.layers.encodings import ENCODINGS
from advmask_tf.layers.masking import (
    MaskInterpolation,
    PerturbationMasking,
    interpolated,
    masking_layers,
)
from advmask_tf.layers.routed import RoutedNormalization, SplitBatchNormalization

__all__ = [
    "ENCODINGS",
    "MaskInterpolation",
    "PerturbationMasking",
    "RoutedNormalization",
    "SplitBatchNormalization",
    "interpolated",
    "masking_layers",
]
