"""Standard AutoAttack of trained runs, stage by stage, with its cost.

Evaluates work directories with `advmask-eval --attacks=pgd,cw_inf,
autoattack --limit=N --checks`: AutoAttack's standard version (APGD-CE ->
APGD-T over 9 targets -> FAB-T over 9 targets -> Square with 5,000
queries, each stage attacking only the points the earlier ones left
robust), PGD-20 and CW-inf, and the gradient-masking sanity checks on the
same points. The table gives the epoch whose network each row attacks,
the accuracy after each stage, what each stage broke, and each stage's
seconds per 1,000 evaluated points. Each evaluation is kept in the run's
eval/ directory, so an interrupted bench resumes with the next run.

    .venv/bin/python bench/autoattack_rows.py [--workdir=runs/frontier] \
        [--limit 1000] [--methods madry,keep_accuracy,...] [--last ...] \
        [--extra "main job=runs/fashion_mnist_main"] \
        [--train [--pin gairat_trades=4,...]] [--write]

--extra adds work directories outside --workdir (NAME=PATH, comma-separated),
such as the README's main job. --train first trains each --methods run
that has no network yet, as bench/frontier.py trains its runs (the
presets with the benches' shared data and eps), for the preset's own
epochs or the ones --pin sets; the table then gives each run's schedule
and measured training time.
"""

from __future__ import annotations

import argparse
import os
import shlex

from benchlib import (
    REPO,
    RUNS,
    eval_report,
    methods,
    pinned_epochs,
    section_options,
)
from budget import VALIDATION, schedule_label, train_timed
from records import section, store

from advmask_tf.runs import WorkDir, load_config
from advmask_tf.runs.workdir import read_json, run_facts

ATTACKS = "pgd,cw_inf,autoattack"
STAGES = ("apgd_ce", "apgd_t", "fab_t", "square")


def training(workdir: str) -> str:
    """"epochs=5, 14.1 min" for a run a bench trained and timed, else "-"."""
    record = os.path.join(workdir, "bench_seconds.json")
    if not os.path.exists(record):
        return "-"
    timed = read_json(record)
    return (f"{schedule_label(timed['overrides'])}, "
            f"{timed['seconds'] / 60:.1f} min")


def evaluated_epoch(workdir: str, checkpoint: str) -> str:
    """"2 of 5": the epoch whose network a row evaluates (the validation-
    selected one for "best", the last for "last"), of the epochs trained,
    and how often the overfitting guard put earlier weights back; "-"
    where history.csv cannot say (a mixture's two classifiers)."""
    wd = WorkDir(workdir)
    facts = run_facts(load_config(wd), wd)
    epoch = (facts["epochs_trained"] if checkpoint == "last"
             else facts["selected_epoch"])
    if not epoch:
        return "-"
    restores = facts["guard_restores"]
    return (f"{epoch} of {facts['epochs_trained']}"
            + (f", guard restored {restores}x" if restores else ""))


def run_record(name: str, workdir: str, checkpoint: str,
               report: dict) -> dict:
    """One evaluated run as data: what was evaluated and its figures."""
    stages = report["autoattack"]["stages"]
    total = report["clean"]["total"]
    record = {"run": name, "workdir": os.path.relpath(workdir, REPO),
              "checkpoint": checkpoint, "training": training(workdir),
              "epoch_evaluated": evaluated_epoch(workdir, checkpoint),
              "points": total,
              "seconds_per_1000": {s: 1000 * stages[s]["seconds"] / total
                                   for s in STAGES},
              "failed_checks": [n for n, c in report["checks"].items()
                                if isinstance(c, dict) and not c["passed"]],
              "autoattack_settings": report["attacks"]["autoattack"]}
    for name_ in ("clean", "pgd20", "cw_inf", "worst_case"):
        if name_ in report:
            record[name_] = report[name_]["accuracy"]
    for stage in STAGES:
        record[f"after_{stage}"] = {"accuracy": stages[stage]["accuracy"],
                                    "broken": stages[stage]["broken"]}
    return record


