"""Could any mixing of the keep-accuracy preset's two classifiers reach the
target? The best gate on the robust classifier's confidence, measured.

A mixture gains clean accuracy where the robust classifier is wrong and the
accurate one right, by letting the accurate one decide where the robust one
is unsure; it stays robust only where the robust classifier is sure even at
its attacked points. `confidence_gate` (advmask_tf.evaluation.mixing_search)
sweeps that threshold on the test set, with PGD-20 and CW-inf on the robust
classifier as the attacks (the estimate the mixture's own selection uses),
so its curve bounds what this family of mixtures can trade with these two
networks, and the histograms show why.

    .venv/bin/python bench/mixing_gate.py \
        [--workdir runs/frontier/keep_accuracy] [--write]

Uses the work directories of bench/frontier.py (the mixture, and standard
and Madry for the target box); run that first.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from benchlib import (  # noqa: E402
    RUNS,
    eval_report,
    publish_figure,
)
from records import section, store  # noqa: E402

from advmask_tf.data import load_fashion_mnist  # noqa: E402
from advmask_tf.evaluation.mixing_search import (  # noqa: E402
    confidence_gate,
    validation_logits,
)
from advmask_tf.plotting import pyplot, save_figure  # noqa: E402

EPS = 0.1
ROBUST_LOSSES = (0.5, 1.0, 2.0, 3.0, 5.0)  # points of robust accuracy


def accuracies(workdir: str) -> tuple[float, float]:
    """(clean, worst-case robust) of a work directory's best network on the
    full test set, %, from the frontier bench's evaluation."""
    report = eval_report(workdir, "best", "pgd,cw_inf", 0, False)
    return (100 * report["clean"]["accuracy"],
            100 * report["worst_case"]["accuracy"])


def best_clean_within(gate: dict, loss: float) -> tuple[float, float]:
    """The gate's best clean accuracy losing at most `loss` robust points
    against the robust classifier alone, with its robust accuracy (%)."""
    clean = 100 * np.asarray(gate["clean"])
    robust = 100 * np.asarray(gate["robust"])
    allowed = robust >= robust[0] - loss
    best = int(np.argmax(np.where(allowed, clean, -1)))
    return clean[best], robust[best]


