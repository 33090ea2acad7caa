"""RobMask on Fashion-MNIST: one model's trade-off, and the rescaling analysis.

Needs the trade-off runs of `bench/tradeoff.py` (standard, madry, trades,
robmask, split_bn in --workdir). Writes two sections of docs/RESULTS.md:

1. "robmask-curve": the RobMask network told each strength c (and, with its
   maskings interpolated, each mix t), evaluated at eps 0.1 with PGD-20 and
   CW-inf on the first --limit test images (0, the default: all of them;
   `advmask-eval --condition_sweep --mix_sweep`), and the split-BN network
   told 0 and 0.1, next to standard, Madry and TRADES on the same images;
   the plot goes to docs/robmask_curve.png.
2. "rescaling": the paper's analysis. Start from the trained standard and
   Madry networks; re-learn only batch norm's rescaling (gamma, beta) under
   the other objective for --relearn_epochs epochs (`advmask-train
   --config.train.init_from=... --config.train.trainable=rescaling`); then
   evaluate (1 - t) * own rescaling + t * re-learned rescaling for each t.

Every step keeps its result in its work directory (runs/rescaling/...), so an
interrupted benchmark resumes.

    .venv/bin/python bench/robmask.py [--workdir=runs/tradeoff] \
        [--limit 0] [--relearn_epochs 1] [--relearn_limit 2000] [--write]
"""

from __future__ import annotations

import argparse
import os

import keras
from benchlib import (
    REPO,
    RUNS,
    tool,
    train_preset,
)
from records import section, store  # noqa: E402

from advmask_tf import runs
from advmask_tf.evaluation.reports import plot_conditioning
from advmask_tf.evaluation.robust import evaluate
from advmask_tf.io_utils import atomic_write_json
from advmask_tf.plotting import context_line
from advmask_tf.training.rescaling import mixed_rescaling

STRENGTHS = "0,0.025,0.05,0.075,0.1"
MIXES = "0,0.25,0.5,0.75,1"
TS = (0.0, 0.25, 0.5, 0.75, 1.0)
TEST_SET_SIZE = 10000  # Fashion-MNIST's; --limit 0 evaluates all of it
# base run -> (config of the re-learning objective, what it re-learns)
# (base run, config of the re-learning objective, what it re-learns,
#  learning rate): the second standard row checks that a failure to gain
#  robustness is not a too-small step.
RELEARN = (("madry", "standard", "clean", 1e-3),
           ("standard", "madry", "adversarial", 1e-3),
           ("standard", "madry", "adversarial", 1e-2))


def conditioning_curve(workdir, limit, strengths, mixes=""):
    """`advmask-eval --condition_sweep` of a conditioned run (cached in its
    eval/ while newer than its model and over the same points)."""
    wd = runs.WorkDir(workdir)
    path = wd.conditioning("best") + ".json"
    if runs.is_fresh(path, wd.best_model):
        curve = runs.read_json(path)
        if curve.get("limit") == (limit or TEST_SET_SIZE):
            return curve
    tool("advmask-eval", f"--workdir={workdir}",
         f"--condition_sweep={strengths}",
         *([f"--mix_sweep={mixes}"] if mixes else []), f"--limit={limit}",
         "--attacks=pgd,cw_inf")
    return runs.read_json(path)


def reference_report(workdir, limit):
    """PGD-20 / CW-inf of a work directory's best network on the first
    `limit` test points (0: its full-test-set metrics.json; else an
    evaluation tagged so it does not overwrite metrics.json)."""
    wd = runs.WorkDir(workdir)
    if limit == 0:
        return runs.read_json(wd.metrics)
    tag = f"subset-{limit}"
    if not runs.is_fresh(wd.eval_report(tag), wd.best_model):
        runs.evaluate_workdir(workdir, limit=limit, verbose=2, checks=False,
                              tag=tag)
    return runs.read_json(wd.eval_report(tag))


