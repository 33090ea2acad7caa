"""The base experiment config every file under configs/ starts from, derived
from the declared options.

A run's sections are schemas (dataclasses whose fields are declared with
`advmask_tf.options.option`: type, default, accepted values, help): the
method, radius and weighting blocks are the union of the options their
registered parts declare (`advmask_tf.registry.Part`), the others are
declared below or by the module they belong to (the evaluation attacks'
budgets by `advmask_tf.attacks.AttackBudgets`). Config files change fields
of `base_config()`; they never add new ones. `check_sections` checks every
field against its declaration; `reference_markdown` is the documentation's
config reference.
"""

from __future__ import annotations

import dataclasses

import ml_collections

from advmask_tf.attacks.pgd import BN_MODES, STARTS
from advmask_tf.attacks.pgd import NORMS as ATTACK_NORMS
from advmask_tf.attacks.registry import (
    ATTACKS,
    AttackBudgets,
)
from advmask_tf.data.sources import SOURCES
from advmask_tf.devices import JIT_SETTINGS, PRECISION_SETTINGS
from advmask_tf.distribute import STRATEGIES
from advmask_tf.layers.encodings import ENCODINGS
from advmask_tf.models.normalization import NORMS
from advmask_tf.models.zoo import MODELS
from advmask_tf.options import (
    Accepts,
    Tunable,
    check_block,
    config_block,
    declared,
    flag,
    integer,
    number,
    numbers,
    one_of,
    option,
    text,
    texts,
)
from advmask_tf.registry import Registry
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
        numbers(low=0, note="(): radius.strengths, or (0, attack.eps)"))
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
class AttackOptions:
    """attack: the training attack (PGD; its loss is the objective's)."""

    eps: float = option(0.1, "the training radius (Linf unless norm l2)",
                        number(0, 1, note="pixels are in [0, 1]"))
    steps: int = option(10, "attack iterations", integer(1))
    step_size: float = option(0.025, "the step per iteration", number(0, 1))
    norm: str = option("linf", "the threat model", one_of(*ATTACK_NORMS))
    random_start: str = option(
        "auto", "where the attack starts (auto: the objective's; TRADES "
        "x + 0.001 N(0, 1), the others uniform)", one_of("auto", *STARTS))
    bn_mode: str = option("inference", "batch norm while attacking",
                          one_of(*BN_MODES))
    start_radius: float = option(1.0, "the uniform start's ball, in eps "
                                 "(N-FGSM: 2)", number(low=0, low_open=True))
    project: bool = option(True, "project iterates onto the eps-ball "
                           "(N-FGSM: False; the [0, 1] clip always "
                           "applies)", flag())


@dataclasses.dataclass(frozen=True)
class ValidationAttackOptions:
    """val_attack: the attack of the per-epoch validation (PGD at attack.eps)."""

    steps: int = option(10, "PGD steps", integer(1))


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


def part_schemas(section: str) -> list:
    """The schemas of a part section's block: every registered part's
    `Options` and the schemas declared beside them."""
    registry, extra = PART_SECTIONS[section]
    return [registry.get(name).Options for name in registry.names()] + list(
        extra)


def name_field(registry: Registry) -> str:
    """The field of a part block that names the part ("name", "policy")."""
    return registry.field.split(".", 1)[1]


def part_block(section: str) -> ml_collections.ConfigDict:
    """A part section's block: the part's name and the union of the
    declared options. Parts of one block that declare the same option must
    declare it alike (TRADES and MART share method.beta)."""
    registry, _ = PART_SECTIONS[section]
    seen = {}
    for schema in part_schemas(section):
        for option_ in declared(schema):
            if not option_.in_config:
                continue
            other = seen.setdefault(option_.name, option_)
            if (other.default, other.describe()) != (
                    option_.default, option_.describe()):
                raise ValueError(
                    f"{section}.{option_.name} is declared twice, with "
                    f"defaults {other.default!r} and {option_.default!r}: "
                    "give one of the parts' options another name.")
    block = config_block(*part_schemas(section))
    block[name_field(registry)] = registry.default
    return block


# section -> the schemas of its block (part sections: see PART_SECTIONS).
SECTIONS = {
    "data": (DataOptions,),
    "model": (ModelOptions,),
    "attack": (AttackOptions,),
    "val_attack": (ValidationAttackOptions,),
    "train": (TrainOptions,),
    "guard": (GuardOptions,),
    "eval": (EvalOptions, AttackBudgets),
    "mix": (MixOptions,),
}


