"""IAAT (Balaji, Goldstein and Hoffman 2019, instance adaptive
adversarial training) of WideResNet-28-10 on CIFAR-10: a radius per
training image, grown by gamma 1.9/255 when the image is still classified
correctly at it and shrunk otherwise (the authors' code's rule), after 10
warm-up epochs at 8/255; batch 256, SGD 0.1 dropped x0.2 at epochs 70, 90
and 100 of 110.

Should reproduce: neither RobustBench nor a leaderboard lists IAAT with an
AutoAttack figure we could check; this preset's own run is the figure.
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    config = cifar10_paper_base("wide_resnet", depth=28, width=10)
    config.method.name = "iaat"
    config.radius.policy = "adaptive"
    config.radius.rule = "authors_code"
    config.radius.gamma = 1.9 / 255
    config.radius.warmup_epochs = 10
    config.train.batch_size = 256
    config.train.epochs = 110
    config.train.lr_boundaries = (70, 90, 100)
    config.train.lr_multipliers = (0.2, 0.04, 0.008)
    return config
