"""TRADES (Zhang et al., ICML 2019) of WideResNet-34-10 on CIFAR-10 at eps
8/255, as the authors' code trains it: beta 6, PGD-10 on the KL term with
step 0.007 (about 2/255) from x + 0.001 N(0, 1), SGD 0.1 dropped x0.1 at
epoch 75 of 76, weight decay 2e-4.

Should reproduce (RobustBench entry Zhang2019Theoretically): 84.92% clean,
56.43% PGD-20 (the paper), 53.08% AutoAttack.
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    config = cifar10_paper_base("wide_resnet", depth=34, width=10)
    config.method.name = "trades"
    config.method.beta = 6.0
    config.attack.step_size = 0.007
    config.train.epochs = 76
    config.train.weight_decay = 2e-4
    config.train.lr_boundaries = (75,)
    config.train.lr_multipliers = (0.1,)
    return config
