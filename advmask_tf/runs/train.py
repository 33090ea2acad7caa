"""Training one experiment in a work directory, resuming where it stopped.

Re-running the same command resumes: training continues from the last
finished epoch (BackupAndRestore), and a finished run is only reported.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import keras
import ml_collections
import tensorflow as tf

from advmask_tf.attacks.pgd import PGDConfig
from advmask_tf.data.pipeline import build_data, prefetch_to
from advmask_tf.devices import (
    local_accelerator,
    resolve_jit_compile,
    resolve_precision,
)
from advmask_tf.distribute import get_strategy, is_chief_process, worker_role
from advmask_tf.errors import InputError
from advmask_tf.io_utils import atomic_save
from advmask_tf.plotting import context_line, dataset_name
from advmask_tf.progress import RunProgress
from advmask_tf.runs import mixing
from advmask_tf.runs.assembly import (
    build_adversarial_model,
    build_network,
    check_config,
    initialise_from,
    make_optimizer,
    method_label,
    precision,
)
from advmask_tf.runs.checkpoints import (
    HistoryLog,
    RawWeightsForBackup,
    RunBackup,
    rows_before,
    unreadable_weights,
    write_history,
)
from advmask_tf.runs.evaluate import evaluate_workdir
from advmask_tf.runs.guides import (
    build_guide,
    guide_kind,
    guide_model_path,
    helper_config,
    helper_workdir,
    trains_helper_first,
)
from advmask_tf.runs.lock import hold
from advmask_tf.runs.workdir import (
    WorkDir,
    best_so_far,
    history,
    is_finished,
    is_fresh,
    read_json,
    save_or_check_config,
)
from advmask_tf.training.divergence import StopWhenLossIsNotFinite
from advmask_tf.training.guard import OverfittingGuard
from advmask_tf.training.monitoring import InstanceStateMonitor


def fit_verbosity(verbose: int, terminal: bool | None = None) -> int:
    """`fit`'s verbose: a progress bar (1) only on a terminal; into a log
    file, a line per epoch (2) instead of the bar's control characters.

    >>> fit_verbosity(1, terminal=False), fit_verbosity(1, terminal=True)
    (2, 1)
    """
    if terminal is None:
        terminal = sys.stdout.isatty()
    return 2 if verbose == 1 and not terminal else verbose


class EpochSeconds(keras.callbacks.Callback):
    """Adds each epoch's wall-clock seconds to its logs (history.csv's
    `epoch_seconds`, summed into the report's training time)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


def radii_title(config, data) -> str:
    """The title of a run's radii.png: method, dataset, eps, points."""
    return (f"{method_label(config)}: training images with the smallest "
            "and largest adaptive radii\n"
            + context_line(dataset_name(config.data), None,
                           len(data.train_labels), split="training")
            + ", after the last epoch")


def _work_directory_callbacks(config, wd: WorkDir, data) -> list:
    """What the chief writes while training: last and best weights,
    history, TensorBoard and the per-example state (the backup comes after
    them all, see `RunBackup`)."""
    callbacks = [keras.callbacks.ModelCheckpoint(wd.last_weights,
                                                 save_weights_only=True)]
    if data.validation is not None:
        monitor = config.train.monitor
        callbacks.append(keras.callbacks.ModelCheckpoint(
            wd.best_weights, monitor=monitor, mode="max", save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far(wd, monitor)))
    return callbacks + [
        EpochSeconds(),
        HistoryLog(wd.history, history(wd)),
        keras.callbacks.TensorBoard(wd.tensorboard),
        InstanceStateMonitor(wd.tensorboard, export_dir=wd.root,
                             images=data.train_images,
                             labels=data.train_labels,
                             class_names=data.class_names,
                             title=radii_title(config, data)),
    ]


def overfitting_guard(config, data, wd: WorkDir, chief: bool
                      ) -> OverfittingGuard:
    """The config's guard, on the first guard.points validation images
    (`check_config` has made sure there are that many)."""
    points = int(config.guard.points)
    images, labels = [], []
    for features, label in data.validation.unbatch().take(points).batch(
            points):
        images, labels = features["image"], label
    eps = float(config.attack.eps)
    return OverfittingGuard(
        images, labels, PGDConfig(eps=eps, steps=int(config.guard.steps)),
        drop=float(config.guard.drop),
        every_steps=int(config.guard.every_steps),
        action=config.guard.action,
        log_dir=wd.tensorboard if chief else None,
        events_path=wd.guard_events if chief else None)


