"""A run's resumable state: its backup and its history, always in step.

Keras' BackupAndRestore rewrites its weights in place (a kill mid-write
leaves a file that fails every later resume) and saves before the other
callbacks have written the epoch, so a kill between them loses the epoch's
history row. `RunBackup` instead writes `backup/epoch-<N>.weights.h5` and
then `backup/state.json` naming it, each atomically, as the *last* thing of
an epoch: when the backup says N epochs are done, everything of those N
epochs is on disk. Resuming tries the newest backup, then the one before
(and the layout of Keras' BackupAndRestore, for older work directories),
and says what it fell back to; `HistoryLog` keeps `history.csv` at one row
per epoch by rewriting it whole, atomically.
"""

from __future__ import annotations

import csv
import io
import os
import re

import h5py
import keras

from advmask_tf.io_utils import (
    atomic_write_json,
    atomic_write_text,
    read_json_or_none,
)

_EPOCH_FILE = re.compile(r"^epoch-(\d+)\.weights\.h5$")


class RunBackup(keras.callbacks.Callback):
    """Saves the model (weights, optimizer, per-example tables) after each
    epoch into `backup_dir`; `restore(model)` resumes from it.

    Put it last in the callbacks, so it saves after everything else.
    """

    def __init__(self, backup_dir: str, keep: int = 2):
        super().__init__()
        self.backup_dir = backup_dir
        self.keep = keep

    def candidates(self) -> list[tuple[int, str]]:
        """(epochs done, weights path), the most recent first."""
        found = []
        state = read_json_or_none(os.path.join(self.backup_dir, "state.json"))
        if state and "weights" in state:
            found.append((int(state["epoch"]),
                          os.path.join(self.backup_dir, state["weights"])))
        if os.path.isdir(self.backup_dir):
            for name in sorted(os.listdir(self.backup_dir)):
                match = _EPOCH_FILE.match(name)
                if match:
                    found.append((int(match.group(1)),
                                  os.path.join(self.backup_dir, name)))
        # The layout of keras.callbacks.BackupAndRestore (older runs).
        for suffix in ("", ".bkp"):
            meta = read_json_or_none(os.path.join(
                self.backup_dir, "training_metadata.json" + suffix))
            weights = os.path.join(self.backup_dir,
                                   "latest.weights.h5" + suffix)
            if meta and os.path.exists(weights):
                found.append((int(meta["epoch"]), weights))
        unique = []
        for entry in sorted(found, key=lambda e: -e[0]):
            if entry not in unique:
                unique.append(entry)
        return unique

    def restore(self, model) -> int:
        """Loads the newest readable backup into `model` (compiled and
        built) and returns the epochs it had done (0: start afresh)."""
        candidates = self.candidates()
        if not candidates:
            return 0
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        variables = list(model.variables) + (
            list(model.optimizer.variables) if model.optimizer else [])
        initial = [v.numpy() for v in variables]
        for number, (epoch, path) in enumerate(candidates):
            try:
                model.load_weights(path)
            except Exception as error:  # noqa: BLE001 - any unreadable file
                for variable, value in zip(variables, initial):
                    variable.assign(value)
                following = (f"the backup of epoch {candidates[number + 1][0]}"
                             if number + 1 < len(candidates)
                             else "the start (epoch 1)")
                print(f"Warning: the backup {path} cannot be read "
                      f"({type(error).__name__}: {_first_line(error)}); "
                      f"resuming from {following} instead.", flush=True)
                continue
            return epoch
        return 0

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        name = f"epoch-{done}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, name))
        atomic_write_json(os.path.join(self.backup_dir, "state.json"),
                          {"epoch": done, "weights": name})
        for _, path in self.candidates()[self.keep:]:
            if _EPOCH_FILE.match(os.path.basename(path)) or \
                    "latest.weights.h5" in path:
                os.remove(path)


class RawWeightsForBackup(keras.callbacks.Callback):
    """With weight averaging, `keras.callbacks.SwapEMAWeights(
    swap_on_epoch=True)` (first in the callbacks) puts the averaged weights
    into the model at an epoch's end, so validation, the best-network
    selection and the checkpoints see them. Placed just before `RunBackup`,
    this swaps the trained weights back, so a resumed run goes on training
    them, not their average."""

    def __init__(self, swapper: keras.callbacks.SwapEMAWeights):
        super().__init__()
        self.swapper = swapper

    def on_epoch_end(self, epoch, logs=None):
        self.swapper.on_epoch_begin(epoch)  # swaps back when swapped in


class HistoryLog(keras.callbacks.Callback):
    """history.csv with one row per epoch (epoch, then the logs' keys in
    sorted order, as keras.callbacks.CSVLogger writes them), rewritten
    whole and atomically after each epoch.

    Args:
        path: the CSV file.
        rows: the rows of the epochs before this fit (see `rows_before`).
    """

    def __init__(self, path: str, rows: list[dict]):
        super().__init__()
        self.path = path
        self.rows = list(rows)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch}
        row.update({key: _plain(value) for key, value in (logs or {}).items()})
        self.rows = [r for r in self.rows if int(r["epoch"]) < epoch] + [row]
        write_history(self.path, self.rows)


def rows_before(path: str, epoch: int) -> list[dict]:
    """The rows of history.csv for the epochs before `epoch` (0-based),
    one per epoch (a row written twice by an earlier resume counts once:
    the later one)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        by_epoch = {int(row["epoch"]): row for row in csv.DictReader(f)
                    if row.get("epoch", "").strip().isdigit()}
    return [by_epoch[e] for e in sorted(by_epoch) if e < epoch]


def write_history(path: str, rows: list[dict]) -> None:
    """Writes rows as history.csv, atomically."""
    keys = sorted({key for row in rows for key in row} - {"epoch"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch"] + keys,
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def unreadable_weights(path: str) -> str | None:
    """Why the weights file at `path` cannot be read (None: it can, or
    it does not exist)."""
    if not os.path.exists(path):
        return None
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda _, item: item[()] if isinstance(
                item, h5py.Dataset) else None)
    except Exception as error:  # noqa: BLE001 - any unreadable file
        return f"{type(error).__name__}: {_first_line(error)}"
    return None


def _plain(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _first_line(error) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else ""
