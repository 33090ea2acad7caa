"""Training and evaluating one experiment in a work directory.

A work directory holds everything a run made:

    config.json            the resolved config
    backup/                BackupAndRestore state (resume after a kill)
    checkpoints/           best.weights.h5 (by train.monitor), last.weights.h5
    history.csv            per-epoch logs
    tensorboard/           TensorBoard logs
    model.keras            the best network; loads with keras.models.load_model
    last.keras             the network after the last epoch
    metrics.json           test-set evaluation of model.keras
    results.md             the same as tables (with the sanity checks)
    eval/                  advmask-eval reports: other attacks, eps sweeps
    analysis/              advmask-analyze results (spectra, margins, ...)

Re-running the same command resumes: training continues from the last
finished epoch, and finished steps are not redone.
"""

from __future__ import annotations

import csv
import json
import os

import keras
import ml_collections
import tensorflow as tf

from advmask_tf.configs_lib import base_config
from advmask_tf.data.pipeline import build_data
from advmask_tf.distribute import get_strategy, worker_role
from advmask_tf.evaluation.checks import (
    CheckSettings,
    sanity_checks,
    warn_failed,
)
from advmask_tf.evaluation.reports import (
    attack_entries,
    eps_step,
    monotone_in_eps,
    plot_conditioning,
    plot_sweep,
    report_markdown,
    write_scalars,
)
from advmask_tf.evaluation.robust import (
    build_attacks,
    evaluate,
    report_to_json,
)
from advmask_tf.io_utils import atomic_save, atomic_write_json, atomic_write_text
from advmask_tf.layers import interpolated, masking_layers
from advmask_tf.models.conditioning import at_strength, is_conditioned
from advmask_tf.models.normalization import (
    CONDITIONED_NORMS,
    NORMS,
    conditioned_norm,
)
from advmask_tf.models.zoo import build_model
from advmask_tf.training.adversarial_model import AdversarialModel
from advmask_tf.training.monitoring import InstanceStateMonitor
from advmask_tf.training.objectives import OBJECTIVES, make_objective
from advmask_tf.training.radius import AdaptiveRadius, make_radius_policy
from advmask_tf.training.rescaling import TRAINABLE
from advmask_tf.training.weighting import GeometryAwareWeighting, make_weighting

MONITORS = ("val_robust_accuracy", "val_clean_accuracy")


