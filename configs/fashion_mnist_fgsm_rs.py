"""FGSM with a random start ("Fast is better than free", Wong, Rice and
Kolter 2020) of the small CNN on Fashion-MNIST at eps 0.1: one gradient
step of 1.25 eps from a uniform start in the eps-ball, projected back onto
it; 2 forward-backward passes per image instead of Madry PGD-10's 11."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.attack.steps = 1
    config.attack.step_size = 1.25 * config.attack.eps
    config.attack.random_start = "uniform"
    # Single-step training can collapse: watch PGD-10 on 1000 held-out
    # images each epoch and restore the best weights if it does.
    config.guard.points = 1000
    return config
