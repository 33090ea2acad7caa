"""LBGAT (Cui et al., ICCV 2021) of the small CNN on Fashion-MNIST at eps
0.1: a guide network of the same architecture, trained jointly on clean
images by the same optimizer, whose logits on x the robust network's
logits on x_adv are pulled to (MSE, weight 1 as in the authors' code);
beta 0 is the paper's LBGAT0 (beta 6: LBGAT6). x_adv from TRADES' KL
attack (PGD-10). The guide is saved as guide.keras beside model.keras.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "lbgat"
    config.method.beta = 0.0
    config.method.guide_weight = 1.0
    return config
