"""Training at an equal wall-clock budget, shared by the benchmarks that
compare methods that way (bench/fast_training.py, bench/frontier.py): a
method's preset with the benches' overrides, the calibration of its
training step and validation, the epochs that fill a budget, and timed
training and testing whose seconds are kept beside each run (so a resumed
bench reuses them).
"""

from __future__ import annotations

import json
import os
import time

from benchlib import (
    SHARED,
    EpochTimer,
    config_path,
    eval_report,
    tool,
    variant,
)

from advmask_tf import runs
from advmask_tf.configs_lib import preset
from advmask_tf.io_utils import atomic_write_json
from advmask_tf.runs.guides import (
    guide_kind,
    timed_runs,
    trains_helper_first,
)
from advmask_tf.runs.workdir import training_seconds

VALIDATION = 2000
START_UP_SECONDS = 15  # advmask-train's imports, data and model building
BENCH_OVERRIDES = [f"--config.data.validation_size={VALIDATION}",
                   "--config.eval.checks=False"]


def method_config(method: str, *overrides: str):
    """The preset's config with the shared and this bench's overrides."""
    config = preset(config_path(method), os.path.basename(
        config_path(method)))
    for flag in (*SHARED, *BENCH_OVERRIDES, *variant(method)[1],
                 *overrides):
        field, value = flag[len("--config."):].split("=", 1)
        *sections, key = field.split(".")
        block = config
        for section in sections:
            block = block[section]
        block[key] = type(block[key])(
            value == "True" if isinstance(block[key], bool) else value)
    return config


# -- calibration -------------------------------------------------------------

def calibrate(method: str, data, batches: int = 30,
              precision: str = "float32") -> dict:
    """Training images/s of the method's step (second of two epochs over
    `batches` batches, so tracing is excluded) and validation images/s."""
    config = method_config(method, f"--config.train.precision={precision}")
    with runs.precision(precision):
        network = runs.build_network(config, data)
        # A guide's weights do not change the step's speed.
        guide = (runs.build_network(config, data) if guide_kind(config)
                 else None)
        model = runs.build_adversarial_model(config, network, data.num_train,
                                             guide=guide)
    model.compile(optimizer=runs.make_optimizer(config.train, batches))
    train = data.train.take(batches)
    timer = EpochTimer()
    start = time.perf_counter()
    model.fit(train, epochs=2, verbose=0, callbacks=[timer])
    images = batches * int(config.train.batch_size)
    # The first epoch's extra time is tracing, which every run pays once.
    tracing = max(0.0, time.perf_counter() - start - 2 * timer.seconds)
    validation = data.validation.take(4)
    model.evaluate(validation, verbose=0)
    start = time.perf_counter()
    model.evaluate(validation, verbose=0)
    val_images = 4 * int(config.train.batch_size)
    speed = {"train_ips": images / timer.seconds, "tracing": tracing,
             "val_ips": val_images / (time.perf_counter() - start)}
    if trains_helper_first(config):
        # HAT trains its helper first, an epoch of it per epoch of its own
        # (helper_epochs 0): the standard step's speed counts too.
        speed["helper"] = calibrate("standard" + method[len(
            variant(method)[0]):], data, batches, precision)
    return speed


def epoch_seconds(method: str, speed: dict, num_train: int) -> float:
    """Estimated seconds of one epoch: training, validation, the guard
    (and an epoch of the helper a method trains first)."""
    config = method_config(method)
    checked = VALIDATION + int(config.guard.points)
    seconds = num_train / speed["train_ips"] + checked / speed["val_ips"]
    if "helper" in speed:
        seconds += epoch_seconds("standard", speed["helper"], num_train)
    return seconds


def schedule(budget_s: float, per_epoch_s: float, fixed_s: float,
             num_train: int) -> list:
    """Overrides that fill the budget: whole epochs, or one epoch over a
    slice of the training set when the budget is under one epoch; `fixed_s`
    is what a run pays once (start-up, tracing)."""
    epochs = max(0.05, (budget_s - fixed_s) / per_epoch_s)
    if epochs >= 1:
        return [f"--config.train.epochs={int(epochs)}"]
    limit = int(epochs * num_train) + VALIDATION
    return ["--config.train.epochs=1", f"--config.data.train_limit={limit}"]


# -- runs --------------------------------------------------------------------

def schedule_label(overrides: list) -> str:
    """"epochs=4, train_limit=9000" from a run's overrides (the last field
    name of each), or "as configured" when there are none."""
    return ", ".join(o.split(".")[-1] for o in overrides) or "as configured"


def trained_before(method: str, workdir: str) -> float:
    """Seconds of the epochs a killed invocation left in the work
    directory (and in the classifier a guided run trains first), which the
    resuming invocation's wall-clock does not see."""
    runs_timed = [workdir]
    if os.path.exists(os.path.join(workdir, "config.json")):
        config = runs.load_config(runs.WorkDir(workdir))
        runs_timed = timed_runs(config, workdir)
    elif trains_helper_first(method_config(method)):
        runs_timed = timed_runs(method_config(method), workdir)
    return sum(training_seconds(runs.WorkDir(path)) or 0.0
               for path in runs_timed if os.path.isdir(path))


def train_timed(method: str, workdir: str, overrides: list) -> float:
    """Trains the run (without test evaluation) and returns its measured
    wall-clock seconds, kept beside the run so a resumed bench reuses it.
    A run a killed bench left half-trained resumes; its earlier epochs
    count by their measured seconds."""
    record = os.path.join(workdir, "bench_seconds.json")
    if os.path.exists(record):
        with open(record) as f:
            return json.load(f)["seconds"]
    before = trained_before(method, workdir)
    start = time.perf_counter()
    tool("advmask-train", f"--config={config_path(method)}",
         f"--workdir={workdir}", *SHARED, *BENCH_OVERRIDES,
         *variant(method)[1], *overrides,
         "--skip_eval")
    seconds = before + time.perf_counter() - start
    atomic_write_json(record, {"seconds": seconds, "overrides": overrides,
                               "resumed_after_seconds": before})
    return seconds


def test_timed(workdir: str, limit: int) -> tuple[dict, float]:
    """The PGD-20/CW-inf test report and the seconds it took (kept beside
    the run, like the training time)."""
    record = os.path.join(workdir, f"bench_eval_seconds_{limit}.json")
    start = time.perf_counter()
    report = eval_report(workdir, "best", "pgd,cw_inf", limit, False)
    if not os.path.exists(record):
        atomic_write_json(record, {"seconds": time.perf_counter() - start})
    with open(record) as f:
        return report, json.load(f)["seconds"]


