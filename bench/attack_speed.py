"""Evaluation speed per attack, as a ratio to the model's own speed.

For each attack, images*(model evaluations)/s divided by the same figure for
a bare loop of the same kind of evaluation in the same process (a gradient
of the CE with respect to the input for white-box attacks, a forward pass
for Square). 1.0 means the attack costs exactly its model evaluations;
rounds alternate reference and attack so that load on this shared machine
hits both alike. Also prints plain images/s per attack.

    .venv/bin/python bench/attack_speed.py \
        [--model runs/frontier/madry/model.keras] [--points 500] \
        [--rounds 3] [--write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from benchlib import REPO, RUNS
from records import section, store  # noqa: E402

from advmask_tf.attacks import (
    APGDConfig,
    FABConfig,
    PGDConfig,
    SquareConfig,
)
from advmask_tf.data import load_fashion_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.path.join(
        RUNS, "frontier", "madry", "model.keras"))
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data = load_fashion_mnist()
    x = tf.constant(data.x_test[:args.points].astype(np.float32) / 255.0)
    y = tf.constant(data.y_test[:args.points].astype(np.int32))
    net = keras.models.load_model(args.model)
    steps = 20

    @tf.function
    def gradients(x, y):
        def body(i, total):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(
                        y, net(x, training=False)))
            return i + 1, total + tf.reduce_sum(tape.gradient(loss, x))
        return tf.while_loop(lambda i, _: i < steps, body,
                             (0, tf.constant(0.0)))[1]

    @tf.function
    def forwards(x):
        def body(i, total):
            return i + 1, total + tf.reduce_sum(net(x + 0.0 * tf.cast(
                i, tf.float32), training=False))
        return tf.while_loop(lambda i, _: i < steps * 10, body,
                             (0, tf.constant(0.0)))[1]

    # name: (function, model evaluations per image, reference kind)
    attacks = {
        "PGD-20": (PGDConfig(eps=0.1, steps=steps), steps + 1, "gradient"),
        "APGD-CE (20 iterations)": (APGDConfig(eps=0.1, steps=steps),
                                    steps + 1, "gradient"),
        "APGD-T (20 iterations, 3 targets)": (
            APGDConfig(eps=0.1, steps=steps, loss="dlr_targeted",
                       targets=3), 3 * (steps + 1) + 1, "gradient"),
        # FAB-T stops a point once it is fooled within eps; at eps 0.001
        # none is, so every point runs every iteration. Each iteration is
        # one input gradient plus one forward pass and the projection.
        "FAB-T (20 iterations, 3 targets)": (
            FABConfig(eps=0.001, steps=steps, targets=3), 3 * steps + 1,
            "gradient"),
        # Square stops early on fooled points; at eps 0.5 none is fooled
        # for long, so a small eps keeps every point queried.
        "Square (200 queries)": (SquareConfig(eps=0.01, queries=200), 200,
                                 "forward"),
    }
    references = {"gradient": (lambda: gradients(x, y), steps),
                  "forward": (lambda: forwards(x), steps * 10)}
    def compile_fooled(attack):
        return tf.function(lambda a, b: attack.fooled(net, a, b))

    compiled = {name: compile_fooled(attack)
                for name, (attack, _, _) in attacks.items()}
    for function in compiled.values():
        function(x, y)
    for reference, _ in references.values():
        reference()

    def timed(function):
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    rows = []
    for name, (_, evaluations, kind) in attacks.items():
        reference, reference_evaluations = references[kind]
        ratios, speeds = [], []
        for _ in range(args.rounds):
            reference_rate = reference_evaluations / timed(reference)
            seconds = timed(lambda attack=compiled[name]: attack(x, y))
            ratios.append((evaluations / seconds) / reference_rate)
            speeds.append(args.points / seconds)
        rows.append({"attack": name, "model_evaluation": kind,
                     "images_per_second": statistics.median(speeds),
                     "ratio": f"{statistics.median(ratios):.2f}",
                     "ratios": ratios,
                     "range": f"{min(ratios):.2f}-{max(ratios):.2f}"})

    columns = [["attack", "attack", "text"],
               ["model_evaluation", "model evaluation", "text"],
               ["images_per_second", "images/s", "integer"],
               ["ratio", "ratio to the model", "text"],
               ["range", "range", "text"]]
    before = (
        f"Small CNN of {os.path.relpath(args.model, REPO)}, {args.points} "
        "test images in one batch. The ratio divides the attack's model "
        "evaluations per second by those of a bare loop of the same evaluation (input "
        "gradient of the CE, or forward pass) in the same process; rounds "
        "alternate the two; median and range over rounds. 1.0 means the "
        "attack costs exactly its model evaluations (FAB-T's are counted "
        "as its input gradients: its extra forward pass and projection per "
        "iteration show as a ratio under 1).")
    store(section("attack_speed", "Evaluation speed per attack",
                  f".venv/bin/python bench/attack_speed.py --points "
                  f"{args.points} --rounds {args.rounds} --write", columns,
                  rows, before), args.write)


if __name__ == "__main__":
    main()
