"""Madry PGD-AT, small CNN, Fashion-MNIST, eps 0.1 (the README's main job
before Free training, configs/fashion_mnist_main.py, replaced it).

Sized to finish well under 10 minutes on 2 CPU cores: 3 epochs over 20,000
training images (2,000 more held out for validation), then clean, PGD-20 and
CW-inf accuracy on the full 10,000-image test set.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "madry"
    config.data.train_limit = 22000
    config.data.validation_size = 2000
    config.train.epochs = 3
    return config
