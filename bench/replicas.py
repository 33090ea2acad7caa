"""Training throughput on 2 logical CPU devices (MirroredStrategy) against 1.

The process splits its CPU into two logical devices; the same Madry PGD-10
training epoch of the small CNN runs on the default strategy (one device)
and under MirroredStrategy over both, rounds alternating so that machine
noise hits both. The figure is the ratio of images/s (2 devices / 1). Both
logical devices share the same 2 cores, so on this machine it measures the
strategy's overhead (cross-replica all-reduces, synchronised batch norm,
split batches), not a speed-up; on 2 GPUs the same code splits real work.

    .venv/bin/python bench/replicas.py [--images 3200] [--rounds 5] [--write]
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# Before anything else touches the runtime: two logical CPU devices.
_CPUS = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _CPUS[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
from benchlib import (  # noqa: E402
    EpochTimer,  # noqa: E402
    )
from records import section, store  # noqa: E402

from advmask_tf.configs_lib import default_data_config  # noqa: E402
from advmask_tf.data import build_data  # noqa: E402
from advmask_tf.models import build_model  # noqa: E402
from advmask_tf.training import AdversarialModel  # noqa: E402


def fitter(strategy, data, norm):
    """A function running one timed fit epoch under `strategy`."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286],
                          std=[0.353], norm=norm)
        model = AdversarialModel(net, objective="madry",
                                 attack={"eps": 0.1, "steps": 10,
                                         "step_size": 0.025},
                                 num_examples=60000)
        model.compile(optimizer="adam")
    timer = EpochTimer()

    def epoch():
        model.fit(data, epochs=1, verbose=0, shuffle=False,
                  callbacks=[timer])
        return timer.seconds

    epoch()  # tracing and warm-up
    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    config = default_data_config()
    config.train_limit = args.images + 1000
    config.validation_size = 1000
    data = build_data(config, batch_size=128, seed=0).train
    images = sum(int(tf.shape(b[1])[0]) for b in data)
    one = fitter(tf.distribute.get_strategy(), data, "batchnorm")
    two = fitter(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), data,
                 "sync_batchnorm")
    rates = []
    for _ in range(args.rounds):
        rates.append((images / one(), images / two()))
    ratios = [b / a for a, b in rates]
    record = {"training": "Madry PGD-10, small CNN, batch 128",
              "one_device_ips": statistics.median(a for a, _ in rates),
              "two_devices_ips": statistics.median(b for _, b in rates),
              "ratios": ratios,
              "ratio": (f"{statistics.median(ratios):.2f} ({min(ratios):.2f}"
                        f"-{max(ratios):.2f})")}
    columns = [["training", "training", "text"],
               ["one_device_ips", "1 device (images/s)", "integer"],
               ["two_devices_ips", "2 devices (images/s)", "integer"],
               ["ratio", "2 / 1 (median, range)", "text"]]
    before = (
        f"One fit epoch of {images} Fashion-MNIST images per setting and "
        f"round ({args.rounds} rounds, alternating; timed from the epoch's "
        "first batch to its last). One device: the default strategy with "
        "batch norm; two: MirroredStrategy over two logical CPU devices "
        "with synchronised batch norm, the global batch split in two. "
        "Both devices share the machine's 2 cores, so the ratio is the "
        "strategy's overhead here, not a speed-up.")
    store(section("replicas", "Training on 2 logical CPU devices "
                  "(MirroredStrategy) against 1",
                  f".venv/bin/python bench/replicas.py --images "
                  f"{args.images} --rounds {args.rounds} --write", columns,
                  [record], before), args.write)


if __name__ == "__main__":
    main()
