"""Searching the robustness/accuracy trade-off with KerasTuner.

Each trial trains its config with `advmask_tf.runs.train` in its own work
directory (so a killed trial resumes from its last epoch), then evaluates
its selected network with the project's evaluation (the config's attacks,
PGD-20 and CW-inf by default) on the validation split. The tuner keeps its
state in the search's work directory: re-running the same command resumes
the search, re-running the interrupted trial first.

Distributed (`advmask_tf.tuning.distributed`): the chief serves the oracle
and writes the reports once every trial is done; each worker trains the
trials it is given, each in that trial's work directory, and holds
<workdir>/workers/<tuner id> so that no two processes share an id. A
worker restarted with its id resumes its unfinished trial.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import keras
import keras_tuner
import ml_collections

from advmask_tf import runs
from advmask_tf.errors import InputError
from advmask_tf.io_utils import atomic_write_json, atomic_write_text
from advmask_tf.plotting import context_line, dataset_name
from advmask_tf.progress import duration
from advmask_tf.runs.lock import hold
from advmask_tf.tuning.atomic_state import ORACLES as ATOMIC_ORACLES
from advmask_tf.tuning.atomic_state import AtomicTunerState
from advmask_tf.tuning.dashboard import log_trial
from advmask_tf.tuning.distributed import (
    ORACLE_IP,
    ORACLE_PORT,
    TUNER_ID,
    tuning_role,
)
from advmask_tf.tuning.objectives import check_objective, score
from advmask_tf.tuning.pareto import (
    pareto_front,
    plot_front,
    trial_number,
    trials_markdown,
)
from advmask_tf.tuning.space import AdversarialHyperModel

ORACLES = tuple(ATOMIC_ORACLES)


class AdversarialTuner(AtomicTunerState, keras_tuner.Tuner):
    """A KerasTuner `Tuner` whose trials are advmask-train runs.

    `run_trial` returns {"score", "val_clean", "val_robust"}; the oracle
    maximises "score" (see `advmask_tf.tuning.objectives.score`).
    """

    def __init__(self, hypermodel: AdversarialHyperModel, oracle, **kwargs):
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.trials_run_here = 0

    def progress_line(self, trial, max_trials: int) -> str:
        """"Trial N of M (search/trial_<id>), elapsed ..., ETA ...", the
        ETA from the mean time of the trials this process finished."""
        if not hasattr(self, "_started"):
            self._started, self._finished_here = time.monotonic(), 0
        else:
            self._finished_here += 1
        elapsed = time.monotonic() - self._started
        number = trial_number(trial.trial_id)
        line = (f"Trial {number} of {max_trials} (search/trial_"
                f"{trial.trial_id}); elapsed {duration(elapsed)}")
        if self._finished_here:
            left = max_trials - number + 1
            line += (f", ETA {duration(left * elapsed / self._finished_here)}"
                     " for the search")
        return line

    def load_model(self, trial):
        """The trial's selected network (its run's model.keras): what
        `get_best_models` returns."""
        run = runs.WorkDir(os.path.join(self.get_trial_dir(trial.trial_id),
                                        "run"))
        return keras.models.load_model(run.best_model)

    def run_trial(self, trial, *args, **kwargs):
        config = self.hypermodel.trial_config(trial.hyperparameters)
        tune = config.tune
        print(self.progress_line(trial, int(tune.max_trials)), flush=True)
        workdir = os.path.join(self.get_trial_dir(trial.trial_id), "run")
        model, data = runs.train(config, workdir)
        report = validation_report(config, model.network, data,
                                   int(tune.validation_limit))
        clean = report["clean"]["accuracy"]
        robust = report["worst_case"]["accuracy"]
        metrics = {"val_clean": clean, "val_robust": robust,
                   "score": score(tune.objective, clean, robust,
                                  float(tune.robust_weight),
                                  float(tune.robust_floor))}
        atomic_write_json(os.path.join(workdir, "validation.json"),
                          {**metrics, "tuner_id": self.tuner_id,
                           "report": _plain(report)})
        self.trials_run_here += 1
        log_trial(self.project_dir, trial.trial_id,
                  trial.hyperparameters.values, metrics)
        return metrics


def _plain(report):
    return json.loads(json.dumps(report, default=float))


def validation_report(config, network, data, limit: int = 0) -> dict:
    """The config's evaluation of `network` on the validation split (its
    first `limit` points; 0: all), no sanity checks."""
    dataset = data.validation
    if limit:
        batch = int(config.train.batch_size)
        dataset = dataset.unbatch().take(limit).batch(batch)
    return runs.evaluate_network(
        network, dataclasses.replace(data, test=dataset), config,
        runs.evaluation_attacks(config), runs.eval_eps(config), checks=False,
        verbose=0, title="validation")


def make_tuner(config: ml_collections.ConfigDict, workdir: str,
               overwrite: bool = False) -> AdversarialTuner:
    """The tuner of `config.tune`, stored under `workdir`."""
    tune = config.tune
    check_objective(tune.objective, float(tune.robust_weight),
                    float(tune.robust_floor))
    if tune.tuner not in ORACLES:
        raise InputError(f"Unknown tune.tuner {tune.tuner!r}; expected one "
                         f"of {ORACLES}.")
    if int(config.data.validation_size) < 1:
        raise InputError(f"A search judges its trials on the validation "
                         f"split: data.validation_size must be > 0; "
                         f"received {config.data.validation_size}.")
    if int(tune.max_trials) < 1:
        raise InputError(f"tune.max_trials must be >= 1; received "
                         f"{tune.max_trials}.")
    objective = keras_tuner.Objective("score", direction="max")
    oracle = ATOMIC_ORACLES[tune.tuner](objective=objective,
                          max_trials=int(tune.max_trials),
                          seed=int(tune.seed))
    # KerasTuner draws a random seed for a falsy one: seed 0 means 0 here.
    oracle.seed = oracle._seed_state = int(tune.seed)
    hypermodel = AdversarialHyperModel(config)
    hypermodel.check()
    return AdversarialTuner(hypermodel, oracle,
                            directory=workdir, project_name="search",
                            overwrite=overwrite)


def trial_rows(tuner: AdversarialTuner) -> list:
    """One dict per completed trial: trial (KerasTuner's id, the directory
    search/trial_<id>), number (the one trials.md, the plot and the console
    show), clean, robust, score, hyperparameters."""
    rows = []
    for trial in tuner.oracle.trials.values():
        if trial.status != keras_tuner.engine.trial.TrialStatus.COMPLETED:
            continue
        metrics = trial.metrics
        rows.append({
            "trial": trial.trial_id,
            "number": trial_number(trial.trial_id),
            "clean": float(metrics.get_last_value("val_clean")),
            "robust": float(metrics.get_last_value("val_robust")),
            "score": float(metrics.get_last_value("score")),
            "hyperparameters": dict(trial.hyperparameters.values),
        })
    return rows


def failed_trials(tuner: AdversarialTuner) -> list:
    """{"trial", "number", "error"} per trial that ended in an error (its
    last line: the exception)."""
    ended_badly = (keras_tuner.engine.trial.TrialStatus.FAILED,
                   keras_tuner.engine.trial.TrialStatus.INVALID)
    failed = []
    for trial in tuner.oracle.trials.values():
        if trial.status in ended_badly:
            lines = [line for line in (trial.message or "").splitlines()
                     if line.strip()]
            failed.append({"trial": trial.trial_id,
                           "number": trial_number(trial.trial_id),
                           "error": lines[-1] if lines else "no message"})
    return failed


def failed_markdown(failed: list, stopped: str | None) -> str:
    """The failed trials' section of trials.md (empty when none failed)."""
    if not failed:
        return ""
    lines = ["", "## Failed trials", ""]
    if stopped:
        lines += [f"The search stopped: {stopped}", ""]
    lines += ["| trial | directory | error |", "| --- | --- | --- |"]
    lines += [f"| {f['number']} | search/trial_{f['trial']} | "
              f"{f['error'].replace('|', '/')} |" for f in failed]
    return "\n".join(lines) + "\n"


