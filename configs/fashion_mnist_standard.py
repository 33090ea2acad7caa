"""Standard (clean) training of the small CNN on Fashion-MNIST."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "standard"
    config.train.monitor = "val_clean_accuracy"
    return config