class WorkDir:
    """Paths inside a work directory."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    config = property(lambda self: self.path("config.json"))
    backup = property(lambda self: self.path("backup"))
    best_weights = property(
        lambda self: self.path("checkpoints", "best.weights.h5"))
    last_weights = property(
        lambda self: self.path("checkpoints", "last.weights.h5"))
    history = property(lambda self: self.path("history.csv"))
    tensorboard = property(lambda self: self.path("tensorboard"))
    best_model = property(lambda self: self.path("model.keras"))
    last_model = property(lambda self: self.path("last.keras"))
    metrics = property(lambda self: self.path("metrics.json"))
    results = property(lambda self: self.path("results.md"))


def _flatten(d, prefix=""):
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def save_or_check_config(config: ml_collections.ConfigDict, workdir: WorkDir):
    """Writes the resolved config, or checks a resumed run uses the same one."""
    resolved = json.loads(config.to_json_best_effort())
    if os.path.exists(workdir.config):
        with open(workdir.config) as f:
            stored = json.load(f)
        old, new = _flatten(stored), _flatten(resolved)
        # Through JSON like `resolved`, so tuples compare as lists.
        defaults = _flatten(json.loads(base_config().to_json_best_effort()))
        # Fields added to the schema since the run, at their defaults, are no
        # change; neither is how verbose the output is.
        changed = sorted(k for k in set(old) | set(new)
                         if old.get(k) != new.get(k)
                         and k != "train.verbose"
                         and not (k not in old and new[k] == defaults.get(k)))
        if changed:
            details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
                                for k in changed)
            raise ValueError(
                f"Work directory {workdir.root} holds a run with a different "
                f"config ({details}). Use a new --workdir, or the same config "
                "to resume.")
        return
    atomic_write_json(workdir.config, resolved)


def load_config(workdir: WorkDir) -> ml_collections.ConfigDict:
    if not os.path.exists(workdir.config):
        raise FileNotFoundError(
            f"{workdir.config} does not exist: {workdir.root} is not a work "
            "directory made by advmask-train.")
    with open(workdir.config) as f:
        stored = json.load(f)
    # A run made before a schema addition lacks the new fields: they take
    # their defaults (which is how that run behaved).
    return ml_collections.ConfigDict(_merged(base_config().to_dict(), stored))


def _merged(defaults: dict, stored: dict) -> dict:
    merged = dict(defaults)
    for key, value in stored.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merged(merged[key], value)
        merged[key] = value
    return merged


def attack_settings(config) -> dict:
    """The training attack of a config as PGDConfig arguments."""
    return {k: config.attack[k] for k in (
        "eps", "steps", "step_size", "norm", "random_start", "bn_mode")}


def training_strengths(config) -> tuple:
    """The strengths a conditioned network meets in training."""
    radius = config.radius
    if radius.policy == "sampled":
        if radius.strengths:
            return tuple(sorted(float(s) for s in radius.strengths))
        return (float(radius.low), float(radius.high or config.attack.eps))
    return (0.0, float(config.attack.eps))


def norm_options(config) -> dict | None:
    """`build_model`'s norm_options for the config's (conditioned) norm."""
    model = config.model
    if model.norm == "split_batchnorm":
        return {"route_boundaries": tuple(model.split.route_boundaries),
                "split_rescaling": bool(model.split.split_rescaling)}
    if model.norm == "masking":
        masking = model.masking
        strengths = tuple(masking.strengths) or training_strengths(config)
        if masking.encoding == "one_hot" and masking.strengths == ():
            dim = len(strengths)
        else:
            dim = int(masking.encoding_dim)
        return {"encoding": masking.encoding, "encoding_dim": dim,
                "strengths": strengths,
                "max_eps": float(masking.max_eps) or max(strengths),
                "route_boundaries": tuple(masking.route_boundaries),
                "seed": int(masking.seed)}
    return None


def build_network(config, data) -> keras.Model:
    options = dict(config.model.get("options", {}))
    return build_model(config.model.name, data.image_shape, data.num_classes,
                       norm=config.model.norm, mean=data.mean, std=data.std,
                       norm_options=norm_options(config), **options)


def _adaptive_radius_args(config) -> dict:
    radius = config.radius
    return {"warmup_eps": config.attack.eps, "rule": radius.rule,
            "gamma": radius.gamma, "smoothing": radius.smoothing,
            "warmup_epochs": radius.warmup_epochs, "max_eps": radius.max_eps,
            "step_fraction": radius.step_fraction,
            "min_step": config.attack.step_size}


def _gairat_args(config) -> dict:
    weighting = config.weighting.to_dict()
    weighting.pop("name")
    weighting["total_epochs"] = int(config.train.epochs)
    return weighting


def _sampled_radius_args(config) -> dict:
    radius = config.radius
    return {"strengths": tuple(radius.strengths), "low": float(radius.low),
            "high": float(radius.high or config.attack.eps)}


def radius_settings(config) -> dict:
    """The config's radius policy as `make_radius_policy` arguments."""
    if config.radius.policy == "adaptive":
        return {"policy": "adaptive", **_adaptive_radius_args(config)}
    if config.radius.policy == "sampled":
        return {"policy": "sampled", **_sampled_radius_args(config)}
    return {"policy": config.radius.policy}


def weighting_settings(config) -> dict:
    """The config's instance weighting as `make_weighting` arguments."""
    if config.weighting.name != "gairat":
        return {"name": config.weighting.name}
    return {"name": "gairat", **_gairat_args(config)}


