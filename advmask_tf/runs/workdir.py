"""A work directory and its files: paths, the stored config, freshness.

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
"""

from __future__ import annotations

import csv
import json
import os

import keras
import ml_collections
import tensorflow as tf

import advmask_tf
from advmask_tf.configs_lib import base_config, check_sections
from advmask_tf.devices import resolve_precision
from advmask_tf.errors import InputError, MissingFileError
from advmask_tf.io_utils import atomic_write_json
from advmask_tf.runs.guides import guide_kind, timed_runs
from advmask_tf.training.objectives import OBJECTIVES

# Fields whose change does not change the experiment.
PRESENTATION_FIELDS = ("train.verbose", "train.jit_compile")


class WorkDir:
    """Paths inside a work directory.

    >>> WorkDir("/tmp/run").best_model
    '/tmp/run/model.keras'
    """

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    config = property(lambda self: self.path("config.json"))
    backup = property(lambda self: self.path("backup"))
    guard_events = property(lambda self: self.path("guard.json"))
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

    def model(self, checkpoint: str) -> str:
        """The exported network of `checkpoint` ("best" or "last")."""
        if checkpoint not in ("best", "last"):
            raise InputError(f"checkpoint must be 'best' or 'last'; received "
                             f"{checkpoint!r}.")
        return self.best_model if checkpoint == "best" else self.last_model

    def eval_report(self, tag: str) -> str:
        """The JSON report of an advmask-eval run tagged `tag`."""
        return self.path("eval", tag + ".json")

    def conditioning(self, checkpoint: str = "best") -> str:
        """eval/conditioning-<checkpoint>: one conditioned model's trade-off
        (add .json, .md or .png)."""
        return self.path("eval", f"conditioning-{checkpoint}")

    def sweep(self, checkpoint: str = "best") -> str:
        """eval/sweep-<checkpoint>: accuracy against eps (add .json, .md or
        .png)."""
        return self.path("eval", f"sweep-{checkpoint}")

    def name(self) -> str:
        return os.path.basename(self.root)


def is_fresh(path: str, source: str) -> bool:
    """Whether `path` exists and was written after `source` (a report of a
    model, say), so it can be re-used."""
    return (os.path.exists(path) and os.path.exists(source)
            and os.path.getmtime(path) >= os.path.getmtime(source))


def read_json(path: str) -> dict:
    """A JSON file the toolkit wrote; a damaged one is named as such."""
    with open(path) as f:
        try:
            return json.load(f)
        except ValueError as error:
            raise InputError(
                f"{path} is damaged (not valid JSON: {error}); restore it or "
                "remove the work directory's copy to let it be rewritten."
            ) from None


def _flatten(d, prefix=""):
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def resolved(config: ml_collections.ConfigDict) -> dict:
    """The config as stored: JSON types, with the choices left to a part
    made concrete (attack.random_start "auto" -> the objective's start;
    train.precision "auto" -> this machine's dtype policy).

    >>> from advmask_tf.configs_lib import base_config, check_sections
    >>> config = base_config(); config.method.name = "trades"
    >>> resolved(config)["attack"]["random_start"]
    'normal'
    """
    values = json.loads(config.to_json_best_effort())
    attack = values["attack"]
    if attack.get("random_start") == "auto" and \
            config.method.name in OBJECTIVES:
        attack["random_start"] = OBJECTIVES.get(
            config.method.name).random_start
    if values["train"].get("precision") == "auto":
        values["train"]["precision"] = resolve_precision("auto")
    return values


def save_or_check_config(config: ml_collections.ConfigDict, workdir: WorkDir):
    """Writes the resolved config, or checks a resumed run uses the same one.

    More train.epochs than the run was started with continue it (the
    stored config is updated; the learning-rate schedule stretches to the
    new length); eval.* and tune.* fields, which do not change what is
    trained, may change (stored; the caller re-evaluates); any other change
    is refused, naming the fields. Returns the eval.*/tune.* fields that
    changed.
    """
    new = _flatten(resolved(config))
    if os.path.exists(workdir.config):
        old = _flatten(read_json(workdir.config))
        # Fields added to the schema since the run, at their defaults, are no
        # change (`resolved`: through JSON, so tuples compare as lists).
        defaults = _flatten(resolved(base_config()))
        changed = sorted(k for k in set(old) | set(new)
                         if old.get(k) != new.get(k)
                         and k not in PRESENTATION_FIELDS
                         and not (k not in old and new[k] == defaults.get(k)))
        continued = "train.epochs" in changed and \
            int(new["train.epochs"]) > int(old["train.epochs"])
        if continued:
            changed.remove("train.epochs")
        adjusted = [k for k in changed if k.startswith(("eval.", "tune."))]
        changed = [k for k in changed if k not in adjusted]
        if changed:
            details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
                                for k in changed)
            raise InputError(
                f"Work directory {workdir.root} holds a run with a different "
                f"config ({details}). Use a new --workdir, or the same config "
                "to resume (or more train.epochs to continue).")
        if not continued and not adjusted:
            return []
    else:
        adjusted = []
    atomic_write_json(workdir.config, resolved(config))
    return adjusted


