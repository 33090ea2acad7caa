"""The base experiment config every file under configs/ starts from, derived
from the declared options.

A run's sections are schemas (dataclasses whose fields are declared with
`advmask_tf.options.option`: type, default, accepted values, help): the
method, radius and weighting blocks are the union of the options their
registered parts declare (`advmask_tf.registry.Part`), the others are
declared in `advmask_tf.config_sections` (the evaluation attacks' budgets
by `advmask_tf.attacks.AttackBudgets`). Config files change fields of
`base_config()`; they never add new ones. `check_sections` checks every
field against its declaration; `advmask_tf.config_reference` renders the
documentation's config reference from the same declarations.
"""

from __future__ import annotations

import ml_collections

from advmask_tf.attacks.registry import AttackBudgets
from advmask_tf.config_sections import (  # noqa: F401 (the config's names)
    MONITORS,
    OPTIMIZERS,
    PART_SECTIONS,
    SCHEDULES,
    SEARCH_OBJECTIVES,
    WEIGHT_DECAY_STYLES,
    DataOptions,
    EvalOptions,
    GuardOptions,
    MixOptions,
    ModelOptions,
    RunOptions,
    TrainOptions,
    TuneOptions,
)
from advmask_tf.options import check_block, config_block, declared
from advmask_tf.registry import Registry
from advmask_tf.training.attack_settings import (
    AttackOptions,
    ValidationAttackOptions,
)


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
