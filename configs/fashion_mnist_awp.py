"""TRADES-AWP (Wu, Xia, Wang NeurIPS 2020) of the small CNN on
Fashion-MNIST at eps 0.1: TRADES (beta 6) with adversarial weight
perturbation, every kernel moved by 5e-3 of its norm along the loss's
gradient before each step (the paper's gamma for TRADES-AWP)."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "trades"
    config.method.beta = 6.0
    config.method.awp_gamma = 5e-3
    return config
