"""Turning an experiment config into parts: the network, the method's part
specs, the `AdversarialModel`, the optimizer and the evaluation attacks.

Every default is declared with its option (`advmask_tf.configs_lib`, the
parts' `Options`); this module only reads fields (a stored config is merged
with those defaults on load).
"""

from __future__ import annotations

import contextlib

import keras

from advmask_tf.attacks.pgd import PGDConfig
from advmask_tf.attacks.registry import AttackBudgets, build_attacks
from advmask_tf.configs_lib import OPTIMIZERS, SCHEDULES
from advmask_tf.devices import PRECISIONS, check_setting
from advmask_tf.errors import InputError
from advmask_tf.evaluation.checks import CheckSettings
from advmask_tf.models.loading import load_keras_file
from advmask_tf.models.normalization import (
    CONDITIONED_NORMS,
    conditioned_norm,
    norm_options_from_config,
)
from advmask_tf.models.zoo import build_model
from advmask_tf.options import checked_options, declared
from advmask_tf.registry import Registry
from advmask_tf.runs.field_checks import (
    check_fields,
    naming_field,
    warn_about_parts,
)
from advmask_tf.runs.guides import check_guide_settings
from advmask_tf.training.adversarial_model import AdversarialModel
from advmask_tf.training.awp import make_weight_perturbation
from advmask_tf.training.free import check_free_replays
from advmask_tf.training.lr_schedules import (
    TriangularSchedule,
    piecewise_schedule,
)
from advmask_tf.training.objectives import OBJECTIVES, training_attack
from advmask_tf.training.optimizers import L2SGD, L2Adam
from advmask_tf.training.radius import RADIUS_POLICIES
from advmask_tf.training.weighting import WEIGHTINGS


def check_precision(name: str) -> None:
    check_setting("train.precision", name, PRECISIONS)


@contextlib.contextmanager
def precision(name: str):
    """Builds the layers made inside it under the dtype policy `name`, a
    concrete one (`advmask_tf.devices.resolve_precision` turns "auto" into
    one); the layers keep it, the global policy is restored afterwards.

    >>> with precision("mixed_bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.dtype_policy.name, keras.config.dtype_policy().name
    ('mixed_bfloat16', 'float32')
    """
    check_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def part_spec(registry: Registry, name: str, config) -> dict:
    """The spec {"name": name, options} of a registered part, its options
    read from the config by the part (`Part.options_from_config`: the
    fields of its block it declares).

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.method.beta = 1.0
    >>> part_spec(OBJECTIVES, "trades", config)
    {'name': 'trades', 'beta': 1.0}
    """
    return {"name": name, **registry.get(name).options_from_config(config)}


def objective_spec(config) -> dict:
    return part_spec(OBJECTIVES, config.method.name, config)


def radius_spec(config) -> dict:
    return part_spec(RADIUS_POLICIES, config.radius.policy, config)


def weighting_spec(config) -> dict:
    return part_spec(WEIGHTINGS, config.weighting.name, config)


def built_parts(config) -> tuple:
    """The config's (objective, radius policy, weighting), built."""
    return (OBJECTIVES.build(objective_spec(config)),
            RADIUS_POLICIES.build(radius_spec(config)),
            WEIGHTINGS.build(weighting_spec(config)))


def attack_settings(config) -> dict:
    """The training attack of a config as PGDConfig arguments (a
    random_start of "auto" is the objective's)."""
    return {k: config.attack[k] for k in (
        "eps", "steps", "step_size", "norm", "random_start", "bn_mode",
        "start_radius", "project")}


def training_strengths(config) -> tuple:
    """The strengths a conditioned network meets in training: the
    objective's when it chooses them (OAT), else the radius policy's
    (RobMask's sampled radii), else clean (0) and the attack's eps.

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.method.name = "oat"
    >>> training_strengths(config)[-2:]
    (0.04000000000000001, 0.1)
    """
    eps = float(config.attack.eps)
    objective, radius, _ = built_parts(config)
    return (objective.trained_strengths(eps)
            or radius.trained_strengths(eps) or (0.0, eps))


def norm_options(config) -> dict | None:
    """`build_model`'s norm_options for the config's (conditioned) norm."""
    return norm_options_from_config(config.model, training_strengths(config))


def build_network(config, data) -> keras.Model:
    return build_model(config.model.name, data.image_shape, data.num_classes,
                       norm=config.model.norm, mean=data.mean, std=data.std,
                       norm_options=norm_options(config),
                       **dict(config.model.options))


