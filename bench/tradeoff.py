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
import csv
import json
import os
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {
    "standard": "configs/fashion_mnist_standard.py",
    "madry": "configs/fashion_mnist_madry.py",
    "trades": "configs/fashion_mnist_trades.py",
    "iaat": "configs/fashion_mnist_iaat.py",
    "gairat": "configs/fashion_mnist_gairat.py",
    "gairat_iaat": "configs/fashion_mnist_gairat_iaat.py",
    "gairat_trades": "configs/fashion_mnist_gairat_trades.py",
    "robmask": "configs/fashion_mnist_robmask.py",
    "split_bn": "configs/fashion_mnist_split_bn.py",
}
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
# Every method gets the same budget, whatever its config file's defaults.
SHARED = ["--config.data.train_limit=0", "--config.data.validation_size=5000",
          "--config.attack.eps=0.1", "--config.train.verbose=2"]


def selected_epoch(workdir):
    """1-based epoch of the best monitored validation value (first best)."""
    with open(os.path.join(workdir, "config.json")) as f:
        monitor = json.load(f)["train"].get("monitor", "val_robust_accuracy")
    with open(os.path.join(workdir, "history.csv")) as f:
        values = [float(row[monitor]) for row in csv.DictReader(f)]
    return values.index(max(values)) + 1


def last_epoch_report(workdir, epochs):
    """Evaluates the run's last network once (re-used while up to date)."""
    path = os.path.join(workdir, "metrics_last.json")
    last = os.path.join(workdir, "last.keras")
    if not (os.path.exists(path)
            and os.path.getmtime(path) >= os.path.getmtime(last)):
        command = [sys.executable, os.path.join(REPO, "bin", "advmask-eval"),
                   f"--workdir={workdir}", "--checkpoint=last"]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)
    with open(path) as f:
        report = json.load(f)
    report["epoch"] = epochs
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(REPO, "runs",
                                                          "tradeoff"))
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
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {sorted(CONFIGS)}")

    reports = {}
    for method in methods:
        workdir = os.path.join(args.workdir, method)
        command = [sys.executable, os.path.join(REPO, "bin", "advmask-train"),
                   f"--config={os.path.join(REPO, CONFIGS[method])}",
                   f"--workdir={workdir}",
                   f"--config.train.epochs={args.epochs}", *SHARED]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)
        with open(os.path.join(workdir, "metrics.json")) as f:
            reports[method] = json.load(f)
        reports[method]["epoch"] = selected_epoch(workdir)
        if method in args.last.split(","):
            reports[method + " (last epoch)"] = last_epoch_report(
                workdir, args.epochs)

    sys.path.insert(0, REPO)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from results_doc import machine_line, publish, section_options

    def cell(report, name):
        entry = report[name]
        return f"{100 * entry['accuracy']:.2f}"

    lines = ["| method | epoch | clean | PGD-20 | CW-inf | worst of the two |",
             "| --- | --- | --- | --- | --- | --- |"]
    for method, report in reports.items():
        lines.append(f"| {method} | {report['epoch']} | "
                     f"{cell(report, 'clean')} | "
                     f"{cell(report, 'pgd20')} | {cell(report, 'cw_inf')} | "
                     f"{cell(report, 'worst_case')} |")
    total = next(iter(reports.values()))["clean"]["total"]
    text = "\n".join([
        f"## {args.title}",
        "",
        f"Command: `.venv/bin/python bench/tradeoff.py --epochs {args.epochs} "
        f"--methods {args.methods} --last {shlex.quote(args.last)}"
        f"{section_options(args, parser)} --write`",
        "",
        f"Machine: {machine_line()}.",
        "",
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
        + (CONDITIONED_NOTE if set(methods) & {"robmask", "split_bn"}
           else "")
        + "Evaluation: PGD-20 on the CE and "
        "CW-inf (PGD-20 on the margin), step eps/4, uniform random start; a "
        "point counts as robust only if it is right clean and at every "
        "iterate. PGD-20 and CW-inf are upper bounds on robust accuracy; "
        "the AutoAttack-style worst case of the same networks (first 200 "
        "test images) is in the section \"AutoAttack-style worst case of "
        "the trade-off runs\""
        + (CONDITIONED_AUTOATTACK if set(methods) & {"robmask", "split_bn"}
           else "") + " below.",
        "",
        *lines,
    ])
    publish(args.section, text, args.write)


if __name__ == "__main__":
    main()
