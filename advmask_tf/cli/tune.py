r"""advmask-tune: search the robustness/accuracy trade-off with KerasTuner.

    advmask-tune --config=configs/fashion_mnist_tune.py --workdir=runs/tune \
        [--config.tune.max_trials=12 --config.tune.objective=robust ...]

`config.tune` says what varies (methods, radius policies, weightings, eps,
learning rate, beta, gamma, lambda, adv_weight) and what is maximised on the
validation split (robust, clean, weighted, clean_with_robust_floor). Each
trial is an advmask-train run under <workdir>/search/trial_<id>/run; the
search keeps its state in <workdir>, so re-running the command resumes it
(the interrupted trial first). Reports: <workdir>/trials.json, trials.md
(every trial, the Pareto front of clean and robust accuracy marked) and
pareto.png.

Distributed (KerasTuner's mechanism): run the same command once with
KERASTUNER_TUNER_ID=chief and on every worker with its own
KERASTUNER_TUNER_ID, all with KERASTUNER_ORACLE_IP and
KERASTUNER_ORACLE_PORT naming the chief, on a work directory they share.
"""

from __future__ import annotations

import sys

from absl import flags
from ml_collections import config_flags

from advmask_tf.cli.common import (
    check_no_arguments,
    print_config_and_exit,
    run_tool,
)
from advmask_tf.tuning import search, trial_number

_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Where the search lives; re-running resumes it.",
    required=True)
_PRINT_CONFIG = flags.DEFINE_bool(
    "print_config", False, "Print the resolved config as JSON and exit.")


def define_config_flag():
    """--config: defined when the tool runs, because the flag reads its
    overrides as it is defined (a typo must reach `run_tool`)."""
    config_flags.DEFINE_config_file(
        "config", None, "An ml_collections config file (e.g. "
        "configs/fashion_mnist_tune.py).")
    flags.mark_flag_as_required("config")


def main(argv):
    check_no_arguments(argv)
    if _PRINT_CONFIG.value:
        print_config_and_exit(flags.FLAGS.config)
    result = search(flags.FLAGS.config, _WORKDIR.value)
    if result.get("role") == "worker":
        print(f"Worker {result['tuner_id']} ran {result['trials_run']} "
              f"trial(s); the chief writes {_WORKDIR.value}/trials.md.")
        return
    print(open(f"{_WORKDIR.value}/trials.md").read())
    if result["best"] is not None:
        best = result["best"]
        front = ", ".join(str(trial_number(t)) for t in result["front"])
        print(f"Best trial {best['number']} (search/trial_"
              f"{best['trial']}): {best['hyperparameters']} (score "
              f"{best['score']:.4f}); Pareto front: trials {front}")
    if result["failed"]:
        # A search with failed trials did not do what was asked: say so
        # and exit non-zero (a failed trial is not retried on a re-run).
        first = result["failed"][0]
        print(f"advmask-tune: {len(result['failed'])} trial(s) failed "
              f"(see {_WORKDIR.value}/trials.md); trial {first['number']}: "
              f"{first['error']}", file=sys.stderr, flush=True)
        sys.exit(1)


def run():
    run_tool(main, "advmask-tune", define_config_flag)


if __name__ == "__main__":
    run()
