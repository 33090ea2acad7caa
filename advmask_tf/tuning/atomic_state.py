"""KerasTuner's state files written atomically.

KerasTuner writes `tuner0.json`, `oracle.json` and each `trial.json` in
place (`Stateful.save`); a kill during a write would leave a file the next
run cannot reload. The tuner and oracle classes here write them aside and
rename them (`advmask_tf.io_utils.atomic_write_text`), like every other
file of the toolkit.
"""

from __future__ import annotations

import json

import keras_tuner

from advmask_tf.io_utils import atomic_write_text


def _atomic_json(path: str, state) -> str:
    text = json.dumps(state)
    atomic_write_text(path, text)
    return text


class AtomicOracleState:
    """Mixin for a KerasTuner oracle: oracle.json and trial.json are
    written atomically."""

    def save(self):
        _atomic_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        _atomic_json(f"{self._get_trial_dir(trial.trial_id)}/trial.json",
                     trial.get_state())


class AtomicTunerState:
    """Mixin for a KerasTuner tuner: its state file is written atomically
    (and its oracle's, through the oracle)."""

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        _atomic_json(self._get_tuner_fname(), self.get_state())


ORACLES = {
    "random": type("RandomSearchOracle", (
        AtomicOracleState, keras_tuner.oracles.RandomSearchOracle), {}),
    "bayesian": type("BayesianOptimizationOracle", (
        AtomicOracleState, keras_tuner.oracles.BayesianOptimizationOracle),
        {}),
}
