"""The base experiment config every file under configs/ starts from.

Every field a run reads is here, so any of them can be overridden on the
command line (`--config.attack.eps=0.2`). Config files change fields of
`base_config()`; they never add new ones.
"""

from __future__ import annotations

import ml_collections


def default_data_config() -> ml_collections.ConfigDict:
    """Fashion-MNIST from Debian's package, 5000 training images held out."""
    return ml_collections.ConfigDict({
        # fashion_mnist | idx | cifar_pickle | npz | tfds
        "source": "fashion_mnist",
        "path": "",           # directory/file for idx, cifar_pickle, npz
        "tfds_name": "",      # e.g. "cifar10" for source=tfds
        "data_dir": "",       # tensorflow-datasets data_dir
        "download": False,    # let tensorflow-datasets download
        "num_classes": 0,     # 0: from the source
        "validation_size": 5000,
        "train_limit": 0,     # 0: all training images (before the split)
        "test_limit": 0,      # 0: the whole test set
        "augment": "auto",    # auto: pad-crop-flip for 32x32 colour data
    })


def base_config() -> ml_collections.ConfigDict:
    """Madry PGD-AT of the small CNN on Fashion-MNIST at eps 0.1."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.distribute = "auto"  # auto | none | mirrored | multi_worker
    config.data = default_data_config()
    config.model = ml_collections.ConfigDict({
        "name": "small_cnn",
        "norm": "auto",
        # Model-specific arguments of build_model (width, depth, ...).
        "options": ml_collections.ConfigDict({"width": 16,
                                              "dense_units": 128}),
    })
    config.method = ml_collections.ConfigDict({
        "name": "madry",              # standard | madry | trades
        "beta": 6.0,                  # TRADES
        "track_clean_accuracy": True,
    })
    config.attack = ml_collections.ConfigDict({
        "eps": 0.1,
        "steps": 10,
        "step_size": 0.025,
        "norm": "linf",
        "random_start": "uniform",   # trades uses "normal" (x + 0.001 N(0,1))
        "bn_mode": "inference",
    })
    config.val_attack = ml_collections.ConfigDict({"steps": 10})
    config.train = ml_collections.ConfigDict({
        "epochs": 10,
        "batch_size": 128,
        "optimizer": "adam",          # adam | sgd
        "learning_rate": 1e-3,
        "momentum": 0.9,              # sgd
        "weight_decay": 0.0,
        "schedule": "cosine",         # constant | cosine | piecewise
        # Which validation metric picks model.keras: val_robust_accuracy or
        # val_clean_accuracy (standard training: robust accuracy stays 0).
        "monitor": "val_robust_accuracy",
        "verbose": 1,          # 1: progress bar, 2: a line per epoch, 0: quiet
    })
    config.eval = ml_collections.ConfigDict({
        "eps": -1.0,          # < 0: the training eps
        "pgd_steps": 20,
        "cw_steps": 20,
        "limit": 0,           # 0: the whole test set
        "batch_size": 500,
    })
    return config
