"""The model zoo: one `build_model` for every architecture."""

from advmask_tf.models.conditioning import (
    ConditionedView,
    at_strength,
    is_conditioned,
    logits_at,
)
from advmask_tf.models.normalization import (
    CONDITIONED_NORMS,
    NORMS,
    make_norm,
    resolve_norm,
)
from advmask_tf.models.zoo import (
    MODELS,
    build_model,
)

__all__ = [
    "CONDITIONED_NORMS",
    "ConditionedView",
    "MODELS",
    "NORMS",
    "at_strength",
    "build_model",
    "is_conditioned",
    "logits_at",
    "make_norm",
    "resolve_norm",
]