# 1 decimal: the rows are on a few thousand points at most.
COLUMNS = [["run", "run", "text"], ["training", "training", "text"],
           ["epoch_evaluated", "epoch evaluated", "text"],
           ["points", "points", "text"], ["clean", "clean", "percent1"],
           ["pgd20", "PGD-20", "percent1"], ["cw_inf", "CW-inf", "percent1"],
           ["after_apgd_ce", "after APGD-CE (broken)", "stage"],
           ["after_apgd_t", "after APGD-T (broken)", "stage"],
           ["after_fab_t", "after FAB-T (broken)", "stage"],
           ["after_square", "after Square = AutoAttack (broken)", "stage"],
           ["worst_case", "worst of all", "percent1"],
           ["seconds_per_1000", "seconds per 1,000 points: APGD-CE / "
            "APGD-T / FAB-T / Square = total", "seconds_per_1000"],
           ["failed_checks", "failed checks", "checks"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(RUNS, "frontier"))
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--methods", default="madry,keep_accuracy")
    parser.add_argument("--last", default="")
    parser.add_argument("--attacks", default=ATTACKS,
                        help="what advmask-eval runs (autoattack alone "
                        "leaves the PGD-20 and CW-inf columns empty)")
    parser.add_argument("--extra", default="",
                        help="NAME=WORKDIR pairs, comma-separated")
    parser.add_argument("--train", action="store_true",
                        help="train the --methods runs that have no network")
    parser.add_argument("--pin", default="",
                        help="METHOD=EPOCHS pairs for --train, comma-separated")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--section", default="autoattack-standard",
                        help="the docs/RESULTS.md section to write")
    parser.add_argument(
        "--title", default="Standard AutoAttack, stage by stage")
    args = parser.parse_args()
    pinned = pinned_epochs(args.pin, parser)
    if pinned and not args.train:
        parser.error("--pin sets the epochs of --train; add --train")
    chosen = methods(args.methods, parser)
    if set(pinned) - set(chosen):
        parser.error(f"--pin names {sorted(set(pinned) - set(chosen))}, "
                     "which --methods does not")
    # (row name, work directory, checkpoint, whether --train may train it)
    runs = [(m, os.path.join(args.workdir, m), "best", args.train)
            for m in chosen]
    runs += [(f"{m} (last epoch)", os.path.join(args.workdir, m), "last",
              False) for m in args.last.split(",") if m]
    for pair in filter(None, args.extra.split(",")):
        name, sep, workdir = pair.partition("=")
        if not sep or not name or not workdir:
            parser.error(f"--extra entry {pair!r} is not NAME=WORKDIR")
        runs.append((name, workdir, "best", False))
    rows = []
    for name, workdir, checkpoint, trainable in runs:
        if trainable and not os.path.exists(
                os.path.join(workdir, "model.keras")):
            train_timed(name, workdir,
                        [f"--config.train.epochs={pinned[name]}"]
                        if name in pinned else [])
        if not os.path.exists(os.path.join(workdir, "model.keras")):
            parser.error(f"{workdir} has no model.keras: train it first "
                         "(bench/frontier.py, or the README's main job).")
        rows.append(run_record(name, workdir, checkpoint, eval_report(
            workdir, checkpoint, args.attacks, args.limit, checks=True)))

    command = (
        ".venv/bin/python bench/autoattack_rows.py"
        + (f" --workdir {os.path.relpath(args.workdir, REPO)}"
           if args.workdir != parser.get_default("workdir") else "")
        + (" --train" if args.train else "")
        + (f" --pin {args.pin}" if args.pin else "")
        + f" --limit {args.limit} --methods {shlex.quote(args.methods)} --last "
        f"{shlex.quote(args.last)}"
        + (f" --extra \"{args.extra}\"" if args.extra else "")
        + (f" --attacks {args.attacks}" if args.attacks != ATTACKS else "")
        + section_options(args, parser) + " --write")
    before = (
        f"Robust accuracy (%) at eps 0.1 on the first {args.limit} test "
        "images of each run's validation-selected network (its last "
        "epoch's on \"(last epoch)\" rows; \"epoch evaluated\" says which, "
        "of the epochs trained) (work "
        f"directories under {os.path.relpath(args.workdir, REPO)}, "
        "bench/frontier.py's equal-budget runs by default, and the --extra "
        "ones). Training: the schedule and measured wall clock of a run "
        "this bench or bench/frontier.py trained (\"as configured\": the "
        "preset's own epochs), with validation-based selection on "
        f"{VALIDATION:,} held-out images. PGD-20 and CW-inf: step eps/4, "
        "uniform start. Then "
        "AutoAttack's standard version: APGD-CE (100 iterations) -> APGD-T "
        "(DLR loss, 9 target classes, 100 iterations each) -> FAB-T (9 "
        "target classes, 100 iterations each) -> Square (5,000 queries, "
        "p_init 0.8, the official schedule), each stage attacking only the "
        "points the earlier ones left robust; each stage column gives the "
        "accuracy after it and, in brackets, the points it broke. \"worst "
        "of all\" is robust to every attack. Seconds: each stage's wall "
        "clock (tracing included) per 1,000 evaluated points, then the "
        "whole cascade in minutes. Failed checks: the gradient-masking "
        "sanity checks (advmask_tf/evaluation/checks.py) on the first 500 "
        "of the points.")
    store(section(args.section, args.title, command, COLUMNS, rows, before),
          args.write)


if __name__ == "__main__":
    main()
