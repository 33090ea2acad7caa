"""FGSM with a random start ("Fast is better than free", Wong, Rice and
Kolter, ICLR 2020) of PreAct ResNet-18 on CIFAR-10 at eps 8/255: one step
of 10/255 from a uniform start, a cyclic learning rate rising to 0.2 and
back to 0 over 15 epochs, weight decay 5e-4; PGD-10 on 1,000 held-out
images each epoch guards against catastrophic overfitting.

Should reproduce (RobustBench entry Wong2020Fast): 83.34% clean, 46.06%
PGD-50 (the paper), 43.21% AutoAttack.
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    config = cifar10_paper_base("preact_resnet18", width=64)
    config.attack.steps = 1
    config.attack.step_size = 10 / 255
    config.attack.random_start = "uniform"
    config.train.epochs = 15
    config.train.schedule = "cyclic"
    config.train.learning_rate = 0.2
    config.train.lr_boundaries = ()
    config.train.lr_multipliers = ()
    config.guard.points = 1000
    return config