def method_label(config) -> str:
    """The method with its non-default parts, e.g. "iaat+gairat".

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.weighting.name = "gairat"
    >>> method_label(config)
    'madry+gairat'
    """
    parts = [config.method.name]
    if config.radius.policy != "fixed" and config.method.name != "iaat":
        parts.append(f"{config.radius.policy}_radius")
    if config.weighting.name != "uniform":
        parts.append(config.weighting.name)
    if config.model.norm in CONDITIONED_NORMS:
        parts.append(config.model.norm)
    return "+".join(parts)


def initialise_from(network: keras.Model, path: str) -> None:
    """Copies the weights of the network saved at `path` into `network`."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"train.init_from={path!r} does not exist; give the .keras file "
            "of a trained network (a work directory's model.keras).")
    source = keras.models.load_model(path)
    mine = [tuple(w.shape) for w in network.weights]
    theirs = [tuple(w.shape) for w in source.weights]
    if mine != theirs:
        raise ValueError(
            f"train.init_from={path!r} is a different architecture "
            f"({len(theirs)} weights) from the configured model "
            f"({len(mine)} weights); use the same model.name, norm and "
            "options.")
    network.set_weights(source.get_weights())


def build_adversarial_model(config, network, num_examples=None
                            ) -> AdversarialModel:
    attack = attack_settings(config)
    val_attack = {"eps": attack["eps"], "steps": config.val_attack.steps}
    return AdversarialModel(
        network, method=config.method.name, attack=attack,
        val_attack=val_attack, beta=config.method.beta,
        clean_weight=config.method.clean_weight,
        adv_weight=config.method.adv_weight,
        trainable=config.train.trainable,
        track_clean_accuracy=config.method.track_clean_accuracy,
        radius=radius_settings(config), weighting=weighting_settings(config),
        num_examples=num_examples)


def make_optimizer(train_config, steps_per_epoch: int):
    """The optimizer of a `train` config block, with its learning-rate schedule."""
    lr = float(train_config.learning_rate)
    total = max(1, steps_per_epoch * int(train_config.epochs))
    schedule = train_config.schedule
    if schedule == "constant":
        rate = lr
    elif schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(lr, total)
    elif schedule == "piecewise":
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(0.5 * total), int(0.75 * total)], [lr, lr * 0.1, lr * 0.01])
    else:
        raise ValueError(f"Unknown train.schedule {schedule!r}; expected "
                         "constant, cosine or piecewise.")
    weight_decay = float(train_config.weight_decay) or None
    if train_config.optimizer == "adam":
        return keras.optimizers.Adam(rate, weight_decay=weight_decay)
    if train_config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=train_config.momentum,
                                    nesterov=True, weight_decay=weight_decay)
    raise ValueError(f"Unknown train.optimizer {train_config.optimizer!r}; "
                     "expected adam or sgd.")


def _history(history_path):
    if not os.path.exists(history_path):
        return []
    with open(history_path) as f:
        return list(csv.DictReader(f))


def _best_so_far(history_path, monitor):
    """The best monitored value in history.csv, or None."""
    values = [float(row[monitor]) for row in _history(history_path)
              if row.get(monitor) not in (None, "")]
    return max(values) if values else None


def is_finished(config, workdir: str) -> bool:
    """Whether every epoch is trained and the test report is up to date."""
    wd = WorkDir(workdir)
    rows = _history(wd.history)
    return (bool(rows) and int(rows[-1]["epoch"]) + 1 >= int(config.train.epochs)
            and os.path.exists(wd.metrics) and os.path.exists(wd.best_model)
            and os.path.getmtime(wd.metrics) >= os.path.getmtime(wd.best_model))


def check_config(config):
    """Raises ValueError naming the first config field a run cannot use."""
    if int(config.train.epochs) < 1:
        raise ValueError(
            f"train.epochs must be >= 1; received {config.train.epochs}.")
    if config.train.get("monitor", MONITORS[0]) not in MONITORS:
        raise ValueError(f"Unknown train.monitor {config.train.monitor!r}; "
                         f"expected one of {MONITORS}.")
    if config.method.name not in OBJECTIVES:
        raise ValueError(f"Unknown method.name {config.method.name!r}; "
                         f"expected one of {sorted(OBJECTIVES)}.")
    # Every radius and weighting field is checked, also those of parts the
    # run does not use: a typo there would otherwise pass silently.
    make_radius_policy(radius_settings(config))
    make_weighting({"name": config.weighting.name})
    AdaptiveRadius(**_adaptive_radius_args(config))
    if config.method.name == "mixed":
        make_objective("mixed", clean_weight=config.method.clean_weight,
                       adv_weight=config.method.adv_weight)
    if config.train.trainable not in TRAINABLE:
        raise ValueError(f"train.trainable must be one of {TRAINABLE}; "
                         f"received {config.train.trainable!r}.")
    if config.model.norm not in NORMS:
        raise ValueError(f"Unknown model.norm {config.model.norm!r}; "
                         f"expected one of {NORMS}.")
    if config.model.norm in CONDITIONED_NORMS:
        conditioned_norm(config.model.norm, norm_options(config), None)
    GeometryAwareWeighting(**_gairat_args(config))


def _work_directory_callbacks(config, wd: WorkDir, data) -> list:
    """What the chief writes while training: last and best weights,
    history, TensorBoard and the per-example state."""
    os.makedirs(os.path.dirname(wd.last_weights), exist_ok=True)
    callbacks = [keras.callbacks.ModelCheckpoint(wd.last_weights,
                                                 save_weights_only=True)]
    if data.validation is not None:
        monitor = config.train.get("monitor", MONITORS[0])
        callbacks.append(keras.callbacks.ModelCheckpoint(
            wd.best_weights, monitor=monitor, mode="max", save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=_best_so_far(wd.history, monitor)))
    return callbacks + [
        keras.callbacks.CSVLogger(wd.history, append=True),
        keras.callbacks.TensorBoard(wd.tensorboard),
        InstanceStateMonitor(wd.tensorboard, export_dir=wd.root,
                             images=data.train_images,
                             labels=data.train_labels,
                             class_names=data.class_names),
    ]


def train(config: ml_collections.ConfigDict, workdir: str):
    """Trains (or resumes training) and exports the best and last networks."""
    # First: MultiWorkerMirroredStrategy must exist before any TF op runs.
    strategy = get_strategy(config.distribute)
    check_config(config)
    wd = WorkDir(workdir)
    os.makedirs(wd.root, exist_ok=True)
    if os.path.exists(wd.config):  # a resumed run: refuse another config now
        save_or_check_config(config, wd)
    keras.utils.set_random_seed(int(config.seed))
    chief, role = worker_role(strategy)
    if not chief:
        # Every worker trains; only the chief writes the work directory.
        # The others keep a private backup (for resuming) and nothing else.
        wd = WorkDir(wd.path("workers", role))
        os.makedirs(wd.root, exist_ok=True)
    data = build_data(config.data, int(config.train.batch_size),
                      int(config.seed))
    steps = int(tf.data.experimental.cardinality(data.train))
    with strategy.scope():
        network = build_network(config, data)
        if config.train.init_from:
            initialise_from(network, config.train.init_from)
        model = build_adversarial_model(config, network, data.num_train)
        model.compile(optimizer=make_optimizer(config.train, steps))
        example = tf.zeros((1,) + tuple(data.image_shape))
        model({"image": example, "eps": tf.zeros([1])}
              if model.conditioned else example)
    # Written once the model builds, so a config that cannot is not stored.
    save_or_check_config(config, wd)

    callbacks = [
        keras.callbacks.BackupAndRestore(wd.backup, double_checkpoint=True,
                                         delete_checkpoint=False),
    ]
    if chief:
        callbacks += _work_directory_callbacks(config, wd, data)
    model.fit(data.train, validation_data=data.validation,
              epochs=int(config.train.epochs), callbacks=callbacks,
              verbose=int(config.train.verbose) if chief else 0,
              shuffle=False)
    if not chief:
        return model, data
    atomic_save(model.network.save, wd.last_model)
    if os.path.exists(wd.best_weights):
        model.load_weights(wd.best_weights)
    atomic_save(model.network.save, wd.best_model)
    return model, data


def evaluation_attacks(config, names=None, eps=None) -> dict:
    """The config's evaluation attacks (or `names`), at the eval eps."""
    ev = config.eval
    if eps is None:
        eps = ev.eps if ev.eps >= 0 else config.attack.eps
    return build_attacks(
        names if names is not None else ev.get("attacks", "pgd,cw_inf"),
        float(eps), int(ev.pgd_steps), int(ev.cw_steps),
        int(ev.get("apgd_steps", 100)), int(ev.get("apgd_targets", 9)),
        int(ev.get("square_queries", 5000)))


