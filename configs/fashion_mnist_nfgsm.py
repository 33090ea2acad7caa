"""N-FGSM (de Jorge et al. 2022, "Make some noise") of the small CNN on
Fashion-MNIST at eps 0.1: uniform noise from the ball of 2 eps, one
gradient step of eps, no projection back onto the eps-ball (only the
[0, 1] clip); the cost of FGSM, without its catastrophic overfitting at
larger eps."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.attack.steps = 1
    config.attack.step_size = config.attack.eps
    config.attack.random_start = "uniform"
    config.attack.start_radius = 2.0
    config.attack.project = False
    # Single-step training can collapse: watch PGD-10 on 1000 held-out
    # images each epoch and restore the best weights if it does.
    config.guard.points = 1000
    return config
