"""A resumed run trains the model an uninterrupted run trains."""

import importlib
import os

import numpy as np
import pytest
from conftest import tiny

from advmask_tf import runs

train_module = importlib.import_module("advmask_tf.runs.train")


class PlantedKill(Exception):
    """Stands for a kill -9 right after an epoch's backup is on disk."""


def test_a_run_killed_after_an_epoch_resumes_to_the_uninterrupted_model(
        tmp_path, monkeypatch):
    """The resumed process must train epoch 2 on epoch 2's order: a shuffle
    that reshuffles each iteration would replay epoch 1's."""
    config = tiny({"train.epochs": 3, "train.verbose": 0,
                   "data.train_limit": 700, "data.validation_size": 100})
    uninterrupted, _ = runs.train(config, str(tmp_path / "whole"))

    class KilledAfterFirstBackup(train_module.RunBackup):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 0:
                raise PlantedKill

    with monkeypatch.context() as patched:
        patched.setattr(train_module, "RunBackup", KilledAfterFirstBackup)
        with pytest.raises(PlantedKill):
            runs.train(config, str(tmp_path / "resumed"))
    resumed, _ = runs.train(config, str(tmp_path / "resumed"))

    for whole, again in zip(uninterrupted.network.get_weights(),
                            resumed.network.get_weights(), strict=True):
        np.testing.assert_allclose(again, whole, rtol=0, atol=1e-6)


def test_a_diverged_run_stops_with_one_line_and_keeps_no_diverged_epoch(
        tmp_path):
    from advmask_tf.training.divergence import TrainingDiverged

    config = tiny({"train.learning_rate": 1e12, "train.verbose": 0,
                   "data.train_limit": 500, "data.validation_size": 100})
    with pytest.raises(TrainingDiverged, match=r"the training loss is nan "
                       r"after epoch 1: training diverged; lower the "
                       r"learning rate \(train.learning_rate=1e\+12\)"):
        runs.train(config, str(tmp_path / "run"))
    backup = tmp_path / "run" / "backup"
    assert not backup.exists() or not os.listdir(backup)
