"""A small KerasTuner search on Fashion-MNIST, into docs/RESULTS.md.

Runs `advmask-tune` with configs/fashion_mnist_tune.py (Madry or TRADES,
learning rate, TRADES' beta; objective: the mean of validation clean and
robust accuracy), made small enough for 2 CPU cores: --train_limit training
images, --epochs epochs per trial, --trials trials. Writes the trial table
with its Pareto front as the section "search" and the plot to
docs/figures/search_pareto.png. The search resumes when re-run.

    .venv/bin/python bench/search.py [--trials 4] [--epochs 2] \
        [--train_limit 12000] [--write]
"""

from __future__ import annotations

import argparse
import os

from benchlib import (
    RUNS,
    config_path,
    publish_figure,
    tool,
)
from records import section, store  # noqa: E402

from advmask_tf import runs
from advmask_tf.configs_lib import preset
from advmask_tf.tuning import trial_number

TUNE_CONFIG = config_path("fashion_mnist_tune.py")


def searched(tune) -> str:
    """'method (madry or trades), learning_rate in [0.0003, 0.003], ...'"""
    parts = []
    if tune.methods:
        parts.append(f"method ({' or '.join(tune.methods)})")
    for name in ("learning_rate", "beta", "gamma", "lam", "adv_weight"):
        if tune[name]:
            low, high = tune[name]
            parts.append(f"{name} in [{low:g}, {high:g}]")
    return ", ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train_limit", type=int, default=12000)
    parser.add_argument("--workdir", default=os.path.join(RUNS, "search"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    validation = args.train_limit // 6
    tool("advmask-tune", f"--config={TUNE_CONFIG}",
         f"--workdir={args.workdir}",
         f"--config.tune.max_trials={args.trials}",
         f"--config.train.epochs={args.epochs}",
         f"--config.data.train_limit={args.train_limit}",
         f"--config.data.validation_size={validation}",
         f"--config.tune.validation_limit={validation}")

    tune = preset(TUNE_CONFIG, os.path.basename(TUNE_CONFIG)).tune
    weight = float(tune.robust_weight)
    objective = (f"{1 - weight:g} x clean + {weight:g} x robust"
                 if tune.objective == "weighted" else tune.objective)

    with open(os.path.join(args.workdir, "trials.md")) as f:
        table = f.read().split("\n", 2)[2]
    result = runs.read_json(os.path.join(args.workdir, "trials.json"))
    link = publish_figure(os.path.join(args.workdir, "pareto.png"),
                          "search_pareto.png", args.write)
    best = result["best"]
    chosen = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in sorted(best["hyperparameters"].items()))
    before = (
        f"configs/fashion_mnist_tune.py made small: {args.trials} random "
        f"trials, each a {args.epochs}-epoch run of the small CNN on "
        f"{args.train_limit - validation} training images, judged on "
        f"{validation} held-out validation images with PGD-20 and CW-inf at "
        "eps 0.1 (robust = worst of the two). Searched: "
        f"{searched(tune)} (learning_rate and beta on a log scale); "
        f"objective: {objective}. Best trial: {trial_number(best['trial'])} "
        f"(search/trial_{best['trial']}: {chosen}). "
        "The Pareto front of clean and robust accuracy is marked; plot: "
        f"[search_pareto.png]({link}). Validation figures, "
        "not test-set ones: they select, they do not report.")
    # The trials are the records; advmask-tune's trials.md is their table.
    store(section("search", "A KerasTuner search on Fashion-MNIST "
                  "(advmask-tune)",
                  f".venv/bin/python bench/search.py --trials {args.trials} "
                  f"--epochs {args.epochs} --train_limit {args.train_limit} "
                  "--write", [], result["trials"], before, table.strip()),
          args.write)


if __name__ == "__main__":
    main()
