"""MART (Wang et al. ICLR 2020; beta 6) of the small CNN on Fashion-MNIST at
eps 0.1: boosted CE on the PGD-10 (CE) examples plus 6 KL(f(x) || f(x_adv))
weighted by 1 - p_y(x)."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "mart"
    config.method.beta = 6.0
    return config