def method_label(config) -> str:
    """The method with its non-default parts, e.g. "iaat+gairat".

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.weighting.name = "gairat"
    >>> method_label(config)
    'madry+gairat'
    >>> config = base_config(); config.train.free_replays = 4
    >>> method_label(config)
    'madry+free4'
    """
    objective, radius, weighting = built_parts(config)
    parts = [objective.name]
    if not RADIUS_POLICIES.is_default(radius) and \
            radius.name not in objective.implies_radius:
        parts.append(f"{radius.name}_radius")
    if not WEIGHTINGS.is_default(weighting):
        parts.append(weighting.name)
    if config.model.norm in CONDITIONED_NORMS:
        parts.append(config.model.norm)
    if int(config.train.free_replays):
        parts.append(f"free{int(config.train.free_replays)}")
    if float(config.method.awp_gamma):
        parts.append("awp")
    if config.mix.enabled:
        parts.append("mixed_with_standard")
    return "+".join(parts)


def initialise_from(network: keras.Model, path: str) -> None:
    """Copies the weights of the network saved at `path` into `network`."""
    source = load_keras_file(path, "train.init_from")
    mine = [(w.path, tuple(w.shape)) for w in network.weights]
    theirs = [(w.path, tuple(w.shape)) for w in source.weights]
    if len(mine) != len(theirs) or any(
            a[1] != b[1] for a, b in zip(mine, theirs)):
        where = next((f"weight {i} ({a[0]}) is {b[1]} there and {a[1]} "
                      "here" for i, (a, b) in enumerate(zip(mine, theirs))
                      if a[1] != b[1]),
                     f"{len(theirs)} weights there, {len(mine)} here")
        raise InputError(
            f"train.init_from={path!r} is another architecture than the "
            f"configured model: {where}; use the same model.name, norm "
            "and options.")
    network.set_weights(source.get_weights())


def build_adversarial_model(config, network, num_examples=None,
                            guide=None) -> AdversarialModel:
    """The config's `AdversarialModel` around `network` (and the guide of
    a guided objective, `advmask_tf.runs.guides`)."""
    attack = attack_settings(config)
    return AdversarialModel(
        network, objective=objective_spec(config), attack=attack,
        val_attack={"eps": attack["eps"], "steps": config.val_attack.steps},
        radius=radius_spec(config), weighting=weighting_spec(config),
        num_examples=num_examples, trainable=config.train.trainable,
        track_clean_accuracy=config.method.track_clean_accuracy,
        free_replays=int(config.train.free_replays),
        weight_perturbation=weight_perturbation_spec(config), guide=guide)


def weight_perturbation_spec(config) -> dict:
    """AWP's settings from the config's method block."""
    return {"gamma": float(config.method.awp_gamma),
            "warmup_epochs": int(config.method.awp_warmup_epochs)}


def learning_rate_schedule(train_config, steps_per_epoch: int):
    """The learning rate (a number or a Keras schedule) of a `train` block,
    counted in optimizer updates."""
    lr = float(train_config.learning_rate)
    # Free adversarial training updates the weights once per replay.
    updates_per_epoch = steps_per_epoch * max(1, int(
        train_config.free_replays))
    total = max(1, updates_per_epoch * int(train_config.epochs))
    schedule = train_config.schedule
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, total)
    if schedule == "cyclic":
        return TriangularSchedule(lr, total, float(train_config.cyclic_peak))
    if schedule == "piecewise":
        if train_config.lr_boundaries:
            return piecewise_schedule(lr, train_config.lr_boundaries,
                                      train_config.lr_multipliers,
                                      updates_per_epoch)
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(0.5 * total), int(0.75 * total)], [lr, lr * 0.1, lr * 0.01])
    raise InputError(f"Unknown train.schedule {schedule!r}; expected one "
                     f"of {SCHEDULES}.")


def make_optimizer(train_config, steps_per_epoch: int):
    """The optimizer of a `train` config block, with its learning-rate
    schedule and its weight decay (decoupled, or "l2" added to the gradient
    as in the papers' PyTorch code, see `advmask_tf.training.optimizers`)."""
    rate = learning_rate_schedule(train_config, steps_per_epoch)
    decay = float(train_config.weight_decay)
    coupled = train_config.weight_decay_style == "l2"
    ema = float(train_config.ema_momentum)
    options = {"use_ema": ema > 0, "ema_momentum": ema or 0.99}
    if coupled:
        options["l2"] = decay
    else:
        options["weight_decay"] = decay or None
    if train_config.optimizer == "adam":
        return (L2Adam if coupled else keras.optimizers.Adam)(rate, **options)
    if train_config.optimizer == "sgd":
        return (L2SGD if coupled else keras.optimizers.SGD)(
            rate, momentum=float(train_config.momentum),
            nesterov=bool(train_config.nesterov), **options)
    raise InputError(f"Unknown train.optimizer {train_config.optimizer!r}; "
                     f"expected one of {OPTIMIZERS}.")