def check_settings(config) -> CheckSettings:
    ev = config.eval
    return CheckSettings(points=int(ev.get("check_points", 500)),
                         square_queries=int(ev.get("check_square_queries",
                                                   1000)))


def load_for_evaluation(workdir: str, checkpoint: str, limit):
    """(WorkDir, config, network, test data of `limit` points; None: the
    config's eval.limit) of a trained work directory."""
    wd = WorkDir(workdir)
    config = load_config(wd)
    path = {"best": wd.best_model, "last": wd.last_model}.get(checkpoint)
    if path is None:
        raise ValueError(f"checkpoint must be 'best' or 'last'; received "
                         f"{checkpoint!r}.")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} does not exist: run advmask-train with --workdir="
            f"{wd.root} until it finishes first.")
    network = keras.models.load_model(path)
    data_config = ml_collections.ConfigDict(config.data.to_dict())
    data_config.validation_size = 0  # the test split is all evaluation needs
    if limit is None:
        limit = config.eval.limit or config.data.test_limit
    data_config.test_limit = int(limit)
    data = build_data(data_config, int(config.eval.batch_size),
                      int(config.seed))
    return wd, config, network, data


def condition_eps(config, eps: float) -> float:
    """What a conditioned network is told in an evaluation at eps."""
    value = float(config.eval.get("condition_eps", -1.0))
    return float(eps) if value < 0 else value


