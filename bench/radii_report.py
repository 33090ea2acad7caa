"""What IAAT's radii say about the training images, per class.

Reads the `radii.npz` an IAAT run left in its work directory (made by
`bench/tradeoff.py`), tabulates the radius per class, and copies the run's
`radii.png` (the training images with the smallest and largest radii) to
docs/figures/.

    .venv/bin/python bench/radii_report.py --workdir=runs/tradeoff/iaat \
        [--write]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from benchlib import RUNS, publish_figure
from records import section, store

from advmask_tf import runs
from advmask_tf.data.sources import FASHION_MNIST_CLASSES

FIGURE = "iaat_radii_fashion_mnist.png"


def per_class_rows(radii, labels, class_names):
    rows = []
    for label in np.unique(labels):
        r = radii[labels == label]
        name = class_names[label] if len(class_names) > label else str(label)
        rows.append((float(np.mean(r)), name, len(r), float(np.median(r)),
                     float(np.mean(r <= 1e-6)), float(np.max(r))))
    return sorted(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(
        RUNS, "tradeoff", "iaat"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    path = os.path.join(args.workdir, "radii.npz")
    if not os.path.exists(path):
        parser.error(f"{path} does not exist: train an IAAT run first "
                     "(bench/tradeoff.py --methods iaat).")
    table = np.load(path)
    radii, labels = table["radius"], table["label"]
    config = runs.load_config(runs.WorkDir(args.workdir))
    names = FASHION_MNIST_CLASSES if config.data.source == \
        "fashion_mnist" else ()
    link = publish_figure(os.path.join(args.workdir, "radii.png"), FIGURE,
                          args.write)
    rows = [{"class": name, "images": count, "mean": f"{mean:.4f}",
             "median": f"{median:.4f}", "share_at_zero": at_zero,
             "max": f"{top:.4f}"}
            for mean, name, count, median, at_zero, top in per_class_rows(
                radii, labels, names)]
    columns = [["class", "class", "text"], ["images", "images", "text"],
               ["mean", "mean radius", "text"], ["median", "median", "text"],
               ["share_at_zero", "share at 0 (%)", "percent1"],
               ["max", "max", "text"]]
    radius = config["radius"]
    before = "".join([
        f"The radius table at the end of the IAAT run of the trade-off table "
        f"({len(radii)} training images, {config['train']['epochs']} epochs, "
        f"warmup {radius['warmup_epochs']} epochs at eps "
        f"{config['attack']['eps']}, rule {radius['rule']!r}, gamma "
        f"{radius['gamma']}): overall mean {radii.mean():.4f}, median "
        f"{np.median(radii):.4f}, {100 * np.mean(radii <= 1e-6):.1f}% at 0. "
        "Classes sorted by mean radius. The images with the smallest and "
        f"largest radii are in [{FIGURE}]({link})."])
    store(section("iaat-radii", "IAAT's radii on Fashion-MNIST, per class",
                  ".venv/bin/python bench/radii_report.py "
                  f"--workdir={os.path.relpath(args.workdir)} --write (after "
                  "bench/tradeoff.py)", columns, rows, before), args.write)


if __name__ == "__main__":
    main()