def load_config(workdir: WorkDir) -> ml_collections.ConfigDict:
    """The stored config of a work directory, with fields added to the
    schema since the run at their defaults (which is how that run
    behaved)."""
    if not os.path.exists(workdir.config):
        raise MissingFileError(
            f"{workdir.config} does not exist: {workdir.root} is not a work "
            "directory made by advmask-train.")
    config = ml_collections.ConfigDict(
        _merged(base_config().to_dict(), read_json(workdir.config)))
    try:  # a hand-edited file must not be evaluated as if it trained
        check_sections(config)
    except InputError as error:
        raise InputError(f"{workdir.config} fails its checks (edited by "
                         f"hand?): {error}") from None
    return config


def _merged(defaults: dict, stored: dict) -> dict:
    merged = dict(defaults)
    for key, value in stored.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merged(merged[key], value)
        merged[key] = value
    return merged


def history(workdir: WorkDir) -> list[dict]:
    """The rows of history.csv (none before the first epoch)."""
    if not os.path.exists(workdir.history):
        return []
    with open(workdir.history) as f:
        return list(csv.DictReader(f))


def monitored(workdir: WorkDir, monitor: str, skip_empty=False) -> list:
    """The `monitor` column of history.csv as numbers; a file that lacks
    it or holds something else there is named."""
    values = []
    for number, row in enumerate(history(workdir), start=2):
        text = row.get(monitor)
        if skip_empty and text in (None, ""):
            continue
        try:
            values.append(float(text))
        except (TypeError, ValueError):
            raise InputError(
                f"{workdir.history} line {number}: {monitor} is {text!r}, "
                "not a number (edited by hand?); restore the file, or "
                "delete it with the backups to train again.") from None
    return values


def best_so_far(workdir: WorkDir, monitor: str):
    """The best monitored value in history.csv, or None."""
    values = monitored(workdir, monitor, skip_empty=True)
    return max(values) if values else None


def selected_epoch(workdir: WorkDir, monitor: str) -> int:
    """1-based epoch of the best monitored validation value (the first)."""
    values = monitored(workdir, monitor)
    return values.index(max(values)) + 1


def training_seconds(*workdirs: WorkDir) -> float | None:
    """The runs' measured training time: the sum of their epochs'
    `epoch_seconds` over every resume (None before any timed epoch)."""
    seconds = [float(row["epoch_seconds"]) for workdir in workdirs
               for row in history(workdir)
               if row.get("epoch_seconds") not in (None, "")]
    return round(sum(seconds), 1) if seconds else None


def run_facts(config, workdir: WorkDir) -> dict:
    """What a run's report records about the run itself: epochs trained,
    the selected epoch (by train.monitor), training time (the sum of the
    epochs' `epoch_seconds`, over every resume), how often the overfitting
    guard restored earlier weights, and the versions."""
    rows = history(workdir)
    timed = [WorkDir(path) for path in timed_runs(config, workdir.root)]
    if config.mix.enabled:  # a mixture: its classifiers' epochs
        timed = [WorkDir(path) for path in timed_runs(
            config, workdir.path("robust"))]
        if guide_kind(config) is None:
            timed.append(WorkDir(workdir.path("accurate")))
    monitor = config.train.monitor
    guard = (read_json(workdir.guard_events)["events"]
             if os.path.exists(workdir.guard_events) else [])
    return {
        "mixture": bool(config.mix.enabled),
        "guard_restores": len(guard),
        "epochs_trained": len(rows),
        "selected_epoch": (selected_epoch(workdir, monitor)
                           if rows and monitor in rows[0] else None),
        "training_seconds": training_seconds(*timed),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "advmask_tf": advmask_tf.__version__,
    }


def is_finished(config, workdir: WorkDir) -> bool:
    """Whether every epoch is trained and the test report is up to date."""
    rows = history(workdir)
    return (bool(rows)
            and int(rows[-1]["epoch"]) + 1 >= int(config.train.epochs)
            and is_fresh(workdir.metrics, workdir.best_model))