def evaluate_network(network, data, config, attacks, eps, checks, verbose,
                     title, condition=None):
    """One evaluation of `network` on `data.test` with `attacks`; a
    conditioned network is evaluated as the classifier it is at strength
    `condition` (default: `condition_eps`). With `checks`, the sanity
    checks run too and a failure is printed under `title`."""
    if is_conditioned(network):
        if condition is None:
            condition = condition_eps(config, eps)
        network = at_strength(network, condition)
    points = {}
    report = evaluate(network, data.test, attacks, verbose=verbose,
                      points=points)
    report["eps"] = float(eps)
    if condition is not None:
        report["condition_eps"] = float(condition)
    if checks:
        report["checks"] = sanity_checks(network, data.test, float(eps),
                                         attacks, points,
                                         check_settings(config))
        warn_failed(report["checks"], title)
    return report


def evaluate_workdir(workdir: str, checkpoint: str = "best",
                     limit: int | None = None, verbose: int = 1,
                     attacks=None, checks: bool | None = None,
                     tag: str | None = None) -> dict:
    """Evaluates a trained work directory on its test set; writes reports.

    With the config's attacks the report goes to metrics.json (best) or
    metrics_last.json, and results.md; with `attacks` (names) or a `tag`
    to eval/<tag>.json and .md. Scalars go to tensorboard/eval.
    """
    wd, config, network, data = load_for_evaluation(workdir, checkpoint,
                                                     limit)
    attack_configs = evaluation_attacks(config, attacks)
    eps = next(iter(attack_configs.values())).eps
    if checks is None:
        checks = bool(config.eval.get("checks", True))
    report = evaluate_network(network, data, config, attack_configs, eps,
                              checks, verbose, f"({wd.root}, {checkpoint})")
    report["checkpoint"] = checkpoint
    report["limit"] = int(report["clean"]["total"])
    report["config"] = {"method": method_label(config),
                        "eps": config.attack.eps, "model": config.model.name,
                        "dataset": config.data.source}
    if attacks is None and tag is None:
        json_path = wd.metrics if checkpoint == "best" else wd.path(
            f"metrics_{checkpoint}.json")
        markdown_path = wd.results if checkpoint == "best" else wd.path(
            f"results_{checkpoint}.md")
    else:
        tag = tag or "{}-{}-{}".format(checkpoint, "+".join(attack_configs),
                                       report["limit"])
        os.makedirs(wd.path("eval"), exist_ok=True)
        json_path = wd.path("eval", tag + ".json")
        markdown_path = wd.path("eval", tag + ".md")
    report_to_json(report, json_path)
    atomic_write_text(markdown_path, report_markdown(
        f"{os.path.basename(wd.root)} ({checkpoint}), eps {eps}", report))
    write_scalars(wd.path("tensorboard", "eval"), report,
                  step=eps_step(eps))
    return report


