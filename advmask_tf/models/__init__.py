"""The model zoo: one `build_model` for every architecture."""

from advmask_tf.models.normalization import (
    NORMS,
    make_norm,
    resolve_norm,
)
from advmask_tf.models.zoo import (
    MODELS,
    build_model,
)

__all__ = [
    "NORMS",
    "make_norm",
    "resolve_norm",
    "MODELS",
    "build_model",
]
