"""`advmask-train --dry_run`: build a whole run and train 2 steps on
synthetic data, then exit.

Everything a real run builds is built (the dataset pipeline at the
dataset's shape, the network, the strategy, the dtype policy, the
optimizer with its schedule, the callbacks and the work-directory files,
in a temporary directory), so a preset that would fail after an hour of
data loading on a cluster fails here in a minute.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time

from advmask_tf.data.synthetic import source_signature, synthetic_splits
from advmask_tf.distribute import get_strategy, worker_role
from advmask_tf.runs import mixing
from advmask_tf.runs.assembly import check_config
from advmask_tf.runs.train import train_in_workdir
from advmask_tf.runs.workdir import WorkDir, history

DRY_RUN_STEPS = 2


def dry_run_config(config, steps: int = DRY_RUN_STEPS):
    """The config cut to one epoch of `steps` batches, one validation
    batch and one test batch (the guard, if any, on at most that batch);
    every other field as given."""
    dry = copy.deepcopy(config)
    batch = int(dry.train.batch_size)
    dry.train.epochs = 1
    dry.train.verbose = 0
    # The preset's epoch boundaries lie past the single epoch.
    dry.train.lr_boundaries, dry.train.lr_multipliers = (), ()
    dry.data.validation_size = batch
    dry.data.train_limit = (steps + 1) * batch
    dry.data.test_limit = batch
    if int(dry.guard.points):
        dry.guard.points = min(int(dry.guard.points), batch)
    return dry


def dry_run(config, steps: int = DRY_RUN_STEPS) -> list[dict]:
    """Checks `config`, then trains `steps` steps of it on synthetic data
    shaped like its dataset in a temporary work directory. Returns one
    dict of facts per trained network (two for a mixed classifier).

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.train.batch_size = 4
    >>> config.model.options.width = 2; config.train.verbose = 0
    >>> facts = dry_run(config)  # doctest: +SKIP
    >>> facts[0]["updates"], facts[0]["finite_loss"]  # doctest: +SKIP
    (2, True)
    """
    check_config(config)
    parts = ([(name, part) for name, (_, part)
              in mixing.sub_runs(config, "").items()]
             if config.mix.enabled else [("run", config)])
    strategy = get_strategy(config.distribute)
    chief, role = worker_role(strategy)
    signature = source_signature(config.data)
    results = []
    for name, part in parts:
        dry = dry_run_config(part, steps)
        batch = int(dry.train.batch_size)
        splits = synthetic_splits(signature, (steps + 1) * batch, batch,
                                  int(dry.seed))
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="advmask-dry-run-") as root:
            model, data = train_in_workdir(dry, WorkDir(root), strategy,
                                           chief, role, splits=splits)
            rows = history(WorkDir(root))
        loss = float(rows[-1]["loss"]) if rows else float("nan")
        network = model.network
        results.append({
            "part": name,
            "model": part.model.name,
            "parameters": int(network.count_params()),
            "image_shape": tuple(data.image_shape),
            "num_classes": int(data.num_classes),
            "replicas": int(strategy.num_replicas_in_sync),
            "precision": network.dtype_policy.name,
            "jit_compile": bool(model.jit_compile),
            "optimizer": type(model.optimizer).__name__,
            "batch_size": batch,
            "updates": int(model.optimizer.iterations.numpy()),
            "loss": loss,
            "finite_loss": math.isfinite(loss),
            "seconds": time.perf_counter() - start,
        })
    return results


def summary(facts: list[dict]) -> str:
    """The dry run's facts as lines a person reads."""
    lines = []
    for fact in facts:
        lines.append(
            f"Dry run ({fact['part']}): {fact['model']} with "
            f"{fact['parameters']:,} parameters on {fact['image_shape']} "
            f"images, {fact['num_classes']} classes; {fact['replicas']} "
            f"replica(s), {fact['precision']}, jit_compile="
            f"{fact['jit_compile']}, {fact['optimizer']}; {fact['updates']} "
            f"updates of batch {fact['batch_size']}, loss {fact['loss']:.4f}, "
            f"{fact['seconds']:.1f} s.")
    return "\n".join(lines)
