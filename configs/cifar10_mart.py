"""MART (Wang et al., ICLR 2020) of WideResNet-34-10 on CIFAR-10 at eps
8/255, as the authors' code trains it: beta 6, PGD-10 with step 2/255,
SGD 0.1 dropped x0.1 at epoch 75 of 90, weight decay 7e-4.

Should reproduce: RobustBench lists MART only trained with 500k extra
unlabeled images (entry Wang2020Improving, WideResNet-28-10), not this
setting; this preset's own run is the figure.
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    config = cifar10_paper_base("wide_resnet", depth=34, width=10)
    config.method.name = "mart"
    config.method.beta = 6.0
    config.train.epochs = 90
    config.train.weight_decay = 7e-4
    config.train.lr_boundaries = (75,)
    config.train.lr_multipliers = (0.1,)
    return config
