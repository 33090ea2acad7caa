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
    from advmask_tf.distribute import is_chief_process

    config, workdir = _CONFIG.value, _WORKDIR.value
    title = f"Test-set evaluation of {workdir}/model.keras"
    multi_worker = config.distribute == "multi_worker"
    # Every worker of a multi-worker run must take part in training, also
    # when resuming a finished run (the others would wait for it forever).
    if not multi_worker and experiment.is_finished(config, workdir):
        # Check the config anyway: the same workdir with another config fails.
        experiment.save_or_check_config(config, experiment.WorkDir(workdir))
        with open(experiment.WorkDir(workdir).metrics) as f:
            print_report(title + " (finished earlier)", json.load(f))
        return
    experiment.train(config, workdir)
    if not is_chief_process(config.distribute):
        return  # the chief evaluates and reports
    if not _SKIP_EVAL.value:
        print_report(title, experiment.evaluate_workdir(workdir))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
