"""GAIRAT weights on IAAT: the IAAT preset plus one field."""

from advmask_tf.configs_lib import preset


def get_config():
    config = preset(__file__, "fashion_mnist_iaat.py")
    config.weighting.name = "gairat"
    return config
