"""Choosing a tf.distribute strategy by name.

`none` is the default (single-device) strategy; `mirrored` replicates over the
visible GPUs, or over the logical CPU devices when there is no GPU and more
than one CPU device is configured (how the tests run two replicas here);
`multi_worker` reads TF_CONFIG; `auto` is `mirrored` with two or more GPUs and
`none` otherwise.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from advmask_tf.errors import InputError

STRATEGIES = ("auto", "none", "mirrored", "multi_worker")


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy for `name` (one of STRATEGIES).

    >>> get_strategy("none").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise InputError(
            f"Unknown distribute {name!r}; expected one of {STRATEGIES}.")
    if name == "multi_worker":
        # Before anything lists devices: that starts the runtime, and the
        # collective ops must be configured before it starts.
        if "TF_CONFIG" not in os.environ:
            raise InputError(
                "distribute='multi_worker' needs the TF_CONFIG environment "
                "variable (cluster and task of this worker).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "none"
    if name == "none":
        return tf.distribute.get_strategy()
    devices = [d.name for d in gpus] or [
        d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def is_chief_process(distribute: str) -> bool:
    """Whether this process is the chief of a run with `distribute`.

    Under `multi_worker` the chief is the "chief" task of TF_CONFIG, or
    worker 0 when the cluster has none; read from TF_CONFIG, so it can be
    asked before (or without) starting the TF runtime. Any other strategy
    runs in one process, the chief.

    >>> is_chief_process("none")
    True
    """
    if distribute != "multi_worker":
        return True
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    task_type, index = task.get("type"), int(task.get("index", 0))
    return task_type == "chief" or (
        task_type == "worker" and index == 0
        and "chief" not in config.get("cluster", {}))


def worker_role(strategy: tf.distribute.Strategy | None = None) -> tuple:
    """(is_chief, name) of this process under `strategy`.

    >>> worker_role(get_strategy("none"))
    (True, 'chief')
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True, "chief"
    resolver = strategy.cluster_resolver
    name = f"{resolver.task_type}{int(resolver.task_id or 0)}"
    return is_chief_process("multi_worker"), name
