"""HAT (Rade & Moosavi-Dezfooli, ICLR 2022) of the small CNN on
Fashion-MNIST at eps 0.1: TRADES (beta 6) plus the cross-entropy of helper
examples x + h (x_adv - x), h 3.5, weight gamma 1 (the authors' code's
CIFAR-10 values), labelled by a standard network's prediction on x_adv.
The helper is trained first in <workdir>/helper (standard training for
train.epochs) unless method.helper_from names a saved one; its training
time counts in the run's.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "hat"
    config.method.beta = 6.0
    config.method.helper_scale = 3.5
    config.method.helper_weight = 1.0
    return config