def tunable_options() -> dict:
    """{option name: (section, Declared)} of every option declared
    tunable (KerasTuner searches it over tune.<name>)."""
    found = {}
    schemas = [(s, schema) for s, schemas in SECTIONS.items()
               for schema in schemas]
    schemas += [(s, schema) for s in PART_SECTIONS
                for schema in part_schemas(s)]
    for section, schema in schemas:
        for option_ in declared(schema):
            if option_.tune is not None:
                found.setdefault(option_.name, (section, option_))
    return found


def tune_block() -> ml_collections.ConfigDict:
    block = config_block(TuneOptions)
    for name in tunable_options():
        block[name] = ()
    return block


def default_data_config() -> ml_collections.ConfigDict:
    """Fashion-MNIST from Debian's package, 5000 training images held out."""
    return config_block(DataOptions)


def base_config() -> ml_collections.ConfigDict:
    """Madry PGD-AT of the small CNN on Fashion-MNIST at eps 0.1.

    >>> config = base_config()
    >>> config.method.name, config.method.beta, config.radius.policy
    ('madry', 6.0, 'fixed')
    """
    config = config_block(RunOptions)
    for section, schemas in SECTIONS.items():
        config[section] = config_block(*schemas)
    for section in PART_SECTIONS:
        config[section] = part_block(section)
    config.tune = tune_block()
    return config


def check_sections(config) -> None:
    """Raises InputError for the first field outside what its declaration
    accepts, naming it (`<section>.<field>`).

    >>> config = base_config(); config.train.learning_rate = -1.0
    >>> check_sections(config)
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: train.learning_rate must be a number > 0; ...
    """
    for option_ in declared(RunOptions):
        check_block("config", {option_.name: config[option_.name]},
                    RunOptions)
    for section, schemas in SECTIONS.items():
        check_block(section, config[section], *schemas)
    for section in PART_SECTIONS:
        check_block(section, config[section], *part_schemas(section))
    check_block("tune", config.tune, TuneOptions)


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


def _owners(section: str) -> dict:
    """{option name: the part names declaring it} of a part section."""
    registry, extra = PART_SECTIONS[section]
    owners = {}
    for name in registry.names():
        for option_ in declared(registry.get(name).Options):
            owners.setdefault(option_.name, []).append(name)
    for schema in extra:
        for option_ in declared(schema):
            owners.setdefault(option_.name, [])
    return owners


def reference_rows():
    """(field, default, accepted values, help) of every config field, from
    the declarations, section by section."""
    rows = []

    def add(prefix, schemas, owners=None):
        for schema in schemas:
            for option_ in declared(schema):
                if not option_.in_config:
                    continue
                field = f"{prefix}{option_.name}"
                if option_.nested:
                    add(f"{field}.", (type(option_.default),))
                    continue
                help_ = option_.help
                if owners and owners.get(option_.name):
                    help_ += f" [{', '.join(owners[option_.name])}]"
                accepts = option_.describe() if option_.accepts else "any"
                rows.append((field, repr(option_.default), accepts, help_))

    add("", (RunOptions,))
    for section, schemas in SECTIONS.items():
        add(f"{section}.", schemas)
    for section, (registry, _) in PART_SECTIONS.items():
        rows.append((f"{section}.{name_field(registry)}",
                     repr(registry.default), f"one of {registry.names()}",
                     f"the {registry.kind}"))
        add(f"{section}.", part_schemas(section), _owners(section))
    add("tune.", (TuneOptions,))
    for name, (section, _) in tunable_options().items():
        rows.append((f"tune.{name}", "()", "() or (low, high)",
                     f"KerasTuner's range for {section}.{name}"))
    return rows


def reference_markdown() -> str:
    """The config reference as a markdown table (the docs' page).

    >>> print(reference_markdown().splitlines()[6])
    | `seed` | `0` | an integer >= 0 | seed of the data order, ... |
    """
    lines = ["# Config reference", "",
             "Every field of `base_config()`, generated from the options "
             "each part and section declares (`advmask_tf.configs_lib`). "
             "Set any of them with `--config.<field>=<value>`; the parts "
             "that take a part block's option are in brackets.", "",
             "| field | default | accepts | what it does |",
             "| --- | --- | --- | --- |"]
    for field, default, accepts, help_ in reference_rows():
        cell = help_.replace("|", "\\|")
        lines.append(f"| `{field}` | `{default}` | {accepts} | {cell} |")
    return "\n".join(lines) + "\n"


def reference_text() -> str:
    """The config reference for --help: a line per field."""
    return "\n".join(f"  --config.{field}={default}  {help_} ({accepts})"
                     for field, default, accepts, help_ in reference_rows())
