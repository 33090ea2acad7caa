"""A search in TensorBoard: each trial in the HParams dashboard.

Each trial is a session under <search>/tensorboard/trial_<id> with its
hyper-parameters and its validation clean accuracy, worst-case robust
accuracy and score as metrics, so TensorBoard's HParams tab shows the
search as a table and parallel coordinates; the Pareto plot goes to the
Images tab (see `search`).
"""

from __future__ import annotations

import os

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from advmask_tf.tuning.pareto import trial_number

METRICS = {"val_clean": "validation clean accuracy",
           "val_robust": "validation worst-case robust accuracy",
           "score": "search objective"}


def trial_log_dir(search_dir: str, trial_id: str) -> str:
    """Where a trial's session is written."""
    return os.path.join(search_dir, "tensorboard", f"trial_{trial_id}")


def log_trial(search_dir: str, trial_id: str, hyperparameters: dict,
              metrics: dict) -> None:
    """Writes one finished trial as an HParams session.

    >>> import tempfile
    >>> log_trial(tempfile.mkdtemp(), "0", {"method": "trades", "beta": 6.0},
    ...           {"val_clean": 0.8, "val_robust": 0.6, "score": 0.7})
    """
    writer = tf.summary.create_file_writer(trial_log_dir(search_dir,
                                                         trial_id))
    with writer.as_default():
        hparams_api.hparams(
            {name: _plain(value) for name, value in hyperparameters.items()},
            trial_id=f"trial {trial_number(trial_id)} (trial_{trial_id})")
        for name in METRICS:
            tf.summary.scalar(name, float(metrics[name]), step=0,
                              description=METRICS[name])
    writer.flush()
    writer.close()


def _plain(value):
    """HParams take bool, int, float or str."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)
