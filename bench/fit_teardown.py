"""How long `fit` takes to return after its last epoch, with and without
tf.data's autotuner.

Repeated one-epoch `fit` calls of PGD-10 training sometimes took twice as
long as their epoch. The extra time is after `on_train_end`, while fit's
dataset iterator is torn down, and ends at a fixed time from the start of
the call: tf.data's autotuning thread sleeps in periods that double (10 ms,
20 ms, ... 10.24 s), and the tear-down waits for the current period. This
script shows it: rounds alternate between the training set as built and the
same set with `options.autotune.enabled = False`, and report, per fit call,
the tear-down time as a fraction of the epoch.

    .venv/bin/python bench/fit_teardown.py [--images 3200] [--rounds 6]

It writes nothing into docs/: the throughput notes in docs/RESULTS.md quote
its output.
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

from advmask_tf.configs_lib import default_data_config  # noqa: E402
from advmask_tf.data import build_data  # noqa: E402
from advmask_tf.models import build_model  # noqa: E402
from advmask_tf.training import AdversarialModel  # noqa: E402


def without_autotune(dataset):
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3200)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    config = default_data_config()
    config.train_limit = args.images
    config.validation_size = 0
    data = build_data(config, batch_size=128).train.cache()
    variants = {"autotune on": data, "autotune off": without_autotune(data)}

    keras.utils.set_random_seed(0)
    net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286], std=[0.353])
    model = AdversarialModel(net, objective="madry",
                             attack={"eps": 0.1, "steps": 10,
                                     "step_size": 0.025})
    model.compile(optimizer="adam")
    timer = EpochTimer()
    fractions = {name: [] for name in variants}
    model.fit(data, epochs=1, verbose=0, shuffle=False)  # tracing
    for _ in range(args.rounds):
        for name, dataset in variants.items():
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0, shuffle=False,
                      callbacks=[timer])
            call = time.perf_counter() - start
            fractions[name].append((call - timer.seconds) / timer.seconds)
            print(f"{name}: fit call {call:.1f} s, epoch {timer.seconds:.1f} "
                  "s", flush=True)
    for name, values in fractions.items():
        median = statistics.median(values)
        print(f"{name}: tear-down / epoch, median {median:.3f}, max "
              f"{max(values):.3f}, over {len(values)} calls")


if __name__ == "__main__":
    main()
