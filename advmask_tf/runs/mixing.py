"""A run whose model is a mixed classifier (config.mix.enabled).

The work directory then holds two ordinary runs and their mixture:

    robust/        the config itself (mix off): the robust classifier
    accurate/      the same model trained by standard training
                   (mix.accurate_epochs, mix.accurate_width); with a
                   guided objective (LBGAT, HAT) none: the robust run's
                   guide is the accurate classifier
    mixing.json    the map and weight chosen on the validation split, and
                   every candidate's validation figures
    model.keras    the mixed classifier, one plain model image -> logits
    metrics.json   its test-set evaluation, with the adaptive attacks

Both classifiers see the same training split and the same held-out
validation split (the same data config and seed); the selection uses the
validation split only. Each sub-run resumes like any run; the mixture is
rebuilt from them.
"""

from __future__ import annotations

import os

import ml_collections

from advmask_tf.attacks.pgd import PGDConfig
from advmask_tf.attacks.registry import build_attacks
from advmask_tf.attacks.transfer import TransferAttack
from advmask_tf.data.pipeline import build_data
from advmask_tf.errors import InputError
from advmask_tf.evaluation.mixing_search import (
    select_mixing,
    validation_logits,
)
from advmask_tf.io_utils import atomic_save, atomic_write_json
from advmask_tf.models.loading import load_keras_file
from advmask_tf.models.mixing import MixingMap, mixed_classifier
from advmask_tf.runs.guides import (
    guide_kind,
    guide_model_path,
    standard_config,
)
from advmask_tf.runs.workdir import WorkDir, load_config, read_json

SOURCES = ("robust", "accurate", "surrogate")


def robust_config(config) -> ml_collections.ConfigDict:
    """The robust classifier's run: the config with mixing off."""
    robust = ml_collections.ConfigDict(config.to_dict())
    robust.mix.enabled = False
    return robust


def accurate_config(config) -> ml_collections.ConfigDict:
    """The accurate classifier's run: standard training of the same model
    on the same data, for mix.accurate_epochs (mix.accurate_width),
    selected by validation clean accuracy. (A guided objective's guide is
    the accurate classifier instead: `classifier_paths`.)

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.mix.enabled = True
    >>> accurate_config(config).method.name
    'standard'
    """
    return standard_config(config, int(config.mix.accurate_epochs),
                           int(config.mix.accurate_width))


def sub_runs(config, workdir: str) -> dict:
    """{name: (path, config)} of the runs a mixture trains: the robust
    classifier's, and the accurate one's unless the robust run's guide
    (LBGAT's guide, HAT's helper) is the accurate classifier."""
    runs = {"robust": (os.path.join(workdir, "robust"),
                       robust_config(config))}
    if guide_kind(config) is None:
        runs["accurate"] = (os.path.join(workdir, "accurate"),
                            accurate_config(config))
    return runs


def classifier_paths(config, workdir: str) -> dict:
    """{"robust": .keras path, "accurate": .keras path} of a mixture."""
    robust = os.path.join(workdir, "robust")
    accurate = guide_model_path(config, robust) or os.path.join(
        workdir, "accurate", "model.keras")
    return {"robust": os.path.join(robust, "model.keras"),
            "accurate": accurate}


def select_and_save(config, workdir: str, verbose: int = 1) -> MixingMap:
    """Chooses the map on the validation split, writes mixing.json and the
    mixed model.keras; returns the choice."""
    wd = WorkDir(workdir)
    paths = classifier_paths(config, workdir)
    robust = load_keras_file(paths["robust"], "the robust classifier")
    accurate = load_keras_file(paths["accurate"], "the accurate classifier")
    data_config = ml_collections.ConfigDict(config.data.to_dict())
    data = build_data(data_config, int(config.eval.batch_size),
                      int(config.seed))
    if data.validation is None:
        raise InputError("mix.enabled needs a validation split to choose "
                         "the mixing on; data.validation_size is 0.")
    if int(config.mix.top_k) > data.num_classes:
        raise InputError(
            f"mix.top_k must be at most the {data.num_classes} classes of "
            f"the data (0: all); received {int(config.mix.top_k)}.")
    points = int(config.mix.validation_points)
    validation = data.validation.unbatch().take(points).batch(
        int(config.eval.batch_size)) if points else data.validation
    eps = float(config.attack.eps)
    if verbose:
        print(f"Choosing the mixing on "
              f"{min(points or data.num_validation, data.num_validation)} "
              "validation points (PGD-20 and CW-inf on the robust "
              "classifier) ...", flush=True)
    count = points or data.num_validation
    logits = validation_logits(
        accurate, robust, validation, eps, verbose=verbose,
        batches=-(-min(count, data.num_validation)
                  // int(config.eval.batch_size)))
    chosen, rows = select_mixing(logits, float(config.mix.robust_drop),
                                 top_k=int(config.mix.top_k))
    atomic_write_json(wd.path("mixing.json"), {
        "chosen": vars(chosen), "eps": eps,
        "validation_points": int(len(logits["labels"])),
        "robust_drop": float(config.mix.robust_drop),
        "accurate_alone": rows[0]["accurate_alone"],
        "robust_alone": rows[0]["robust_alone"], "candidates": rows})
    atomic_save(mixed_classifier(accurate, robust, chosen).save,
                wd.best_model)
    return chosen


def load_mixing(workdir: str) -> MixingMap:
    """The chosen map of a mixing run."""
    return MixingMap(**read_json(os.path.join(workdir, "mixing.json"))[
        "chosen"])


def mixture_sources(workdir: str) -> dict:
    """The networks the adaptive evaluation crafts examples on: the robust
    and the accurate classifier and the relaxed surrogate of the mixture."""
    paths = classifier_paths(load_config(WorkDir(workdir)), workdir)
    robust = load_keras_file(paths["robust"], "the robust classifier")
    accurate = load_keras_file(paths["accurate"], "the accurate classifier")
    surrogate = mixed_classifier(accurate, robust, load_mixing(workdir),
                                 surrogate=True, name="surrogate")
    return {"robust": robust, "accurate": accurate, "surrogate": surrogate}


def adaptive_attacks(sources: dict, eps: float, budgets) -> dict:
    """PGD (CE) and CW-inf crafted on each source, judged on the mixture:
    {"<attack>@<source>": TransferAttack}, named by
    `adaptive_attack_names`."""
    attacks = {}
    for name, attack in build_attacks("pgd,cw_inf", eps, budgets).items():
        assert isinstance(attack, PGDConfig)
        for source, network in sources.items():
            attacks[f"{name}@{source}"] = TransferAttack(attack, network,
                                                         source)
    return attacks


def adaptive_attack_names(eps: float, budgets) -> list[str]:
    """The names of `adaptive_attacks` over `SOURCES`, without loading any
    network (what a report's tag is made of).

    >>> from advmask_tf.attacks.registry import AttackBudgets
    >>> adaptive_attack_names(0.1, AttackBudgets())[:2]
    ['pgd20@robust', 'pgd20@accurate']
    """
    return [f"{name}@{source}"
            for name in build_attacks("pgd,cw_inf", eps, budgets)
            for source in SOURCES]

