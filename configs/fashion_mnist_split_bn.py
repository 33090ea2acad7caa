"""Split batch norm (AdvProp-style) on Fashion-MNIST.

One network, separate batch-norm statistics and rescaling for clean (eps = 0)
and adversarial (eps > 0) inputs, trained on the clean CE plus the
adversarial CE at eps 0.1. Evaluation tells the network the evaluation eps
(the adversarial route); `--config.eval.condition_eps=0` evaluates the clean
route instead.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.method.name = "mixed"
    config.model.norm = "split_batchnorm"
    config.model.split.route_boundaries = (0.0,)
    config.train.epochs = 5
    return config
