"""The config's sections as declared schemas: one frozen dataclass per
section (data, model, attack, val_attack, train, guard, eval, mix, tune and
the top-level fields), each field declared once with
`advmask_tf.options.option` (type, default, what it accepts, help), and the
part sections (method, radius, weighting), whose blocks the registered
parts' own `Options` make up. `advmask_tf.configs_lib` builds the config
and checks it from these declarations.
"""

from __future__ import annotations

import dataclasses

from advmask_tf.attacks.registry import ATTACKS
from advmask_tf.data.sources import SOURCES
from advmask_tf.devices import JIT_SETTINGS, PRECISION_SETTINGS
from advmask_tf.distribute import STRATEGIES
from advmask_tf.layers.encodings import ENCODINGS
from advmask_tf.models.normalization import NORMS
from advmask_tf.models.zoo import MODELS
from advmask_tf.options import (
    Accepts,
    Tunable,
    flag,
    integer,
    number,
    numbers,
    one_of,
    option,
    text,
    texts,
)
from advmask_tf.training import OBJECTIVES, RADIUS_POLICIES, WEIGHTINGS
from advmask_tf.training.awp import AWPOptions
from advmask_tf.training.guard import ACTIONS
from advmask_tf.training.rescaling import TRAINABLE

MONITORS = ("val_robust_accuracy", "val_clean_accuracy")
SCHEDULES = ("constant", "cosine", "piecewise", "cyclic")
OPTIMIZERS = ("adam", "sgd")
WEIGHT_DECAY_STYLES = ("decoupled", "l2")
#: what a KerasTuner search maximises (advmask_tf.tuning.objectives).
SEARCH_OBJECTIVES = ("robust", "clean", "weighted", "clean_with_robust_floor")

@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The config's top-level fields."""

    seed: int = option(0, "seed of the data order, initialisation and "
                       "attacks' noise", integer(0))
    distribute: str = option("auto", "tf.distribute strategy (auto: "
                             "mirrored over several GPUs)",
                             one_of(*STRATEGIES))


@dataclasses.dataclass(frozen=True)
class MethodOptions:
    """The method block's fields that belong to no part."""

    track_clean_accuracy: bool = option(
        True, "log the clean training accuracy (an extra inference pass "
        "for objectives without a clean pass)", flag())


# The sections whose blocks come from a registry: section -> (registry,
# the schemas declared beside the parts in that block).
PART_SECTIONS = {
    "method": (OBJECTIVES, (AWPOptions, MethodOptions)),
    "radius": (RADIUS_POLICIES, ()),
    "weighting": (WEIGHTINGS, ()),
}


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """data: where the images come from and how they are split."""

    source: str = option("fashion_mnist", "the dataset's source (default: "
                         "Fashion-MNIST from Debian's package)",
                         one_of(*SOURCES))
    path: str = option("", "directory or file for idx, cifar_pickle, npz",
                       text())
    tfds_name: str = option("", "source=tfds: the dataset's name, e.g. "
                            "cifar10", text())
    data_dir: str = option("", "tensorflow-datasets data_dir", text())
    download: bool = option(False, "let tensorflow-datasets download",
                            flag())
    num_classes: int = option(0, "classes of the data",
                              integer(0, note="0: from the data"))
    validation_size: int = option(5000, "training images held out for "
                                  "selection", integer(0))
    train_limit: int = option(0, "training images used (before the split)",
                              integer(0, note="0: all training images"))
    test_limit: int = option(0, "test images used",
                             integer(0, note="0: the whole test set"))
    augment: str = option("auto", "pad-crop-flip augmentation (auto: for "
                          "32x32 colour data)", one_of("auto", True, False))


@dataclasses.dataclass(frozen=True)
class SplitOptions:
    """model.split: split batch norm (norm split_batchnorm)."""

    route_boundaries: tuple = option(
        (0.0,), "eps boundaries between routes of statistics; (0.0,) routes "
        "clean (eps = 0) and adversarial apart", numbers(low=0))
    split_rescaling: bool = option(True, "a rescaling (gamma, beta) per "
                                   "route as well", flag())


