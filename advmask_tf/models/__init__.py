"""The model zoo: one `build_model` for every architecture."""

from advmask_tf.models.normalization import NORMS, make_norm, resolve_norm
from advmask_tf.models.zoo import MODELS, build_model
