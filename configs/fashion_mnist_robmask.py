"""RobMask on Fashion-MNIST: perturbation-conditioned masking.

Each training sample gets a strength drawn from {0, 0.025, 0.05, 0.075, 0.1};
the network is attacked at it while told it, and trained on the clean CE (told
0) plus the adversarial CE (told the strength). The masking layers produce
batch norm's rescaling from an orthogonal encoding of the strength.
Evaluation tells the network the evaluation eps; `advmask-eval
--condition_sweep` traces the trade-off of the one model.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "mixed"
    config.method.clean_weight = 1.0
    config.method.adv_weight = 1.0
    config.radius.policy = "sampled"
    config.radius.strengths = (0.0, 0.025, 0.05, 0.075, 0.1)
    config.model.norm = "masking"
    config.model.masking.encoding = "orthogonal"
    config.model.masking.encoding_dim = 16
    config.train.epochs = 5
    return config
