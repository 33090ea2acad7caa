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
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLOTS = ("spectra", "smoothness", "margins", "normalized_margins",
         "confidence", "boundary")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(REPO, "runs",
                                                          "tradeoff"))
    parser.add_argument(
        "--methods", default="standard,madry,trades,iaat,gairat,robmask,"
        "split_bn")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--out", default=os.path.join(REPO, "runs",
                                                      "diagnostics"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    workdirs = [os.path.join(args.workdir, m) for m in args.methods.split(",")]
    missing = [w for w in workdirs
               if not os.path.exists(os.path.join(w, "model.keras"))]
    if missing:
        parser.error(f"no trained network in {missing}: run bench/tradeoff.py "
                     "--methods ... first.")
    command = [sys.executable, os.path.join(REPO, "bin", "advmask-analyze"),
               *(f"--workdir={w}" for w in workdirs), f"--out={args.out}",
               f"--limit={args.limit}", "--condition_eps=0,0.1"]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from results_doc import machine_line, publish

    with open(os.path.join(args.out, "analysis.md")) as f:
        tables = f.read().split("\n", 2)[2]  # drop the title line
    figures = os.path.join(REPO, "docs", "figures")
    links = []
    if args.write:
        os.makedirs(figures, exist_ok=True)
    for name in PLOTS:
        target = f"diagnostics_{name}.png"
        if args.write:
            shutil.copyfile(os.path.join(args.out, name + ".png"),
                            os.path.join(figures, target))
        links.append(f"[{name.replace('_', ' ')}](figures/{target})")
    text = "\n".join([
        "## Regularisation diagnostics of the trade-off runs (Wen, Li, Jia)",
        "",
        f"Command: `.venv/bin/python bench/diagnostics.py --methods "
        f"{args.methods} --limit {args.limit} --write`",
        "",
        f"Machine: {machine_line()}.",
        "",
        "The best network of each run in the trade-off tables (small CNN, "
        "5 epochs, eps 0.1); RobMask and split BN told 0 (`@0`) and 0.1 "
        f"(`@0.1`). First {args.limit} test images. Norms are folded into "
        "the convolution or dense layer before them, so each row is the "
        "linear map the network applies at inference; the spectral norm "
        "product includes the input normalisation. Plots: "
        + ", ".join(links) + ".",
        "",
        tables.strip(),
    ])
    publish("diagnostics", text, args.write)


if __name__ == "__main__":
    main()
