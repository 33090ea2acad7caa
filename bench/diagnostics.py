"""The regularisation diagnostics of the trade-off runs, into docs/RESULTS.md.

Runs `advmask-analyze` on the work directories that `bench/tradeoff.py`
trained (their best networks; RobMask and split BN told 0 and 0.1), on the
first --limit test images, and writes the comparison (tables from
analysis.md) as the section "diagnostics" with its plots copied to
docs/figures/diagnostics_*.png. Each work directory keeps its analysis, so
re-running only analyses what is new.

    .venv/bin/python bench/diagnostics.py [--workdir runs/tradeoff] \
        [--methods standard,madry,trades,iaat,gairat,robmask,split_bn] \
        [--limit 1000] [--write]
"""

from __future__ import annotations

import argparse
import os

from benchlib import RUNS, methods, publish_figure, tool
from records import section, store  # noqa: E402

from advmask_tf import runs

PLOTS = ("spectra", "smoothness", "margins", "normalized_margins",
         "confidence", "boundary")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(RUNS, "tradeoff"))
    parser.add_argument(
        "--methods", default="standard,madry,trades,iaat,gairat,robmask,"
        "split_bn")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--out", default=os.path.join(RUNS, "diagnostics"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    workdirs = [os.path.join(args.workdir, m)
                for m in methods(args.methods, parser)]
    missing = [w for w in workdirs
               if not os.path.exists(runs.WorkDir(w).best_model)]
    if missing:
        parser.error(f"no trained network in {missing}: run bench/tradeoff.py "
                     "--methods ... first.")
    tool("advmask-analyze", *(f"--workdir={w}" for w in workdirs),
         f"--out={args.out}", f"--limit={args.limit}", "--condition_eps=0,0.1")

    with open(os.path.join(args.out, "analysis.md")) as f:
        tables = f.read().split("\n", 2)[2]  # drop the title line
    links = []
    for name in PLOTS:
        link = publish_figure(os.path.join(args.out, name + ".png"),
                              f"diagnostics_{name}.png", args.write)
        links.append(f"[{name.replace('_', ' ')}]({link})")
    before = (
        "The best network of each run in the trade-off tables (small CNN, "
        "5 epochs, eps 0.1); RobMask and split BN told 0 (`@0`) and 0.1 "
        f"(`@0.1`). First {args.limit} test images. Norms are folded into "
        "the convolution or dense layer before them, so each row is the "
        "linear map the network applies at inference; the spectral norm "
        "product includes the input normalisation. Plots: "
        + ", ".join(links) + ".")
    # The profiles are the records; advmask-analyze's analysis.md renders
    # their tables.
    profiles = runs.read_json(os.path.join(args.out, "analysis.json"))
    store(section("diagnostics", "Regularisation diagnostics of the "
                  "trade-off runs (Wen, Li, Jia)",
                  f".venv/bin/python bench/diagnostics.py --methods "
                  f"{args.methods} --limit {args.limit} --write", [],
                  [profiles], before, tables.strip()), args.write)


if __name__ == "__main__":
    main()
