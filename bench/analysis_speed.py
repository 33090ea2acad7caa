"""Cost of `advmask-analyze`, as a ratio to one PGD-20 evaluation.

For the small CNN (28x28x1, the trained Madry network of the trade-off runs
when present) and ResNet-18 (32x32x3, freshly initialised: the cost does not
depend on the weights), times in the same process and alternating rounds:
(a) one PGD-20 attack on --points images (the reference), (b)
`profile_network` on the same images with the default settings (8 bisection
steps of PGD-20, PGD-10 and random smoothness probes, margins), and (c) the
layer spectra alone (FFT spectra plus 100 power iterations per convolution;
independent of the number of points). Prints seconds and the ratio (b)/(a);
the default bisection costs about 9 PGD-20 runs, so a ratio near 10 means
the analysis adds little beyond its attacks.

    .venv/bin/python bench/analysis_speed.py [--points 200] \
        [--resnet_points 20] [--rounds 2] [--write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from benchlib import RUNS
from records import section, store  # noqa: E402

from advmask_tf.analysis import (
    AnalysisSettings,
    layer_spectra,
    linear_operators,
    profile_network,
)
from advmask_tf.attacks import PGDConfig
from advmask_tf.data import load_fashion_mnist
from advmask_tf.models import build_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--resnet_points", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data = load_fashion_mnist()
    trained = os.path.join(RUNS, "tradeoff", "madry", "model.keras")
    small = (keras.models.load_model(trained) if os.path.exists(trained)
             else build_model("small_cnn", (28, 28, 1), 10))
    fashion = (data.x_test[:args.points].astype(np.float32) / 255.0,
               data.y_test[:args.points].astype(np.int64))
    rng = np.random.default_rng(0)
    cifar_shaped = (rng.uniform(0, 1, (args.resnet_points, 32, 32, 3)
                                ).astype(np.float32),
                    rng.integers(0, 10, args.resnet_points))
    cases = {
        "small CNN (width 16), Fashion-MNIST": (small, fashion),
        "ResNet-18 (width 64), 32x32x3": (
            build_model("resnet18", (32, 32, 3), 10), cifar_shaped),
    }
    settings = AnalysisSettings()
    attack = PGDConfig(eps=0.1, steps=20)
    rows = []
    for name, (network, (x, y)) in cases.items():
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(100)

        @tf.function(reduce_retracing=True)
        def fooled(image, label, net=network):
            return attack.fooled(net, image, tf.cast(label, tf.int32))

        def reference(data=dataset):
            for image, label in data:
                fooled(image, label).numpy()

        def analysis(net=network, data=dataset):
            profile_network(net, data, settings)

        def spectra(net=network):
            layer_spectra(linear_operators(net))

        reference()  # trace once outside the timing
        times = {"reference": [], "analysis": [], "spectra": []}
        for _ in range(args.rounds):
            for key, fn in (("reference", reference), ("analysis", analysis),
                            ("spectra", spectra)):
                start = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - start)
        ratios = [a / r for a, r in zip(times["analysis"],
                                        times["reference"])]
        rows.append({
            "network": name, "points": len(x), "seconds": times,
            **{f"{key}_s": f"{statistics.median(times[key]):.1f}"
               for key in ("reference", "analysis", "spectra")},
            "ratio": f"{statistics.median(ratios):.1f} "
                     f"({min(ratios):.1f}-{max(ratios):.1f})"})
        print(rows[-1], flush=True)
    columns = [["network", "network", "text"], ["points", "points", "text"],
               ["reference_s", "PGD-20 (s)", "text"],
               ["analysis_s", "analysis (s)", "text"],
               ["spectra_s", "spectra alone (s)", "text"],
               ["ratio", "analysis / PGD-20", "text"]]
    before = (
        "Seconds (median of the rounds) for one PGD-20 attack on the points "
        "(the reference), the full `profile_network` with default settings "
        "(bisection on [0, 0.3] with 8 halvings of PGD-20, smoothness with "
        "PGD-10 and a random corner at eps 0.1, margins, confidence, layer "
        "spectra), and the layer spectra alone; the ratio is analysis / "
        "reference within a round (median and range). The first trace of "
        "each compiled function is inside the analysis timings.")
    store(section("analysis-speed", "Cost of the regularisation diagnostics "
                  "(advmask-analyze)",
                  f".venv/bin/python bench/analysis_speed.py --points "
                  f"{args.points} --resnet_points {args.resnet_points} "
                  f"--rounds {args.rounds} --write", columns, rows, before),
          args.write)


if __name__ == "__main__":
    main()
