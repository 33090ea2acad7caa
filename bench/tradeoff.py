"""The clean/robust trade-off of each method on Fashion-MNIST, same budget.

Trains every method through `advmask-train` (one work directory each, so an
interrupted benchmark resumes where it stopped) with the same data, model,
epochs and eps, evaluates each on the full test set under the project's
protocol (clean, PGD-20, CW-inf; worst case over those) and writes the table
into docs/RESULTS.md.

    .venv/bin/python bench/tradeoff.py --workdir=runs/tradeoff [--epochs 5] \
        [--methods standard,madry,trades,iaat,gairat,gairat_iaat] \
        [--last gairat,gairat_iaat] [--write]

--last also evaluates those methods' last-epoch networks: a method whose
weighting starts after a burn-in can have its best validation epoch before
the weighting ever ran.
"""

from __future__ import annotations

import argparse
import os
import shlex

from benchlib import (
    RUNS,
    methods,
    report,
    section_options,
    selected_epoch,
    train_preset,
)
from records import section, store

CONDITIONED_AUTOATTACK = (
    " (RobMask and split BN: \"AutoAttack-style worst case of RobMask and "
    "split BN\")")
CONDITIONED_NOTE = (
    "RobMask: eps drawn per sample from {0, 0.025, 0.05, 0.075, 0.1}, "
    "clean CE (told 0) + adversarial CE (told the drawn eps), masking layers "
    "with an orthogonal encoding of dimension 16. Split BN: eps 0.1, clean "
    "CE through the clean route + adversarial CE through the adversarial "
    "route. Both take the perturbation strength as an input and are told "
    "0.1 here for clean and attacked images alike; bench/robmask.py "
    "evaluates them told 0 and along the curve between. ")
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(RUNS, "tradeoff"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--methods", default="standard,madry,trades,iaat,gairat,gairat_iaat")
    parser.add_argument("--last", default="gairat,gairat_iaat")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--section", default="tradeoff",
                        help="the docs/RESULTS.md section to write")
    parser.add_argument(
        "--title", default="Trade-off on Fashion-MNIST (eps 0.1, small CNN)")
    args = parser.parse_args()
    chosen = methods(args.methods, parser)

    reports = {}
    for method in chosen:
        workdir = train_preset(method, os.path.join(args.workdir, method),
                               f"--config.train.epochs={args.epochs}")
        reports[method] = {**report(workdir), "epoch": selected_epoch(workdir)}
        if method in args.last.split(","):
            reports[method + " (last epoch)"] = {
                **report(workdir, "last"), "epoch": args.epochs}

    columns = [["method", "method", "text"], ["epoch", "epoch", "text"],
               ["clean", "clean", "percent"], ["pgd20", "PGD-20", "percent"],
               ["cw_inf", "CW-inf", "percent"],
               ["worst_case", "worst of the two", "percent"]]
    rows = [{"method": method, "epoch": row["epoch"],
             "test_points": row["clean"]["total"],
             **{name: row[name]["accuracy"]
                for name in ("clean", "pgd20", "cw_inf", "worst_case")}}
            for method, row in reports.items()]
    total = rows[0]["test_points"]
    command = (f".venv/bin/python bench/tradeoff.py --epochs {args.epochs} "
               f"--methods {args.methods} --last {shlex.quote(args.last)}"
               f"{section_options(args, parser)} --write")
    before = "".join([
        f"Accuracy (%) on the full test set ({total} images) of the network "
        "with the best validation PGD-10 accuracy (its epoch in the second "
        "column); rows marked \"last epoch\" evaluate the network after the "
        "final epoch instead. Each method: small CNN "
        f"(width 16), {args.epochs} epochs over 55,000 training images (5,000 "
        "held out for validation), Adam 1e-3 with cosine decay, batch 128; "
        "training attack PGD-10, step 0.025, uniform start (TRADES: KL loss, "
        "start x + 0.001 N(0, 1), beta 6). IAAT: warmup radius 0.1 for 2 "
        "epochs, then the paper's rule (gamma 0.024, no cap), per-sample "
        "step max(eps_i / 5, 0.025). GAIRAT: tanh weights, lambda -1, 2 "
        "burn-in epochs of plain AT. "
        + (CONDITIONED_NOTE if set(chosen) & {"robmask", "split_bn"}
           else "")
        + "Evaluation: PGD-20 on the CE and "
        "CW-inf (PGD-20 on the margin), step eps/4, uniform random start; a "
        "point counts as robust only if it is right clean and at every "
        "iterate. PGD-20 and CW-inf are upper bounds on robust accuracy; "
        "the AutoAttack-style worst case of the same networks (first 200 "
        "test images) is in the section \"AutoAttack-style worst case of "
        "the trade-off runs\""
        + (CONDITIONED_AUTOATTACK if set(chosen) & {"robmask", "split_bn"}
           else "") + " below."])
    store(section(args.section, args.title, command, columns, rows, before),
          args.write)


if __name__ == "__main__":
    main()
