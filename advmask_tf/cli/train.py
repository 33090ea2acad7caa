r"""advmask-train: train (or resume) one experiment, then evaluate it.

    advmask-train --config=configs/fashion_mnist_madry.py --workdir=runs/madry \
        [--config.attack.eps=0.2 ...]
    advmask-train --config=configs/cifar10_trades.py --dry_run

--dry_run builds the whole run (data of the dataset's shape, the network,
the strategy, the optimizer, the callbacks) and trains 2 steps on
synthetic data in a temporary directory, then exits; it needs no
--workdir and writes nothing.
"""

from __future__ import annotations

from absl import flags
from ml_collections import config_flags

from advmask_tf.cli.common import (
    DEFAULT_CONFIG,
    CommandLineError,
    check_no_arguments,
    print_config_and_exit,
    print_report,
    run_tool,
)
from advmask_tf.runs import train_or_report
from advmask_tf.runs.dry_run import dry_run, summary

_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Work directory; re-running with it resumes.")
_PRINT_CONFIG = flags.DEFINE_bool(
    "print_config", False, "Print the resolved config as JSON and exit.")
_SKIP_EVAL = flags.DEFINE_bool(
    "skip_eval", False, "Train only; do not evaluate on the test set.")
_DRY_RUN = flags.DEFINE_bool(
    "dry_run", False, "Build the whole run, train 2 steps on synthetic data "
    "of the dataset's shape, print what was built and exit.")


def define_config_flag():
    """--config: defined when the tool runs, because the flag reads its
    overrides as it is defined (a typo must reach `run_tool`)."""
    config_flags.DEFINE_config_file(
        "config", DEFAULT_CONFIG,
        "An ml_collections config file under configs/.")


def main(argv):
    check_no_arguments(argv)
    if _PRINT_CONFIG.value:
        print_config_and_exit(flags.FLAGS.config)
    if _DRY_RUN.value:
        print(summary(dry_run(flags.FLAGS.config)))
        return
    if not _WORKDIR.value:
        raise CommandLineError("--workdir is required (where the run lives; "
                               "re-running with it resumes); received none")
    report, finished_earlier = train_or_report(
        flags.FLAGS.config, _WORKDIR.value, evaluate=not _SKIP_EVAL.value)
    if report is not None:
        print_report(f"Test-set evaluation of {_WORKDIR.value}/model.keras"
                     + (" (finished earlier)" if finished_earlier else ""),
                     report)


def run():
    run_tool(main, "advmask-train", define_config_flag)


if __name__ == "__main__":
    run()
