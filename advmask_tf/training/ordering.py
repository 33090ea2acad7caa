"""Ordering independent passes of one training step."""

from __future__ import annotations

import contextlib

import tensorflow as tf


def after(tensor):
    """Orders the ops built in this context after `tensor` (if not None).

    Two independent forward passes in one step (say, logging logits and the
    attack loop) may otherwise run at the same time; on a CPU their thread
    pools then fight and the step ran up to 40% slower (bench/throughput.py).
    """
    if tensor is None:
        return contextlib.nullcontext()
    return tf.control_dependencies([tensor])
