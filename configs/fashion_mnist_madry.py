"""Madry PGD-AT, small CNN, Fashion-MNIST, eps 0.1: the README's main job."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "madry"
    config.train.epochs = 3
    config.data.validation_size = 2000
    return config
