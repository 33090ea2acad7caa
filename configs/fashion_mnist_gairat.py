"""GAIRAT of the small CNN on Fashion-MNIST at eps 0.1.

Madry AT with geometry-aware instance weights (tanh form, lambda -1, the
authors' default) after 2 burn-in epochs of plain AT.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "madry"
    config.weighting.name = "gairat"
    return config