def _drop_unreadable(path: str) -> None:
    """A torn weights file (left by an older version, or a damaged disk)
    is removed with a warning instead of failing every re-run."""
    problem = unreadable_weights(path)
    if problem:
        print(f"Warning: {path} cannot be read ({problem}); removed, it is "
              "written again by the next epoch.", flush=True)
        os.remove(path)


def _resume(model, wd: WorkDir, backup: RunBackup, chief: bool) -> int:
    """Restores the newest readable backup into `model`; keeps
    history.csv to the epochs it covers. Returns the epochs done."""
    if chief:
        for path in (wd.best_weights, wd.last_weights):
            _drop_unreadable(path)
    done = backup.restore(model)
    if chief and os.path.exists(wd.history):
        rows = rows_before(wd.history, done)
        if rows != history(wd):
            write_history(wd.history, rows)
    if done:
        print(f"Resuming {wd.root} after epoch {done}.", flush=True)
    return done


def train(config: ml_collections.ConfigDict, workdir: str):
    """Trains (or resumes training) and exports the best and last networks.

    Returns (the trained `AdversarialModel` with the best weights, the data).
    """
    # First: MultiWorkerMirroredStrategy must exist before any TF op runs.
    strategy = get_strategy(config.distribute)
    check_config(config)
    wd = WorkDir(workdir)
    chief, role = worker_role(strategy)
    # Only the chief writes the work directory, so only it holds the lock.
    with (hold(wd.root, "advmask-train") if chief
          else contextlib.nullcontext()):
        if trains_helper_first(config):
            if int(config.train.verbose):
                print(f"The guide's classifier, trained first (standard "
                      f"training): {helper_workdir(wd.root)}", flush=True)
            train_or_report(helper_config(config),
                            helper_workdir(wd.root), evaluate=False)
        return train_in_workdir(config, wd, strategy, chief, role)


def train_in_workdir(config, wd: WorkDir, strategy, chief: bool, role: str,
                     splits=None):
    """`train`'s work once the strategy exists and the lock is held; with
    `splits` (ArraySplits), on those arrays instead of the config's data
    source (the dry run's synthetic images)."""
    os.makedirs(wd.root, exist_ok=True)
    if os.path.exists(wd.config):  # a resumed run: refuse another config now
        save_or_check_config(config, wd)
    keras.utils.set_random_seed(int(config.seed))
    if not chief:
        # Every worker trains; only the chief writes the work directory.
        # The others keep a private backup (for resuming) and nothing else.
        wd = WorkDir(wd.path("workers", role))
        os.makedirs(wd.root, exist_ok=True)
    data = build_data(config.data, int(config.train.batch_size),
                      int(config.seed), splits=splits)
    if int(config.train.batch_size) > data.num_train:
        raise InputError(
            f"train.batch_size={config.train.batch_size} is above the "
            f"{data.num_train:,} training examples (after data.train_limit "
            "and data.validation_size); every step would be the whole "
            f"training set. Choose at most {data.num_train}.")
    steps = data.steps_per_epoch
    accelerator = local_accelerator()
    replicas = strategy.num_replicas_in_sync
    with strategy.scope(), precision(resolve_precision(
            config.train.precision, accelerator)):
        network = build_network(config, data)
        if config.train.init_from:
            initialise_from(network, config.train.init_from)
        model = build_adversarial_model(
            config, network, data.num_train,
            guide=_guide(config, wd, data, dry_run=splits is not None))
        model.compile(optimizer=make_optimizer(config.train, steps),
                      jit_compile=resolve_jit_compile(
                          config.train.jit_compile, accelerator, replicas))
        example = tf.zeros((1,) + tuple(data.image_shape))
        model({"image": example, "eps": tf.zeros([1])}
              if model.conditioned else example)
    # Written once the model builds, so a config that cannot is not stored.
    save_or_check_config(config, wd)
    backup = RunBackup(wd.backup)
    with strategy.scope():
        done = _resume(model, wd, backup, chief)
    # First: a diverged epoch reaches no callback that stores it.
    callbacks = [StopWhenLossIsNotFinite(float(config.train.learning_rate))]
    last = [backup]
    if int(config.guard.points):
        # Before the EMA swap: it judges (and restores) the trained
        # weights, not their average.
        callbacks.append(overfitting_guard(config, data, wd, chief))
    if float(config.train.ema_momentum) > 0:
        swapper = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
        callbacks.append(swapper)
        last.insert(0, RawWeightsForBackup(swapper))
    if chief:
        callbacks += _work_directory_callbacks(config, wd, data)
        if int(config.train.verbose):
            # Keras' own epoch line first, then the run's.
            callbacks += [keras.callbacks.ProgbarLogger(),
                          RunProgress(int(config.train.epochs))]
    # From the first epoch not done, in the order an uninterrupted run
    # takes: a resumed run trains the same model.
    train_data = data.train_from(done)
    if accelerator.kind == "gpu" and replicas == 1:
        train_data = prefetch_to(train_data, "/gpu:0")
    # After fit the model holds the averaged weights (Keras finalises them).
    model.fit(train_data, validation_data=data.validation,
              steps_per_epoch=steps,
              epochs=int(config.train.epochs), initial_epoch=done,
              callbacks=callbacks + last,
              verbose=fit_verbosity(int(config.train.verbose)) if chief
              else 0,
              shuffle=False)
    if not chief:
        return model, data
    atomic_save(model.network.save, wd.last_model)
    if os.path.exists(wd.best_weights):
        model.load_weights(wd.best_weights)
    atomic_save(model.network.save, wd.best_model)
    if guide_kind(config) == "trained":  # the guide of the best epoch
        atomic_save(model.guide.save, guide_model_path(config, wd.root))
    return model, data


