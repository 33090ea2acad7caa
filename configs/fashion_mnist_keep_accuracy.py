"""Keep the accuracy: one model with standard training's clean accuracy and
Madry's robustness (the trade-off issue's target), Fashion-MNIST, eps 0.1.

A mixed classifier (advmask_tf.runs.mixing, MixedNUTS' map): the robust
classifier is Free adversarial training (m = 4) of the small CNN for 4
epochs; the accurate one is standard training of the small CNN at width 32
for 4 epochs; the map and the mixing weight are chosen on the 2,000
held-out validation images so that the estimated robust accuracy falls at
most 2.5 points below the robust classifier's own. model.keras is the
mixture, one plain image -> logits model; its evaluation adds PGD and
CW-inf crafted on each classifier and on a relaxed surrogate.

Sized to train within the wall-clock of 5 full-data Madry epochs on 2 CPU
cores (bench/frontier.py measures both in one invocation).
"""

from advmask_tf.configs_lib import preset


def get_config():
    config = preset(__file__, "fashion_mnist_free.py")
    config.data.validation_size = 2000
    config.train.epochs = 4
    config.mix.enabled = True
    config.mix.accurate_epochs = 4
    config.mix.accurate_width = 32
    config.mix.robust_drop = 0.025
    config.mix.validation_points = 2000
    return config