def check_learning_rate_steps(train_config) -> None:
    """Refuses epoch boundaries the schedule cannot use, naming the field."""
    boundaries = tuple(train_config.lr_boundaries)
    multipliers = tuple(train_config.lr_multipliers)
    if len(boundaries) != len(multipliers):
        raise InputError(
            f"train.lr_multipliers needs one value per train.lr_boundaries "
            f"entry ({len(boundaries)}); received {multipliers!r}.")
    epochs = int(train_config.epochs)
    if any(int(b) != b or not 0 < b < epochs for b in boundaries) or list(
            boundaries) != sorted(set(boundaries)):
        raise InputError(
            f"train.lr_boundaries must be increasing whole epochs in "
            f"(0, train.epochs={epochs}); received {boundaries!r}.")
    if boundaries and train_config.schedule != "piecewise":
        raise InputError(
            f"train.lr_boundaries only apply to train.schedule='piecewise'; "
            f"received schedule {train_config.schedule!r}.")


def eval_eps(config) -> float:
    """The eps the evaluation attacks at (eval.eps, or the training eps).

    >>> from advmask_tf.configs_lib import base_config
    >>> eval_eps(base_config())
    0.1
    """
    return float(config.eval.eps if config.eval.eps >= 0
                 else config.attack.eps)


def attack_budgets(config) -> AttackBudgets:
    """The evaluation attacks' budgets: the eval fields `AttackBudgets`
    declares."""
    return checked_options("eval", AttackBudgets, {
        d.name: config.eval[d.name] for d in declared(AttackBudgets)})


def evaluation_attacks(config, names=None, eps=None) -> dict:
    """The config's evaluation attacks (or `names`), at `eps` (default:
    `eval_eps(config)`)."""
    return build_attacks(config.eval.attacks if names is None else names,
                         eval_eps(config) if eps is None else float(eps),
                         attack_budgets(config))


def check_settings(config) -> CheckSettings:
    return CheckSettings(points=int(config.eval.check_points),
                         square_queries=int(config.eval.check_square_queries))


def condition_eps(config, eps: float) -> float:
    """What a conditioned network is told in an evaluation at eps."""
    value = float(config.eval.condition_eps)
    return float(eps) if value < 0 else value


def known_classes(data_block) -> int:
    """The class count of the config's dataset when it is known before
    loading it (data.num_classes, or a source with a fixed one); 0 when
    only the data will tell."""
    if int(data_block.num_classes):
        return int(data_block.num_classes)
    if data_block.source == "fashion_mnist":
        return 10
    return {"cifar10": 10, "cifar100": 100}.get(
        data_block.tfds_name if data_block.source == "tfds" else "", 0)


def check_config(config) -> None:
    """Raises InputError naming the first config field a run cannot use;
    checks every declared field, every part, the training, validation and
    evaluation attacks, so a bad value fails before any work starts."""
    check_fields(config)
    # Every part of a part block is built, also those the run does not
    # use (they share the block): their cross-field checks run too.
    for registry in (OBJECTIVES, RADIUS_POLICIES, WEIGHTINGS):
        for name in registry.names():
            registry.build(part_spec(registry, name, config))
    objective, radius, weighting = built_parts(config)
    warn_about_parts(objective, radius, weighting)
    with naming_field("attack", config.attack):
        attack = training_attack(attack_settings(config), objective)
    with naming_field("val_attack", config.val_attack):
        PGDConfig(eps=attack.eps, steps=config.val_attack.steps)
    with naming_field("eval", config.eval):
        evaluation_attacks(config)
        check_settings(config)
    check_free_replays(config.train.free_replays, objective, radius,
                       weighting)
    make_weight_perturbation(weight_perturbation_spec(config),
                             int(config.train.free_replays),
                             config.train.trainable)
    check_learning_rate_steps(config.train)
    check_guide_settings(config)
    if int(config.guard.points) > int(config.data.validation_size):
        raise InputError(
            f"guard.points={int(config.guard.points)} needs that many "
            "held-out images; data.validation_size is "
            f"{int(config.data.validation_size)} (set guard.points at most "
            "data.validation_size, or 0 for no guard).")
    if objective.needs_told_network and \
            config.model.norm not in CONDITIONED_NORMS:
        raise InputError(
            f"method.name={objective.name!r} tells the network each pass's "
            "strength: it needs a conditioned network, model.norm one of "
            f"{tuple(CONDITIONED_NORMS)}; received model.norm="
            f"{config.model.norm!r}.")
    classes = known_classes(config.data)
    top_k = int(config.mix.top_k)
    if config.mix.enabled and classes and top_k > classes:
        raise InputError(
            f"mix.top_k must be at most the {classes} classes of the data "
            f"(0: all); received {top_k}.")
    if config.model.norm in CONDITIONED_NORMS:
        conditioned_norm(config.model.norm, norm_options(config), None)
