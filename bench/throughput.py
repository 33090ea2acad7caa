"""Training throughput of AdversarialModel.fit against a hand-written loop.

Both train the same network on the same Fashion-MNIST batches in the same
process; rounds alternate between the two so that machine noise hits both.
The figure is the ratio of images/s (fit / hand-written), per method.

    .venv/bin/python bench/throughput.py [--images 3200] [--rounds 7] [--write]

--write puts the table into docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from benchlib import EpochTimer  # noqa: E402
from records import section, store  # noqa: E402

from advmask_tf.configs_lib import default_data_config  # noqa: E402
from advmask_tf.data import build_data  # noqa: E402
from advmask_tf.models import build_model  # noqa: E402
from advmask_tf.training import AdversarialModel  # noqa: E402

EPS, STEPS, STEP_SIZE = 0.1, 10, 0.025


def hand_written_step(net, optimizer, adversarial):
    """The minimal loop a user would write: PGD-10 (or none), CE, one step."""

    @tf.function
    def step(x, y):
        if adversarial:
            x_adv = tf.clip_by_value(
                x + tf.random.uniform(tf.shape(x), -EPS, EPS), 0.0, 1.0)
            for _ in range(STEPS):
                with tf.GradientTape() as tape:
                    tape.watch(x_adv)
                    loss = tf.reduce_sum(
                        tf.nn.sparse_softmax_cross_entropy_with_logits(
                            y, net(x_adv, training=False)))
                x_adv = x_adv + STEP_SIZE * tf.sign(tape.gradient(loss, x_adv))
                x_adv = tf.clip_by_value(
                    tf.clip_by_value(x_adv, x - EPS, x + EPS), 0.0, 1.0)
            x = x_adv
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                y, net(x, training=True)))
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    return step


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(data, method, rounds, **model_kwargs):
    """Per-round (fit images/s, hand-written images/s), adjacent epochs.

    Each round times one hand-written epoch and then one fit epoch, so a
    ratio compares two runs seconds apart; the machine's slow drifts (it is
    shared) affect both sides of a round alike.
    """
    keras.utils.set_random_seed(0)
    images = sum(int(tf.shape(b[1])[0]) for b in data)

    def network():
        return build_model("small_cnn", (28, 28, 1), 10, mean=[0.286],
                           std=[0.353])

    model = AdversarialModel(network(), objective=method,
                             attack={"eps": EPS, "steps": STEPS,
                                     "step_size": STEP_SIZE}, **model_kwargs)
    model.compile(optimizer="adam")
    reference_net = network()
    optimizer = keras.optimizers.Adam()
    step = hand_written_step(reference_net, optimizer, method != "standard")

    def reference_epoch():
        for features, label in data:
            step(features["image"], tf.cast(label, tf.int32))
        float(optimizer.iterations)  # wait for the last step

    epoch_timer = EpochTimer()

    def fit_epoch():
        model.fit(data, epochs=1, verbose=0, shuffle=False,
                  callbacks=[epoch_timer])
        return epoch_timer.seconds

    fit_epoch(), reference_epoch()  # tracing and warm-up
    pairs = []
    for _ in range(rounds):
        reference_rate = images / timed(reference_epoch)
        pairs.append((images / fit_epoch(), reference_rate))
    return pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    config = default_data_config()
    config.train_limit = args.images
    config.validation_size = 0
    data = build_data(config, batch_size=128).train.cache()

    cases = [
        ("clean training (standard)", "standard", {}),
        ("PGD-10 training (madry, defaults)", "madry", {}),
        ("PGD-10 training (madry, track_clean_accuracy=False)", "madry",
         {"track_clean_accuracy": False}),
    ]
    rows = []
    for label, method, kwargs in cases:
        pairs = measure(data, method, args.rounds, **kwargs)
        ratios = sorted(fit / ref for fit, ref in pairs)
        rows.append({"case": label,
                     "fit_ips": statistics.median(p[0] for p in pairs),
                     "loop_ips": statistics.median(p[1] for p in pairs),
                     "rounds": pairs,
                     "ratio": f"{statistics.median(ratios):.3f}",
                     "range": f"{ratios[0]:.2f} - {ratios[-1]:.2f}"})
        print(f"{label}: rounds (fit, hand-written img/s) "
              f"{[(round(f), round(r)) for f, r in pairs]}, median ratio "
              f"{rows[-1]['ratio']}", flush=True)

    columns = [["case", "case", "text"], ["fit_ips", "fit images/s", "integer"],
               ["loop_ips", "hand-written images/s", "integer"],
               ["ratio", "ratio (median)", "text"],
               ["range", "ratio (min - max)", "text"]]
    before = (
        "Small CNN (width 16), batch 128, Fashion-MNIST. Each of "
        f"{args.rounds} rounds times one epoch ({args.images} images) of the "
        "hand-written loop and then one of fit (timed from its epoch's start "
        "to its end by a callback); the ratio is fit / "
        "hand-written within a round, and the table gives the median images/s "
        "and the median and range of the per-round ratios. The hand-written "
        "loop is the minimum a user would write (PGD with a uniform start, "
        "CE, one optimizer step); fit also keys each sample's random start "
        "by its example index and logs metrics.")
    store(section("throughput", "Training throughput: `AdversarialModel.fit` "
                  "vs a hand-written loop",
                  f".venv/bin/python bench/throughput.py --images "
                  f"{args.images} --rounds {args.rounds} --write", columns,
                  rows, before), args.write)


if __name__ == "__main__":
    main()