def relearned_run(base_workdir, root, base, config, lr, epochs):
    """Trains (or resumes) the re-learning of `base`'s rescaling."""
    workdir = os.path.join(root, f"{base}_relearned"
                           + ("" if lr == 1e-3 else f"_lr{lr:g}"))
    start = runs.WorkDir(base_workdir).best_model
    return train_preset(config, workdir, f"--config.train.init_from={start}",
                        "--config.train.trainable=rescaling",
                        f"--config.train.learning_rate={lr:g}",
                        f"--config.train.epochs={epochs}", evaluate=False)


def mix_curve(base_workdir, relearned_workdir, limit, cache_path):
    """Clean / PGD-20 / CW-inf of (1 - t) * base + t * re-learned rescaling."""
    relearned_path = runs.WorkDir(relearned_workdir).last_model
    if runs.is_fresh(cache_path, relearned_path):
        return runs.read_json(cache_path)
    _, config, base, data = runs.load_for_evaluation(base_workdir, "best",
                                                     limit)
    # The re-learned network is the last epoch's: its validation metric
    # measures the objective it was re-learned under, not the base's.
    relearned = keras.models.load_model(relearned_path)
    attacks = runs.evaluation_attacks(config, "pgd,cw_inf")
    curve = []
    for t in TS:
        report = evaluate(mixed_rescaling(base, relearned, t), data.test,
                          attacks)
        curve.append({"t": t, **{k: report[k]["accuracy"] for k in (
            "clean", "pgd20", "cw_inf", "worst_case")}})
        print(f"t={t}: {curve[-1]}", flush=True)
    atomic_write_json(cache_path, curve)
    return curve


ACCURACIES = [["clean", "clean", "percent"], ["pgd20", "PGD-20", "percent"],
              ["cw_inf", "CW-inf", "percent"],
              ["worst_case", "worst of the two", "percent"]]


def figures(report: dict) -> dict:
    """Clean, PGD-20, CW-inf and worst-case accuracy of a report."""
    return {key: report[key]["accuracy"] for key, _, _ in ACCURACIES}


def command(args) -> str:
    return (f".venv/bin/python bench/robmask.py --limit {args.limit} "
            f"--relearn_epochs {args.relearn_epochs} --relearn_limit "
            f"{args.relearn_limit} --write")


def images(limit):
    return ("the full test set (10000 images)" if limit == 0
            else f"the first {limit} test images")


def curve_section(args, robmask, split, references) -> dict:
    rows = [{"network": "RobMask", "told": f"{r['condition']:g}",
             "mix": "1", **figures(r)} for r in robmask["condition"]]
    rows += [{"network": "RobMask", "told": "0.1", "mix": f"{r['mix']:g}",
              **figures(r)} for r in robmask["mix"]]
    rows += [{"network": "split BN", "told": f"{r['condition']:g}",
              **figures(r)} for r in split["condition"]]
    rows += [{"network": name, **figures(r)}
             for name, r in references.items()]
    columns = [["network", "network", "text"], ["told", "told eps c", "text"],
               ["mix", "mask mix t", "text"], *ACCURACIES]
    before = (
        f"Accuracy (%) on {images(args.limit)} at eps 0.1 (PGD-20 and "
        "CW-inf, step eps/4, uniform start; robust only if right clean and "
        "at every iterate), of each run's best network (validation PGD-10 "
        "accuracy, told 0.1). RobMask: the `robmask` run of "
        "`bench/tradeoff.py` (configs/fashion_mnist_robmask.py: small CNN, "
        "5 epochs, the trade-off table's data and optimiser; strengths "
        "drawn per sample from {0, 0.025, 0.05, 0.075, 0.1}, PGD-10 at the "
        "drawn strength with step 0.25 x strength, loss CE clean (told 0) "
        "+ CE adversarial (told the strength); a masking layer in place of "
        "every batch norm, orthogonal encoding of dimension 16, statistics "
        "shared over strengths). Split BN: the `split_bn` run "
        "(configs/fashion_mnist_split_bn.py: the same training with eps "
        "fixed at 0.1, one batch norm route for clean and one for "
        "adversarial inputs, each with its own statistics and rescaling). "
        "\"told eps c\": the network is told c for clean and attacked images "
        "alike, so each row is one classifier. \"mask mix t\": told 0.1, "
        "with every masking's rescaling (1 - t) rescaling(0) + t "
        "rescaling(0.1). The standard, Madry and TRADES rows are the "
        "trade-off table's networks on the same images. Plot: "
        "docs/robmask_curve.png.")
    return section("robmask-curve", "RobMask and split batch norm: one "
                   "model's trade-off on Fashion-MNIST", command(args),
                   columns, rows, before)


