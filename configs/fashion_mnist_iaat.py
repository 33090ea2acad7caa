"""IAAT of the small CNN on Fashion-MNIST, warmup radius 0.1.

Instance-adaptive radii (the paper's +-gamma rule) after 2 warmup epochs at
eps 0.1, and the IAAT objective: adversarial loss for clean-correct samples,
clean loss for the rest. `--config.radius.rule=authors_code` selects the
authors' code's rule (a second probe attack per step, smoothed updates).
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "iaat"
    config.radius.policy = "adaptive"
    return config