def plot(gate: dict, references: dict, points: int, path: str) -> str:
    plt = pyplot()
    fig, (ax_hist, ax_gate) = plt.subplots(1, 2, figsize=(12, 5.2))
    bins = np.linspace(0, 1, 41)
    gainable, kept = gate["gainable"], gate["kept"]
    ax_hist.hist(kept, bins=bins, alpha=0.55,
                 color="tab:blue",
                 label=f"kept: robust part right under attack "
                 f"({len(kept):,} points),\nits smallest probability margin")
    ax_hist.hist(gainable, bins=bins, alpha=0.55,
                 color="tab:red",
                 label=f"gainable: robust part wrong, accurate part right "
                 f"({len(gainable):,} points),\nrobust part's top-two gap "
                 "on the clean image")
    ax_hist.set_xlabel("robust part's probability margin (0 to 1)")
    # Counts, not densities: a gate trades points, and the kept points
    # outnumber the gainable ones even where the gainable ones crowd.
    ax_hist.set_yscale("log")
    ax_hist.set_ylabel("test points per bin of 0.025 (log scale)")
    ax_hist.set_title("Where a confidence gate must cut\n(separation: "
                      f"{gate['separation']:.2f}; 1 = free, 0.5 = chance)",
                      fontsize=10)
    ax_hist.legend(fontsize=8, loc="upper center")
    ax_hist.grid(alpha=0.3)

    robust = 100 * np.asarray(gate["robust"])
    clean = 100 * np.asarray(gate["clean"])
    ax_gate.plot(robust, clean, color="tab:blue",
                 label="best gate, every threshold (PGD-20, CW-inf)")
    ax_gate.scatter(robust[0], clean[0], color="tab:orange", zorder=3,
                    label="robust part alone")
    standard, madry, mixture = (references[k] for k in
                                ("standard", "madry", "mixture"))
    ax_gate.scatter(mixture[1], mixture[0], marker="*", s=110,
                    color="tab:red", zorder=3,
                    label="the mixture (its full worst case)")
    ax_gate.scatter(madry[1], madry[0], marker="s", color="0.3", zorder=3,
                    label="Madry at the same budget")
    x_low = min(robust[0] - 15, madry[1] - 3)
    x_high = max(robust[0], madry[1]) + 3
    ax_gate.fill_between([madry[1] - 1, x_high], standard[0] - 1,
                         standard[0] + 2, color="tab:green", alpha=0.15,
                         label="target: within 1 point of standard's clean"
                         "\nand Madry's robust accuracy")
    ax_gate.set_xlim(x_low, x_high)
    ax_gate.set_ylim(min(clean[0], madry[0]) - 2, standard[0] + 2)
    ax_gate.set_xlabel("robust accuracy, test set (%)")
    ax_gate.set_ylabel("clean accuracy, test set (%)")
    ax_gate.set_title("What gating the two classifiers can trade\n"
                      f"Fashion-MNIST, eps {EPS}, {points:,} "
                      "test images", fontsize=10)
    ax_gate.legend(fontsize=8, loc="lower left")
    ax_gate.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(
        RUNS, "frontier", "keep_accuracy"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    frontier = os.path.dirname(args.workdir)
    references = {"standard": accuracies(os.path.join(frontier, "standard")),
                  "madry": accuracies(os.path.join(frontier, "madry")),
                  "mixture": accuracies(args.workdir)}
    data = load_fashion_mnist()
    images = data.x_test.astype(np.float32) / 255.0
    labels = data.y_test.astype(np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(500)
    accurate = keras.models.load_model(
        os.path.join(args.workdir, "accurate", "model.keras"))
    robust = keras.models.load_model(
        os.path.join(args.workdir, "robust", "model.keras"))
    logits = validation_logits(accurate, robust, dataset, EPS)
    gate = confidence_gate(logits)
    points = len(logits["labels"])
    figure = plot(gate, references, points,
                  os.path.join(args.workdir, "mixing_gate.png"))
    link = publish_figure(figure, "mixing_gate.png", args.write)
    clean0, robust0 = 100 * gate["clean"][0], 100 * gate["robust"][0]
    standard, madry, _ = (references[k] for k in
                          ("standard", "madry", "mixture"))
    rows = []
    for loss in ROBUST_LOSSES:
        clean, robust_at = best_clean_within(gate, loss)
        rows.append({"robust_points_given_up": f"{loss:.1f}",
                     "clean": clean / 100,
                     "clean_gain": f"{clean:.2f} (+{clean - clean0:.2f})",
                     "robust": robust_at / 100})
    columns = [["robust_points_given_up", "robust points given up (at most)",
                "text"],
               ["clean_gain", "best clean accuracy (gain)", "text"],
               ["robust", "robust accuracy", "percent"]]
    before = "\n".join([
        "The keep-accuracy preset's robust part (Free m 4) and accurate part "
        "(standard, width 32) on the full test set. A confidence gate lets "
        "the accurate part decide where the robust part's top-two "
        "probability gap is under a threshold; a point stays robust when "
        "the robust part is right at its PGD-20 and CW-inf points (crafted "
        "on it alone) with a probability margin at least the threshold "
        "there and on the clean image, the estimate the mixture's own "
        "selection uses. Sweeping the threshold gives the best this family "
        "of mixtures can trade with these two networks (an estimate, not an "
        "evaluation: the mixture itself is attacked end to end in the "
        "frontier section).",
        "",
        f"Robust part alone: {clean0:.2f}% clean, {robust0:.2f}% robust "
        f"(this estimate). Target: clean >= {standard[0] - 1:.2f}% "
        f"(standard {standard[0]:.2f} - 1), robust >= {madry[1] - 1:.2f}% "
        f"(Madry {madry[1]:.2f} - 1). Gainable points (robust part wrong, "
        f"accurate part right): {len(gate['gainable'])} "
        f"({100 * len(gate['gainable']) / points:.2f} points of clean "
        "accuracy at "
        f"most); separation {gate['separation']:.3f} (the chance that a "
        "gainable point's gap is under a kept point's margin)."])
    store(section("mixing-gate", "Could any mixing of the two classifiers "
                  "reach the target?",
                  ".venv/bin/python bench/mixing_gate.py --write (work "
                  f"directory {os.path.relpath(args.workdir)}, from "
                  "bench/frontier.py)", columns, rows, before),
          args.write, f"![the best confidence gate's trade-off]({link})")


if __name__ == "__main__":
    main()