def evaluate_sweep(workdir: str, eps_values, checkpoint: str = "best",
                   limit: int | None = None, verbose: int = 1, attacks=None,
                   checks: bool = False) -> dict:
    """Accuracy versus eps: one evaluation per eps, into
    eval/sweep-<checkpoint>.json, .md and .png (and TensorBoard scalars at
    step eps * 10000). Adds the check that no accuracy rises with eps."""
    eps_values = sorted(float(e) for e in eps_values)
    if not eps_values or eps_values[0] < 0:
        raise ValueError(f"eps sweep values must be >= 0; received "
                         f"{eps_values}.")
    wd, config, network, data = load_for_evaluation(workdir, checkpoint,
                                                     limit)
    sweep = []
    for eps in eps_values:
        attack_configs = evaluation_attacks(config, attacks, eps=eps)
        report = evaluate_network(network, data, config, attack_configs,
                                  eps, checks, verbose, f"(eps {eps})")
        sweep.append({"eps": eps, "report": report})
        write_scalars(wd.path("tensorboard", "eval_sweep"), report,
                      step=eps_step(eps))
    result = {"checkpoint": checkpoint, "method": method_label(config),
              "sweep": sweep, "monotone": monotone_in_eps(sweep, 0.005)}
    warn_failed({"monotone_in_eps": result["monotone"]},
                f"({wd.root} sweep)")
    os.makedirs(wd.path("eval"), exist_ok=True)
    base = wd.path("eval", f"sweep-{checkpoint}")
    report_to_json(result, base + ".json")
    names = list(attack_entries(sweep[0]["report"]))
    lines = ["| eps | " + " | ".join(names) + " |",
             "| --- | " + " | ".join("---" for _ in names) + " |"]
    for point in sweep:
        lines.append(f"| {point['eps']} | " + " | ".join(
            f"{100 * point['report'][n]['accuracy']:.2f}" for n in names)
            + " |")
    atomic_write_text(base + ".md", "\n".join(
        [f"# Accuracy (%) versus eps: {os.path.basename(wd.root)} "
         f"({checkpoint})", "", *lines, "",
         f"monotone in eps: {result['monotone']['detail']}", ""]))
    plot_sweep(sweep, base + ".png", f"{method_label(config)} "
               f"({checkpoint})")
    return result


def _reference_reports(references) -> dict:
    """name -> metrics.json report of each reference work directory."""
    reports = {}
    for root in references or ():
        wd = WorkDir(root)
        if not os.path.exists(wd.metrics):
            raise FileNotFoundError(
                f"reference {wd.metrics} does not exist: train and evaluate "
                f"{wd.root} with advmask-train first.")
        with open(wd.metrics) as f:
            reports[os.path.basename(os.path.normpath(root))] = json.load(f)
    return reports


