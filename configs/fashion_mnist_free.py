"""Free adversarial training (Shafahi et al. 2019, "Adversarial training for
free!") of the small CNN on Fashion-MNIST at eps 0.1: each minibatch
replayed m = 4 times, the perturbation moved by eps with the same backward
pass that updates the weights. An epoch costs 4 forward-backward passes per
image (Madry PGD-10: 11), so the preset runs the base epochs divided by m.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.train.free_replays = 4
    config.train.epochs = max(1, config.train.epochs // 4)
    config.attack.step_size = config.attack.eps
    config.attack.random_start = "uniform"
    # Free training can overfit catastrophically too (less often than
    # FGSM): watch PGD-10 on 1000 held-out images each epoch.
    config.guard.points = 1000
    return config