@dataclasses.dataclass(frozen=True)
class MaskingOptions:
    """model.masking: RobMask's perturbation-conditioned masking (norm
    masking): rescaling = relu/linear projection of an encoding of eps."""

    encoding: str = option("orthogonal", "how eps is encoded",
                           one_of(*ENCODINGS))
    encoding_dim: int = option(16, "the encoding's size (one_hot: the "
                               "number of strengths)", integer(1))
    strengths: tuple = option(
        (), "the set the encoding is defined on",
        numbers(0, 1, note="(): radius.strengths, or (0, attack.eps)"))
    max_eps: float = option(0.0, "sinusoidal scale",
                            number(low=0, note="0: the largest strength"))
    route_boundaries: tuple = option((), "eps boundaries between routes of "
                                     "statistics; () shares them",
                                     numbers(low=0))
    seed: int = option(0, "seed of the orthogonal code", integer(0))


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """model: the network."""

    name: str = option("small_cnn", "the architecture", one_of(*MODELS))
    norm: str = option("auto", "the normalisation; split_batchnorm and "
                       "masking condition the network on eps (it then takes "
                       "{'image', 'eps'})", one_of(*NORMS))
    options: dict = option({"width": 16, "dense_units": 128},
                           "the architecture's own arguments (width, "
                           "depth, ...)")
    split: SplitOptions = option(SplitOptions, "split batch norm")
    masking: MaskingOptions = option(MaskingOptions, "RobMask's masking")


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """train: the optimisation."""

    epochs: int = option(10, "epochs", integer(1))
    batch_size: int = option(128, "the global batch size", integer(1))
    optimizer: str = option("adam", "the optimizer", one_of(*OPTIMIZERS))
    learning_rate: float = option(1e-3, "the peak learning rate",
                                  number(low=0, low_open=True),
                                  tune=Tunable(log=True))
    momentum: float = option(0.9, "sgd: momentum",
                             number(0, 1, high_open=True))
    nesterov: bool = option(True, "sgd: Nesterov momentum", flag())
    weight_decay: float = option(0.0, "weight decay", number(low=0))
    weight_decay_style: str = option(
        "decoupled", "decoupled (Keras: outside the momentum) or l2 (added "
        "to the gradient, as PyTorch's SGD in the papers)",
        one_of(*WEIGHT_DECAY_STYLES))
    schedule: str = option("cosine", "the learning-rate schedule",
                           one_of(*SCHEDULES))
    lr_boundaries: tuple = option(
        (), "piecewise: epochs where the rate is multiplied by "
        "lr_multipliers[i] (() drops x0.1 at 50% and x0.01 at 75%)",
        numbers(low=0))
    lr_multipliers: tuple = option((), "piecewise: one multiplier per "
                                   "boundary", numbers(low=0))
    cyclic_peak: float = option(0.4, "cyclic: where the rate peaks, as a "
                                "fraction of the run",
                                number(0, 1, low_open=True, high_open=True))
    monitor: str = option("val_robust_accuracy", "the validation metric "
                          "that picks model.keras", one_of(*MONITORS))
    verbose: int = option(1, "1: a progress bar, 2: a line per epoch, 0: "
                          "quiet", one_of(0, 1, 2))
    init_from: str = option("", "start from the weights of a saved network "
                            "of the same architecture", text())
    trainable: str = option("all", "rescaling: train only batch norm's "
                            "gamma and beta (RobMask's analysis)",
                            one_of(*TRAINABLE))
    precision: str = option("auto", "the network's dtype policy (losses "
                            "and attacks always compute in float32; auto: "
                            "mixed_float16 on tensor-core GPUs)",
                            one_of(*PRECISION_SETTINGS))
    jit_compile: str = option("auto", "XLA for the train step (auto: on "
                              "with a single GPU)", one_of(*JIT_SETTINGS))
    ema_momentum: float = option(
        0.0, "keep an exponential moving average of the weights (e.g. "
        "0.999); validation and model.keras use it",
        number(0, 1, high_open=True, note="0: no weight averaging"))
    free_replays: int = option(
        0, "Free adversarial training: each minibatch replayed m times "
        "(divide epochs by about m)",
        integer(0, note="0: no Free adversarial training"))


