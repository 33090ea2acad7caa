"""The README's main job: Free adversarial training (m = 4) of the small CNN
on Fashion-MNIST at eps 0.1, the fastest way this toolkit has to a robust
network (bench/fast_training.py, docs/RESULTS.md).

3 epochs over 58,000 training images (2,000 held out for validation and the
catastrophic-overfitting guard), each batch replayed 4 times: the cost of
about 12 epochs of standard training, under 10 minutes on 2 CPU cores with
the test-set evaluation (clean, PGD-20, CW-inf on all 10,000 images, and
the gradient-masking checks).
"""

from advmask_tf.configs_lib import preset


def get_config():
    config = preset(__file__, "fashion_mnist_free.py")
    config.data.validation_size = 2000
    config.train.epochs = 3
    return config