def evaluate_conditioning(workdir: str, conditions=(), mixes=(),
                          checkpoint: str = "best", limit: int | None = None,
                          verbose: int = 1, attacks=None, references=(),
                          checks: bool = False) -> dict:
    """The trade-off of one conditioned model, dialled at inference time.

    For each conditioning strength c in `conditions` the network is told c
    and evaluated (clean and attacked at the evaluation eps) as that one
    classifier; for each t in `mixes` its maskings are interpolated,
    (1 - t) * rescaling(0) + t * rescaling(eval eps), and it is told the
    eval eps. Writes eval/conditioning-<checkpoint>.json, .md and .png; the
    plot adds the clean/robust points of the `references` work directories
    (their metrics.json, e.g. Madry and TRADES runs). TensorBoard scalars
    go to tensorboard/eval_condition (step eps * 10000) and eval_mix (step
    100 t).
    """
    wd, config, network, data = load_for_evaluation(workdir, checkpoint,
                                                     limit)
    if not is_conditioned(network):
        raise ValueError(
            f"{wd.root} holds an unconditioned network (model.norm "
            f"{config.model.norm!r}); a conditioning sweep needs norm "
            f"split_batchnorm or masking. Use --eps_sweep instead.")
    conditions = sorted(float(c) for c in conditions)
    mixes = sorted(float(t) for t in mixes)
    if not conditions and not mixes:
        raise ValueError("Give conditioning strengths and/or mixes t to "
                         "sweep; received neither.")
    if any(c < 0 for c in conditions) or any(not 0 <= t <= 1 for t in mixes):
        raise ValueError(f"conditions must be >= 0 and mixes in [0, 1]; "
                         f"received {conditions} and {mixes}.")
    if mixes and not masking_layers(network):
        raise ValueError(f"{wd.root}: mixes need a masking network (norm "
                         f"'masking'); this one is {config.model.norm!r}.")
    attack_configs = evaluation_attacks(config, attacks)
    eps = next(iter(attack_configs.values())).eps
    curves = {"condition": [], "mix": []}
    for kind, values in (("condition", conditions), ("mix", mixes)):
        for value in values:
            view = interpolated(network, value) if kind == "mix" else network
            condition = eps if kind == "mix" else value
            report = evaluate_network(view, data, config, attack_configs,
                                      eps, checks, verbose,
                                      f"({wd.root}, {kind} {value})",
                                      condition=condition)
            report[kind] = value
            curves[kind].append(report)
            write_scalars(wd.path("tensorboard", f"eval_{kind}"), report,
                          step=eps_step(value) if kind == "condition"
                          else round(100 * value))
    result = {"checkpoint": checkpoint, "method": method_label(config),
              "eps": eps, "limit": int(data.num_test), **curves,
              "references": _reference_reports(references)}
    base = wd.path("eval", f"conditioning-{checkpoint}")
    os.makedirs(wd.path("eval"), exist_ok=True)
    report_to_json(result, base + ".json")
    atomic_write_text(base + ".md", conditioning_markdown(
        f"{os.path.basename(wd.root)} ({checkpoint})", result))
    plot_conditioning(
        {f"told eps c (attacked at {eps})": [
            (f"c={r['condition']:g}", r) for r in curves["condition"]],
         f"mask mix t (told {eps})": [
            (f"t={r['mix']:g}", r) for r in curves["mix"]]},
        result["references"], base + ".png",
        f"{method_label(config)}: one model's trade-off")
    return result


def conditioning_markdown(title: str, result: dict) -> str:
    """The tables of `evaluate_conditioning`'s result."""
    first = (result["condition"] or result["mix"])[0]
    names = list(attack_entries(first))
    header = ["| " + " | ".join(["setting", *names]) + " |",
              "| " + " | ".join("---" for _ in range(len(names) + 1)) + " |"]
    lines = [f"# One model's trade-off: {title}", "",
             f"Accuracy (%) on {result['limit']} test images; attacks at eps "
             f"{result['eps']}.", "", *header]
    for kind, label in (("condition", "told eps {:g}"),
                        ("mix", "mask mix t = {:g}")):
        for report in result[kind]:
            lines.append("| " + " | ".join(
                [label.format(report[kind])]
                + [f"{100 * report[n]['accuracy']:.2f}" for n in names])
                + " |")
    for name, report in result["references"].items():
        lines.append("| " + " | ".join(
            [f"reference: {name}"]
            + [f"{100 * report[n]['accuracy']:.2f}" if n in report else "-"
               for n in names]) + " |")
    return "\n".join(lines) + "\n"
