r"""advmask-train: train (or resume) one experiment, then evaluate it.

    advmask-train --config=configs/fashion_mnist_madry.py --workdir=runs/madry \
        [--config.attack.eps=0.2 ...]
"""

from __future__ import annotations

from absl import flags
from ml_collections import config_flags

from advmask_tf.cli.common import (
    DEFAULT_CONFIG,
    check_no_arguments,
    print_config_and_exit,
    print_report,
    run_tool,
)
from advmask_tf.runs import train_or_report

_CONFIG = config_flags.DEFINE_config_file(
    "config", DEFAULT_CONFIG, "An ml_collections config file under configs/.")
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Work directory; re-running with it resumes.",
    required=True)
_PRINT_CONFIG = flags.DEFINE_bool(
    "print_config", False, "Print the resolved config as JSON and exit.")
_SKIP_EVAL = flags.DEFINE_bool(
    "skip_eval", False, "Train only; do not evaluate on the test set.")


def main(argv):
    check_no_arguments(argv)
    if _PRINT_CONFIG.value:
        print_config_and_exit(_CONFIG.value)
    report, finished_earlier = train_or_report(
        _CONFIG.value, _WORKDIR.value, evaluate=not _SKIP_EVAL.value)
    if report is not None:
        print_report(f"Test-set evaluation of {_WORKDIR.value}/model.keras"
                     + (" (finished earlier)" if finished_earlier else ""),
                     report)


def run():
    run_tool(main, "advmask-train")


if __name__ == "__main__":
    run()