def rescaling_section(args, curves) -> dict:
    rows = [{"start_from": base, "relearned": what, "learning_rate": f"{lr:g}",
             "t": f"{point['t']:g}", **figures(point)}
            for (base, _, what, lr), curve in zip(RELEARN, curves)
            for point in curve]
    columns = [["start_from", "start from", "text"],
               ["relearned", "re-learned rescaling", "text"],
               ["learning_rate", "learning rate", "text"], ["t", "t", "text"],
               *ACCURACIES]
    before = (
        "Start from the trained standard and Madry networks of the "
        "trade-off table. Re-learn only batch norm's rescaling (gamma and "
        "beta of every batch norm layer), convolutions and "
        "normalisation statistics frozen, for "
        f"{args.relearn_epochs} epoch(s) of the other objective (Madry "
        "PGD-10 AT for the standard network, clean training for the Madry "
        "network; same data, Adam with cosine decay from the learning rate "
        "in the table). Then evaluate "
        "the network with (1 - t) x its own rescaling + t x the re-learned "
        f"one, on {images(args.relearn_limit)} at eps 0.1.")
    return section("rescaling", "Batch norm's rescaling as the trade-off "
                   "(the RobMask paper's analysis)", command(args), columns,
                   rows, before)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(RUNS, "tradeoff"))
    parser.add_argument("--rescaling_workdir",
                        default=os.path.join(RUNS, "rescaling"))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--relearn_epochs", type=int, default=1)
    parser.add_argument("--relearn_limit", type=int, default=2000,
                        help="test images for the rescaling mixes (0: all)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    needed = ["standard", "madry", "trades", "robmask", "split_bn"]
    missing = [m for m in needed if not os.path.exists(
        runs.WorkDir(os.path.join(args.workdir, m)).best_model)]
    if missing:
        parser.error(f"{missing} not trained in {args.workdir}: run "
                     "bench/tradeoff.py --methods "
                     f"{','.join(needed)} first.")
    references = {name: reference_report(os.path.join(args.workdir, run_),
                                          args.limit)
                  for name, run_ in (("standard", "standard"),
                                     ("Madry", "madry"),
                                     ("TRADES", "trades"))}
    robmask = conditioning_curve(os.path.join(args.workdir, "robmask"),
                                 args.limit, STRENGTHS, MIXES)
    split = conditioning_curve(os.path.join(args.workdir, "split_bn"),
                               args.limit, "0,0.1")
    plot_curve(robmask, split, references,
               os.path.join(REPO, "docs", "robmask_curve.png"))
    curves = []
    for base, config, _, lr in RELEARN:
        relearned = relearned_run(os.path.join(args.workdir, base),
                                  args.rescaling_workdir, base, config, lr,
                                  args.relearn_epochs)
        curves.append(mix_curve(
            os.path.join(args.workdir, base), relearned, args.relearn_limit,
            os.path.join(relearned, f"mix-{args.relearn_limit}.json")))

    store(curve_section(args, robmask, split, references),
            args.write)
    store(rescaling_section(args, curves), args.write)


def plot_curve(robmask, split, references, path):
    plot_conditioning(
        {"RobMask told eps c": [(f"c={r['condition']:g}", r)
                                for r in robmask["condition"]],
         "RobMask mask mix t (told 0.1)": [(f"t={r['mix']:g}", r)
                                           for r in robmask["mix"]],
         "split BN told eps c": [(f"c={r['condition']:g}", r)
                                 for r in split["condition"]]},
        references, path, "RobMask and split BN: one model's trade-off, "
        "dialled at inference\n" + context_line(
            "Fashion-MNIST", robmask["eps"], robmask["limit"],
            robmask["checkpoint"]))


if __name__ == "__main__":
    main()
