"""Once-for-all adversarial training (OAT, Wang et al. NeurIPS 2020) of the
small CNN on Fashion-MNIST at eps 0.1.

Each sample's trade-off weight lambda is drawn from {0, .1, .2, .3, .4, 1};
the loss is (1 - lambda) CE(clean) + lambda CE(x_adv) with the network told
lambda * 0.1 (masking layers: rescaling from a 16-d orthogonal code of it,
separate statistics for lambda 0 and > 0). One trained model is dialled at
inference: `--config.eval.condition_eps=0.04` is lambda 0.4;
`advmask-eval --condition_sweep` traces the whole dial.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "oat"
    config.method.lambdas = (0.0, 0.1, 0.2, 0.3, 0.4, 1.0)
    config.model.norm = "masking"
    config.model.masking.encoding = "orthogonal"
    config.model.masking.encoding_dim = 16
    config.model.masking.route_boundaries = (0.0,)
    config.train.epochs = 5
    return config
