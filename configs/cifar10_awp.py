"""TRADES-AWP (Wu, Xia and Wang, NeurIPS 2020) of WideResNet-34-10 on
CIFAR-10 at eps 8/255: TRADES (beta 6) with adversarial weight
perturbation gamma 5e-3 after 10 warm-up epochs, SGD 0.1 dropped x0.1 at
epoch 100 and x0.01 at 150 of 200, weight decay 5e-4.

Should reproduce (RobustBench entry Wu2020Adversarial): 85.36% clean,
56.17% AutoAttack.
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    config = cifar10_paper_base("wide_resnet", depth=34, width=10)
    config.method.name = "trades"
    config.method.beta = 6.0
    config.method.awp_gamma = 5e-3
    config.method.awp_warmup_epochs = 10
    config.attack.step_size = 0.007
    return config
