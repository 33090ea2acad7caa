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
        # auto | batchnorm | sync_batchnorm | none, or conditioned on eps
        # (the network then takes {"image", "eps"}): split_batchnorm |
        # masking (RobMask).
        "norm": "auto",
        # Model-specific arguments of build_model (width, depth, ...).
        "options": ml_collections.ConfigDict({"width": 16,
                                              "dense_units": 128}),
        # split_batchnorm: statistics (and rescaling) per route of eps;
        # (0.0,) routes clean (eps = 0) and adversarial (eps > 0) apart.
        "split": ml_collections.ConfigDict({
            "route_boundaries": (0.0,),
            "split_rescaling": True,
        }),
        # masking: rescaling = relu/linear projection of an encoding of eps.
        "masking": ml_collections.ConfigDict({
            "encoding": "orthogonal",   # orthogonal | one_hot | sinusoidal
            "encoding_dim": 16,         # one_hot: the number of strengths
            # The set the encoding is defined on; () uses radius.strengths,
            # or (0, attack.eps) when those are not set.
            "strengths": (),
            "max_eps": 0.0,             # sinusoidal scale; 0: max strength
            "route_boundaries": (),     # () shares statistics over eps
            "seed": 0,
        }),
    })
    config.method = ml_collections.ConfigDict({
        # standard | madry | trades | mart | iaat | mixed (RobMask: weighted clean
        # and adversarial CE) | oat, or any objective registered in
        # advmask_tf.training.objectives.OBJECTIVES
        "name": "madry",
        "beta": 6.0,                  # TRADES, MART
        "clean_weight": 1.0,          # mixed
        "adv_weight": 1.0,            # mixed
        # Adversarial weight perturbation (AWP, Wu et al. 2020) on top of
        # any attacking objective: each kernel moved by awp_gamma times its
        # norm along the loss's gradient before the step (0: off; the
        # paper: 5e-3 with TRADES, 1e-2 with Madry).
        # oat (once-for-all): the set each sample's trade-off weight lambda
        # is drawn from; the network (model.norm masking) is told
        # lambda * attack.eps.
        "lambdas": (0.0, 0.1, 0.2, 0.3, 0.4, 1.0),
        "awp_gamma": 0.0,
        "awp_warmup_epochs": 0,
        "track_clean_accuracy": True,
    })
    # Which eps each training sample is attacked at (IAAT: "adaptive").
    config.radius = ml_collections.ConfigDict({
        "policy": "fixed",            # fixed | adaptive | sampled
        # sampled (RobMask): each sample's eps drawn from `strengths`, or
        # uniformly from [low, high] when strengths is () (high 0: attack.eps).
        "strengths": (),
        "low": 0.0,
        "high": 0.0,
        "rule": "paper",              # adaptive: paper | authors_code
        # The CIFAR defaults scaled to eps 0.1: gamma 1.9/255 of 8/255.
        "gamma": 0.024,
        "smoothing": 0.1,             # authors_code: the code's beta
        "warmup_epochs": 2,           # at attack.eps, radii untouched
        "max_eps": 0.0,               # 0: no cap
        "step_fraction": 0.2,         # step = max(eps_i * this, attack.step_size)
    })
    # How much each adversarial example counts (GAIRAT: "gairat").
    config.weighting = ml_collections.ConfigDict({
        "name": "uniform",            # uniform | gairat
        "form": "tanh",               # tanh | sigmoid | discrete
        "schedule": "fixed",          # fixed | linear | piecewise
        "lam": -1.0,                  # fixed; +inf gives Madry AT
        "lam_start": 3.0,             # linear: first weighted epoch
        "lam_end": -1.0,              # linear: last epoch
        "lam_boundaries": (),         # piecewise: epochs where lambda changes
        "lam_values": (),             # piecewise: one more than boundaries
        "burn_in_epochs": 2,          # uniform weights before this epoch
    })
    config.attack = ml_collections.ConfigDict({
        "eps": 0.1,
        "steps": 10,
        "step_size": 0.025,
        "norm": "linf",
        # auto: the objective's (TRADES: "normal", x + 0.001 N(0, 1); the
        # others "uniform"); or uniform | normal | none.
        "random_start": "auto",
        "bn_mode": "inference",
        # The uniform start's ball, in eps (N-FGSM: 2), and whether each
        # iterate is projected back onto the eps-ball (N-FGSM: False; the
        # [0, 1] clip always applies).
        "start_radius": 1.0,
        "project": True,
    })
    config.val_attack = ml_collections.ConfigDict({"steps": 10})
    config.train = ml_collections.ConfigDict({
        "epochs": 10,
        "batch_size": 128,
        "optimizer": "adam",          # adam | sgd
        "learning_rate": 1e-3,
        "momentum": 0.9,              # sgd
        "nesterov": True,             # sgd
        "weight_decay": 0.0,
        # decoupled (Keras: w -= lr * wd * w outside the momentum) | l2
        # (wd * w added to the gradient, as PyTorch's SGD, which the papers
        # use: with momentum 0.9 about 10 times the decay of "decoupled").
        "weight_decay_style": "decoupled",
        "schedule": "cosine",         # constant | cosine | piecewise | cyclic
        # piecewise: the rate is multiplied by lr_multipliers[i] from epoch
        # lr_boundaries[i] on; () drops x0.1 at 50% and x0.01 at 75%.
        "lr_boundaries": (),
        "lr_multipliers": (),
        # cyclic: 0 -> learning_rate at this fraction of the run -> 0.
        "cyclic_peak": 0.4,
        # Which validation metric picks model.keras: val_robust_accuracy or
        # val_clean_accuracy (standard training: robust accuracy stays 0).
        "monitor": "val_robust_accuracy",
        "verbose": 1,          # 1: progress bar, 2: a line per epoch, 0: quiet
        # Start from the weights of a saved network (a .keras file of the
        # same architecture), e.g. another run's model.keras.
        "init_from": "",
        # all | rescaling: train only batch norm's gamma and beta, batch norm
        # on its moving statistics (the RobMask paper's analysis).
        "trainable": "all",
        # auto | float32 | mixed_float16 | mixed_bfloat16: the network's
        # dtype policy (losses, margins and attacks always compute in
        # float32); auto: mixed_float16 on GPUs with tensor cores, float32
        # elsewhere (stored resolved in the work directory).
        "precision": "auto",
        # auto | on | off: XLA for the train step; auto: on with a single
        # GPU, off on the CPU (slower there) and with several replicas.
        "jit_compile": "auto",
        # > 0: keep an exponential moving average of the weights with this
        # momentum (e.g. 0.999); validation, the best-network selection,
        # the checkpoints and model.keras then use the averaged weights.
        "ema_momentum": 0.0,
        # m > 0: Free adversarial training (Shafahi et al. 2019): each
        # minibatch replayed m times, the perturbation moved by the weights'
        # backward pass (attack.steps unused); an epoch then costs m
        # forward-backward passes per image, so divide epochs by about m.
        "free_replays": 0,
    })
    # The guard against catastrophic overfitting (single-step methods):
    # PGD-`steps` robust accuracy on the first `points` validation images
    # at each epoch's end (and every `every_steps` steps); a fall of more
    # than `drop` below the best check restores that check's weights, then
    # `action`: restore (go on) or restore_and_stop.
    config.guard = ml_collections.ConfigDict({
        "points": 0,          # 0: no guard
        "steps": 10,
        "every_steps": 0,
        "drop": 0.2,
        "action": "restore",
    })
    config.eval = ml_collections.ConfigDict({
        "eps": -1.0,          # < 0: the training eps
        # What a conditioned network (norm split_batchnorm / masking) is told
        # during evaluation, clean and attacked alike; < 0: the eval eps.
        "condition_eps": -1.0,
        "pgd_steps": 20,
        "cw_steps": 20,
        "limit": 0,           # 0: the whole test set
        "batch_size": 500,
        # Comma-separated: pgd (pgd_steps steps) or pgd<K>, cw_inf, apgd_ce,
        # apgd_t, apgd_dlr, fab_t, square, autoattack (the standard version:
        # APGD-CE -> APGD-T -> FAB-T -> Square), autoattack_fast (without
        # FAB-T), autoattack_rand (APGD-CE -> APGD-DLR with 20 EOT draws).
        # AutoAttack costs minutes per 1000 points on 2 CPU cores for the
        # small CNN, so advmask-train leaves it to advmask-eval.
        "attacks": "pgd,cw_inf",
        "apgd_steps": 100,
        "apgd_targets": 9,
        "fab_steps": 100,
        "square_queries": 5000,
        # Square's p schedule: "official" (AutoAttack's standard version)
        # or "rescaled" (the halvings spread over any query budget).
        "square_schedule": "official",
        # Gradient-masking sanity checks (advmask_tf/evaluation/checks.py),
        # on the first check_points test points.
        "checks": True,
        "check_points": 500,
        "check_square_queries": 1000,
    })
    # A mixed classifier (advmask_tf.runs.mixing): the run trains the
    # configured (robust) network in <workdir>/robust and the same model by
    # standard training in <workdir>/accurate, chooses MixedNUTS' map and
    # weight on the validation split, and its model.keras is the mixture.
    config.mix = ml_collections.ConfigDict({
        "enabled": False,
        "accurate_epochs": 10,
        "accurate_width": 0,          # 0: model.options.width
        # The estimated validation robust accuracy may fall this far below
        # the robust classifier's own (a fraction).
        "robust_drop": 0.01,
        "validation_points": 2000,    # 0: the whole validation split
        "top_k": 0,                   # logits the map standardises; 0: all
    })
    # advmask-tune: what a KerasTuner search varies (() keeps the base
    # value) and what it maximises on the validation split.
    config.tune = ml_collections.ConfigDict({
        "tuner": "random",            # random | bayesian
        "max_trials": 8,
        "seed": 0,
        # Method parts, each a tuple of choices.
        "methods": (),                # e.g. ("madry", "trades", "mixed")
        "radius_policies": (),        # e.g. ("fixed", "adaptive")
        "weightings": (),             # e.g. ("uniform", "gairat")
        # Hyper-parameters: eps choices, (low, high) ranges otherwise.
        "eps": (),
        "learning_rate": (),          # log scale
        "beta": (),                   # TRADES, log scale
        "gamma": (),                  # adaptive radii
        "lam": (),                    # GAIRAT weights
        "adv_weight": (),             # mixed
        # robust | clean | weighted | clean_with_robust_floor
        "objective": "weighted",
        "robust_weight": 0.5,         # weighted
        "robust_floor": 0.0,          # clean_with_robust_floor
        "validation_limit": 0,        # validation points per trial; 0: all
    })
    return config


