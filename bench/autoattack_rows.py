"""The AutoAttack-style worst case of every trade-off run, next to PGD-20.

Evaluates the work directories `bench/tradeoff.py` trained with
`advmask-eval --attacks=pgd,cw_inf,autoattack --limit=N` (APGD-CE, APGD-T
over 9 targets, Square with 5,000 queries; the gradient-masking sanity
checks on the same points) and writes the table into
docs/RESULTS.md. Each evaluation is kept in the run's eval/ directory, so an
interrupted benchmark resumes with the next run.

    .venv/bin/python bench/autoattack_rows.py [--workdir=runs/tradeoff] \
        [--limit 500] [--methods standard,madry,...] \
        [--last gairat,gairat_iaat] \
        [--extra "main job=runs/fashion_mnist_madry"] [--write]

--extra adds work directories outside --workdir (NAME=PATH, comma-separated),
such as the README's main job.
"""

from __future__ import annotations

import argparse
import os
import shlex

from benchlib import (
    REPO,
    RUNS,
    eval_report,
    machine_line,
    methods,
    publish,
    section_options,
)

ATTACKS = "pgd,cw_inf,autoattack"


def row(name: str, report: dict) -> str:
    def pct(entry):
        return f"{100 * entry['accuracy']:.1f}"  # 1 decimal on few points

    stages = report["autoattack"]["stages"]
    failed = [n for n, c in report["checks"].items()
              if isinstance(c, dict) and not c["passed"]]
    return (f"| {name} | {pct(report['clean'])} | {pct(report['pgd20'])} | "
            f"{pct(report['cw_inf'])} | {pct(stages['apgd_ce'])} | "
            f"{pct(stages['apgd_t'])} | {pct(stages['square'])} | "
            f"{pct(report['worst_case'])} | "
            f"{', '.join(failed) if failed else 'all passed'} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(RUNS, "tradeoff"))
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument(
        "--methods", default="standard,madry,trades,iaat,gairat,gairat_iaat")
    parser.add_argument("--last", default="gairat,gairat_iaat")
    parser.add_argument("--extra", default="",
                        help="NAME=WORKDIR pairs, comma-separated")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--section", default="autoattack",
                        help="the docs/RESULTS.md section to write")
    parser.add_argument(
        "--title", default="AutoAttack-style worst case of the trade-off runs")
    args = parser.parse_args()
    runs = [(m, os.path.join(args.workdir, m), "best")
            for m in methods(args.methods, parser)]
    runs += [(f"{m} (last epoch)", os.path.join(args.workdir, m), "last")
             for m in args.last.split(",") if m]
    for pair in filter(None, args.extra.split(",")):
        name, sep, workdir = pair.partition("=")
        if not sep or not name or not workdir:
            parser.error(f"--extra entry {pair!r} is not NAME=WORKDIR")
        runs.append((name, workdir, "best"))
    lines = ["| run | clean | PGD-20 | CW-inf | after APGD-CE | after APGD-T "
             "| after Square (AA worst case) | worst of all | failed checks |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, workdir, checkpoint in runs:
        if not os.path.exists(os.path.join(workdir, "model.keras")):
            parser.error(f"{workdir} has no model.keras: train it first "
                         "(bench/tradeoff.py, or the README's main job).")
        lines.append(row(name, eval_report(workdir, checkpoint, ATTACKS,
                                           args.limit, checks=True)))

    text = "\n".join([
        f"## {args.title}",
        "",
        f"Command: `.venv/bin/python bench/autoattack_rows.py --limit "
        f"{args.limit} --methods {shlex.quote(args.methods)} --last "
        f"{shlex.quote(args.last)}"
        + (f" --extra \"{args.extra}\"" if args.extra else "")
        + section_options(args, parser) + " --write`",
        "",
        f"Machine: {machine_line()}.",
        "",
        f"Robust accuracy (%) at eps 0.1 on the first {args.limit} test "
        "images, of the networks of the methods' work directories under "
        f"{os.path.relpath(args.workdir, REPO)} (bench/tradeoff.py's runs by "
        "default) and of the --extra work directories. PGD-20 and "
        "CW-inf as there; then the cascade APGD-CE "
        "(100 iterations) -> APGD-T (DLR loss, 9 target classes, 100 "
        "iterations each) -> Square (5,000 queries, p_init 0.8), each stage "
        "attacking only the points the earlier ones left robust; the "
        "columns give the accuracy after each stage. \"worst of all\" is "
        "robust to every attack. FAB-T, which the official AutoAttack also "
        "runs, is not implemented. Failed checks: the gradient-masking "
        "sanity checks (advmask_tf/evaluation/checks.py) on the same "
        "points.",
        "",
        *lines,
    ])
    publish(args.section, text, args.write)


if __name__ == "__main__":
    main()
