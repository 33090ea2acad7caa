"""advmask-train: train (or resume) one experiment, then evaluate it.

    advmask-train --config=configs/fashion_mnist_madry.py --workdir=runs/madry \
        [--config.attack.eps=0.2 ...]
"""

from __future__ import annotations

from absl import app, flags
from ml_collections import config_flags

from advmask_tf.cli.common import DEFAULT_CONFIG, print_report

_CONFIG = config_flags.DEFINE_config_file(
    "config", DEFAULT_CONFIG, "An ml_collections config file under configs/.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Work directory; re-running with it resumes.",
    required=True)
_SKIP_EVAL = flags.DEFINE_bool(
    "skip_eval", False, "Train only; do not evaluate on the test set.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import json

    from advmask_tf import experiment

    title = f"Test-set evaluation of {_WORKDIR.value}/model.keras"
    if experiment.is_finished(_CONFIG.value, _WORKDIR.value):
        # Check the config anyway: the same workdir with another config fails.
        experiment.save_or_check_config(
            _CONFIG.value, experiment.WorkDir(_WORKDIR.value))
        with open(experiment.WorkDir(_WORKDIR.value).metrics) as f:
            print_report(title + " (finished earlier)", json.load(f))
        return
    from advmask_tf.distribute import worker_role

    experiment.train(_CONFIG.value, _WORKDIR.value)
    if not worker_role()[0]:
        return  # a multi-worker run: the chief evaluates and reports
    if not _SKIP_EVAL.value:
        print_report(title, experiment.evaluate_workdir(_WORKDIR.value))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