def search(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Runs (or resumes) the search and writes its reports to `workdir`:
    trials.json, trials.md (all trials, the front marked, and the trials
    that failed) and pareto.png. Returns {"trials": rows, "front": ids,
    "best": row, "failed": [{"trial", "number", "error"}], "stopped": why
    the search stopped early, or None}; rows as `trial_rows`. A
    distributed
    worker (see the module docstring) returns {"role": "worker",
    "tuner_id", "trials_run"} instead, the chief writes the reports."""
    role = tuning_role()
    if role == "worker":
        tuner_id = os.environ[TUNER_ID]
        with hold(os.path.join(workdir, "workers", tuner_id),
                  f"advmask-tune worker {tuner_id}"):
            tuner = make_tuner(config, workdir)
            tuner.search()
            return {"role": "worker", "tuner_id": tuner_id,
                    "trials_run": tuner.trials_run_here}
    with hold(workdir, "advmask-tune"):
        return _search(config, workdir, serving=role == "chief")


def _search(config: ml_collections.ConfigDict, workdir: str,
            serving: bool = False) -> dict:
    tuner = make_tuner(config, workdir)
    if serving:
        print(f"Serving the search's oracle on {os.environ[ORACLE_IP]}:"
              f"{os.environ[ORACLE_PORT]}: start workers with the same "
              f"command and {TUNER_ID}=<a name per worker>; the reports are "
              "written when every trial is done.", flush=True)
    stopped = None
    try:
        tuner.search()
    except RuntimeError as error:
        # KerasTuner gives up after too many failed trials in a row: the
        # reports still show what ran and what failed.
        if "consecutive failures" not in str(error):
            raise
        stopped = str(error).splitlines()[0]
    rows, failed = trial_rows(tuner), failed_trials(tuner)
    front = pareto_front({r["trial"]: (r["clean"], r["robust"])
                          for r in rows})
    best = max(rows, key=lambda r: r["score"]) if rows else None
    result = {"objective": config.tune.objective, "trials": rows,
              "front": front, "best": best, "failed": failed,
              "stopped": stopped}
    atomic_write_json(os.path.join(workdir, "trials.json"), result)
    atomic_write_text(os.path.join(workdir, "trials.md"),
                      f"# Search: objective {config.tune.objective}\n\n"
                      + trials_markdown(rows, front)
                      + failed_markdown(failed, stopped))
    if rows:
        size, limit = (int(config.data.validation_size),
                       int(config.tune.validation_limit))
        points = min(size, limit) if limit else size
        plot_front(rows, front, os.path.join(workdir, "pareto.png"),
                   f"Search: {len(rows)} trials, objective "
                   f"{config.tune.objective}\n" + context_line(
                       dataset_name(config.data), runs.eval_eps(config),
                       points, "selected", split="validation"),
                   tensorboard=(os.path.join(tuner.project_dir,
                                             "tensorboard"),
                                "search/pareto_front", len(rows)))
    return result