def _guide(config, wd: WorkDir, data, dry_run: bool):
    """The guide network of a guided objective (`runs.guides`; None
    without one). A dry run trains no classifier first: its guide is a
    fresh network."""
    if dry_run and trains_helper_first(config):
        return build_network(config, data)
    return build_guide(config, wd.root, data,
                       lambda: build_network(config, data))


def train_or_report(config: ml_collections.ConfigDict, workdir: str,
                    evaluate: bool = True) -> tuple[dict | None, bool]:
    """What advmask-train does: train (or resume) the run, then evaluate
    its best network on the test set; a finished run is only reported.

    Returns (the test report, or None when not evaluated or not the
    chief; whether the run had finished earlier).
    """
    wd = WorkDir(workdir)
    if config.mix.enabled:
        return _train_mixture(config, workdir, evaluate)
    if config.distribute == "multi_worker":
        # Every worker must take part in training, also when resuming a
        # finished run (the others would wait for it forever); the
        # strategy comes before any check (train holds the chief's lock).
        train(config, workdir)
        if not evaluate or not is_chief_process(config.distribute):
            return None, False
        return evaluate_workdir(workdir, run_report=True), False
    check_config(config)  # before the work directory is made
    with hold(wd.root, "advmask-train"):
        if is_finished(config, wd):
            # Check the config anyway: another config on it fails.
            if not save_or_check_config(config, wd):
                return read_json(wd.metrics), True
            # Only eval settings changed: a new report of the same network.
            if not evaluate:
                return None, True
            return evaluate_workdir(workdir, run_report=True), True
        train(config, workdir)
        if not evaluate:
            return None, False
        return evaluate_workdir(workdir, run_report=True), False


def _train_mixture(config, workdir: str, evaluate: bool):
    """train_or_report for a mixed classifier (`advmask_tf.runs.mixing`):
    both classifiers' runs (each resumes), the choice on the validation
    split, the mixture's model.keras, its evaluation."""
    if config.distribute == "multi_worker":
        raise InputError("mix.enabled runs on one machine (train its two "
                         "classifiers with multi_worker separately); "
                         "received distribute='multi_worker'.")
    check_config(config)
    wd = WorkDir(workdir)
    with hold(wd.root, "advmask-train"):
        os.makedirs(wd.root, exist_ok=True)
        adjusted = save_or_check_config(config, wd)
        for name, (path, sub_config) in mixing.sub_runs(
                config, workdir).items():
            if int(config.train.verbose):
                print(f"The {name} classifier: {path}", flush=True)
            # Evaluated with the mixture, whose report compares with both.
            train_or_report(sub_config, path, evaluate=evaluate)
        fresh = all(is_fresh(wd.best_model, path) for path in
                    mixing.classifier_paths(config, workdir).values())
        if not fresh:
            mixing.select_and_save(config, workdir,
                                   verbose=int(config.train.verbose))
        finished = fresh and is_fresh(wd.metrics, wd.best_model)
        if finished and not adjusted:
            return read_json(wd.metrics), True
        if not evaluate:
            return None, finished
        return evaluate_workdir(workdir, run_report=True), finished
