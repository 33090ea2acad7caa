"""GAIRAT (Zhang et al., ICLR 2021) on CIFAR-10 at eps 8/255, as the
authors' code trains its "WRN-32-10" (a WideResNet of depth 34 and width
10): PGD-10 with step 2/255, weights from the PGD steps each sample needs
(tanh form, lambda -1) after 59 burn-in epochs of plain PGD-AT, SGD 0.1
dropped to x0.1 at epoch 60, x0.01 at 90 and x0.005 at 110 of 120, weight
decay 2e-4.

Should reproduce: RobustBench lists GAIRAT only trained with extra data
(entry Zhang2020Geometry, WideResNet-28-10); the paper's own figures are
PGD figures that AutoAttack lowered, so this preset's own run is the
figure.
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    config = cifar10_paper_base("wide_resnet", depth=34, width=10)
    config.weighting.name = "gairat"
    config.weighting.form = "tanh"
    config.weighting.schedule = "fixed"
    config.weighting.lam = -1.0
    config.weighting.burn_in_epochs = 59
    config.train.epochs = 120
    config.train.weight_decay = 2e-4
    config.train.lr_boundaries = (60, 90, 110)
    config.train.lr_multipliers = (0.1, 0.01, 0.005)
    return config