@dataclasses.dataclass(frozen=True)
class GuardOptions:
    """guard: against catastrophic overfitting (single-step methods)."""

    points: int = option(0, "validation images of the PGD check",
                         integer(0, note="0: no guard"))
    steps: int = option(10, "PGD steps of the check", integer(1))
    every_steps: int = option(0, "also check every this many steps",
                              integer(0, note="0: at epoch ends only"))
    drop: float = option(0.2, "a fall below the best check that restores "
                         "its weights", number(0, 1, low_open=True,
                                               high_open=True))
    action: str = option("restore", "after restoring: go on or stop",
                         one_of(*ACTIONS))


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """eval: the test-set evaluation (budgets: `AttackBudgets`)."""

    eps: float = option(-1.0, "the radius attacked at",
                        number(high=1, note="< 0: the training eps"))
    condition_eps: float = option(
        -1.0, "what a conditioned network is told during evaluation",
        number(high=1, note="< 0: the eval eps"))
    limit: int = option(0, "test points",
                        integer(0, note="0: the whole test set"))
    batch_size: int = option(500, "evaluation batch size", integer(1))
    attacks: str = option(
        "pgd,cw_inf", "the attacks, comma-separated (autoattack: the "
        "standard version, APGD-CE -> APGD-T -> FAB-T -> Square)",
        # Each name is checked by the registry (naming the one unknown and
        # its nearest spelling) when check_config builds the attacks.
        Accepts(lambda value: isinstance(value, str),
                lambda: f"comma-separated names of {ATTACKS.names()} "
                "(pgd<K>: K steps)"))
    checks: bool = option(True, "run the gradient-masking sanity checks",
                          flag())
    check_points: int = option(500, "test points of the sanity checks",
                               integer(1))
    check_square_queries: int = option(1000, "Square's queries in the "
                                       "checks", integer(1))


@dataclasses.dataclass(frozen=True)
class MixOptions:
    """mix: a mixed classifier (robust network + standard one, MixedNUTS'
    map chosen on the validation split)."""

    enabled: bool = option(False, "train the mixture's two classifiers and "
                           "mix them", flag())
    accurate_epochs: int = option(10, "epochs of the accurate (standard) "
                                  "classifier", integer(1))
    accurate_width: int = option(0, "the accurate classifier's width",
                                 integer(0, note="0: model.options.width"))
    robust_drop: float = option(
        0.01, "how far the estimated validation robust accuracy may fall "
        "below the robust classifier's (a fraction)",
        number(0, 1, high_open=True))
    validation_points: int = option(
        2000, "validation points of the choice",
        integer(0, note="0: the whole validation split"))
    top_k: int = option(0, "logits the map standardises",
                        integer(0, note="0: all"))


@dataclasses.dataclass(frozen=True)
class TuneOptions:
    """tune: what a KerasTuner search varies and maximises (each declared
    tunable option adds a tune.<name> range: () keeps the base value)."""

    tuner: str = option("random", "KerasTuner's oracle",
                        one_of("random", "bayesian"))
    max_trials: int = option(8, "trials", integer(1))
    seed: int = option(0, "the oracle's seed", integer(0))
    methods: tuple = option((), "method.name choices", texts())
    radius_policies: tuple = option((), "radius.policy choices",
                                    texts())
    weightings: tuple = option((), "weighting.name choices", texts())
    eps: tuple = option((), "training eps choices (the step keeps its "
                        "ratio; the evaluation eps stays)", numbers(0, 1))
    objective: str = option("weighted", "what the search maximises",
                            one_of(*SEARCH_OBJECTIVES))
    robust_weight: float = option(0.5, "weighted: the robust accuracy's "
                                  "weight", number(0, 1))
    robust_floor: float = option(0.0, "clean_with_robust_floor: the robust "
                                 "accuracy a trial must reach",
                                 number(0, 1))
    validation_limit: int = option(
        0, "validation points per trial",
        integer(0, note="0: the whole split"))