def preset(config_file: str, sibling: str) -> ml_collections.ConfigDict:
    """`get_config()` of the config file `sibling` next to `config_file`.

    Lets a config file start from another one ("the IAAT preset plus one
    field") whatever the working directory.
    """
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(config_file)),
                        sibling)
    spec = importlib.util.spec_from_file_location(
        "advmask_preset_" + os.path.splitext(sibling)[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def cifar10_paper_base(model: str, **options) -> ml_collections.ConfigDict:
    """The CIFAR-10 setting the adversarial-training papers share, as their
    PyTorch code runs it: eps 8/255, PGD-10 with step 2/255, SGD with
    momentum 0.9 (no Nesterov), learning rate 0.1 dropped x0.1 at epoch 100
    and x0.01 at 150 of 200, weight decay 5e-4 added to the gradient,
    batch 128, pad-crop-flip augmentation. 1,000 training images are held
    out to pick the best epoch (the papers pick on the test set or not at
    all). The paper presets under configs/ change what their paper changes.

    >>> config = cifar10_paper_base("preact_resnet18")
    >>> config.data.tfds_name, round(config.attack.eps * 255)
    ('cifar10', 8)
    """
    config = base_config()
    config.data.source = "tfds"
    config.data.tfds_name = "cifar10"
    config.data.validation_size = 1000
    config.model.name = model
    config.model.options = ml_collections.ConfigDict(options)
    config.attack.eps = 8 / 255
    config.attack.step_size = 2 / 255
    config.attack.steps = 10
    config.train.optimizer = "sgd"
    config.train.learning_rate = 0.1
    config.train.momentum = 0.9
    config.train.nesterov = False
    config.train.weight_decay = 5e-4
    config.train.weight_decay_style = "l2"
    config.train.batch_size = 128
    config.train.epochs = 200
    config.train.schedule = "piecewise"
    config.train.lr_boundaries = (100, 150)
    config.train.lr_multipliers = (0.1, 0.01)
    config.eval.batch_size = 200
    return config
