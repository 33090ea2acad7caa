"""A guard against catastrophic overfitting.

Single-step adversarial training (FGSM above all) can collapse within a
few steps: the network learns to defeat its one-step attack while its
robustness to PGD falls to about zero (Wong, Rice and Kolter 2020).
`OverfittingGuard` measures PGD robust accuracy on a fixed held-out slice
at each epoch's end (and every `every_steps` steps if asked), keeps the
weights of the best check, and when robust accuracy falls more than `drop`
below the best it restores those weights, says so (console, TensorBoard,
the run's `guard.json`, hence its report) and continues or stops.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from advmask_tf.attacks.pgd import PGDConfig, noise_keys_for
from advmask_tf.errors import InputError
from advmask_tf.io_utils import atomic_write_json
from advmask_tf.models.conditioning import at_strength, is_conditioned

ACTIONS = ("restore", "restore_and_stop")


class OverfittingGuard(keras.callbacks.Callback):
    """Watches PGD robust accuracy on held-out images during `fit`.

    Args:
        images, labels: the held-out slice (pixels in [0, 1]).
        attack: the `PGDConfig` it is measured with.
        drop: a collapse is robust accuracy more than `drop` (a fraction,
            e.g. 0.2) below the best check so far.
        every_steps: also check every this many training steps (0: at
            epoch ends only).
        action: "restore" (continue from the restored weights) or
            "restore_and_stop".
        log_dir: TensorBoard directory (None: none written).
        events_path: where the collapses are recorded as JSON (None: not).
    """

    def __init__(self, images, labels, attack: PGDConfig, drop: float = 0.2,
                 every_steps: int = 0, action: str = "restore",
                 log_dir: str | None = None,
                 events_path: str | None = None):
        super().__init__()
        if action not in ACTIONS:
            raise InputError(f"guard.action must be one of {ACTIONS}; "
                             f"received {action!r}.")
        if not 0 < drop < 1:
            raise InputError(f"guard.drop must be in (0, 1); received "
                             f"{drop}.")
        self.images = tf.cast(images, tf.float32)
        self.labels = tf.cast(labels, tf.int32)
        self.attack = attack
        self.drop = float(drop)
        self.every_steps = int(every_steps)
        self.action = action
        self.log_dir = log_dir
        self.events_path = events_path
        self.events: list[dict] = []
        if events_path and os.path.exists(events_path):  # a resumed run
            with open(events_path) as f:
                self.events = json.load(f)["events"]
        self.best = -1.0
        self._best_weights = None
        self._best_at = ""
        self._epoch = 0
        self._steps = 0
        self._writer = None

    def robust_accuracy(self) -> float:
        """PGD robust accuracy of the model's network on the slice now."""
        network = self.model.network
        if is_conditioned(network):
            network = at_strength(network, self.attack.eps)
        survived = []
        for start in range(0, len(self.labels), 250):
            x = self.images[start:start + 250]
            y = self.labels[start:start + 250]
            # Random starts keyed by position: every worker of a
            # multi-worker run sees the same accuracy and decides alike.
            keys = noise_keys_for(tf.range(start, start + len(y)), 7)
            survived.append(np.logical_not(self.attack.fooled(
                network, x, y, noise_keys=keys).numpy()))
        return float(np.mean(np.concatenate(survived)))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if self.every_steps and self._steps % self.every_steps == 0:
            self.check(f"epoch {self._epoch + 1}, step {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        accuracy = self.check(f"the end of epoch {epoch + 1}")
        if logs is not None:
            logs["guard_robust_accuracy"] = accuracy

    def check(self, when: str) -> float:
        accuracy = self.robust_accuracy()
        self._scalar("guard/robust_accuracy", accuracy)
        if accuracy > self.best:
            self.best, self._best_at = accuracy, when
            self._best_weights = [v.numpy() for v in self._variables()]
        elif self.best - accuracy > self.drop:
            self._restore(accuracy, when)
        return accuracy

    def _variables(self) -> list:
        """What a restore puts back: the trained networks' variables (a
        jointly trained guide's too, so the two stay a pair)."""
        return [v for network in self.model.trained_networks
                for v in network.variables]

    def _restore(self, accuracy: float, when: str) -> None:
        for variable, value in zip(self._variables(), self._best_weights):
            variable.assign(value)
        stop = self.action == "restore_and_stop"
        event = {"at": when, "robust_accuracy": accuracy,
                 "best_robust_accuracy": self.best,
                 "restored_from": self._best_at, "stopped": stop}
        self.events.append(event)
        message = (f"Catastrophic overfitting guard: PGD-{self.attack.steps} "
                   f"robust accuracy on {len(self.labels)} held-out images "
                   f"fell to {100 * accuracy:.1f}% at {when} (best "
                   f"{100 * self.best:.1f}% at {self._best_at}); restored "
                   f"the weights of {self._best_at}"
                   + ("; training stops." if stop else "; training goes on."))
        print(message, flush=True)
        self._text("guard/events", message)
        if self.events_path:
            atomic_write_json(self.events_path, {"events": self.events})
        if stop:
            self.model.stop_training = True

    def _summary_writer(self):
        if self._writer is None and self.log_dir:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.log_dir, "guard"))
        return self._writer

    def _scalar(self, tag, value):
        self._write(tf.summary.scalar, tag, value)

    def _text(self, tag, text):
        self._write(tf.summary.text, tag, text)

    def _write(self, summary, tag, value):
        writer = self._summary_writer()
        if writer is not None:
            step = int(self.model.optimizer.iterations.numpy())
            with writer.as_default():
                summary(tag, value, step=step)
            writer.flush()
