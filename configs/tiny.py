"""A seconds-long run for tests and smoke checks: 1200 images, PGD-3."""

from advmask_tf.configs_lib import base_config


def get_config():
    config = base_config()
    config.data.train_limit = 1200
    config.data.validation_size = 200
    config.data.test_limit = 200
    config.model.options.width = 8
    config.model.options.dense_units = 32
    config.attack.steps = 3
    config.val_attack.steps = 3
    config.train.epochs = 2
    config.train.batch_size = 100
    config.train.verbose = 2
    config.eval.pgd_steps = 3
    config.eval.cw_steps = 3
    config.eval.batch_size = 100
    config.eval.apgd_steps = 5
    config.eval.apgd_targets = 3
    config.eval.square_queries = 50
    config.eval.check_points = 50
    config.eval.check_square_queries = 50
    return config
