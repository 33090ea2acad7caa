"""TRADES (beta 6) of the small CNN on Fashion-MNIST at eps 0.1."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "trades"
    config.method.beta = 6.0
    return config
