"""A KerasTuner search on Fashion-MNIST: Madry or TRADES, learning rate and
TRADES' beta, maximising the mean of validation clean and robust accuracy.

    .venv/bin/advmask-tune --config=configs/fashion_mnist_tune.py \
        --workdir=runs/tune [--config.tune.max_trials=4]

Each trial is a 3-epoch run of the small CNN (about 15 minutes on 2 CPU
cores), evaluated with PGD-20 and CW-inf on the first 2,000 validation images.
"""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.train.epochs = 3
    config.train.verbose = 2
    config.tune.methods = ("madry", "trades")
    config.tune.learning_rate = (3e-4, 3e-3)
    config.tune.beta = (1.0, 10.0)
    config.tune.objective = "weighted"
    config.tune.robust_weight = 0.5
    config.tune.validation_limit = 2000
    return config
