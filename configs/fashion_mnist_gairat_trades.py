"""GAIRAT weights on TRADES: the TRADES preset plus one field."""

from advmask_tf.configs_lib import preset


def get_config():
    config = preset(__file__, "fashion_mnist_trades.py")
    config.weighting.name = "gairat"
    return config
