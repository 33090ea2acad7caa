"""Training images/s of the presets on whatever device this host has.

Each preset's whole train step (its attack, objective, network, dtype
policy and XLA setting as `auto` resolves them here) runs on synthetic
images of its dataset's shape, so the CIFAR-10 presets are measured on a
machine without CIFAR-10. The figure is images/s over `--steps` timed
steps after a warm-up step, and its ratio to the Fashion-MNIST main
preset measured in the same invocation at the same batch size.

    .venv/bin/python bench/device_throughput.py [--batch_size 8] [--steps 3]
        [--presets cifar10_pgd_at,cifar10_trades] [--write]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from benchlib import config_path  # noqa: E402
from records import section, store  # noqa: E402

from advmask_tf.configs_lib import preset  # noqa: E402
from advmask_tf.data.pipeline import build_data  # noqa: E402
from advmask_tf.data.synthetic import (  # noqa: E402
    source_signature,
    synthetic_splits,
)
from advmask_tf.devices import (  # noqa: E402
    local_accelerator,
    resolve_jit_compile,
    resolve_precision,
)
from advmask_tf.runs.assembly import (  # noqa: E402
    build_adversarial_model,
    build_network,
    make_optimizer,
    method_label,
    precision,
)

REFERENCE = "fashion_mnist_main"
PRESETS = ("cifar10_pgd_at", "cifar10_fgsm_rs", "cifar10_robmask",
           "cifar10_trades", "cifar10_mart", "cifar10_awp", "cifar10_gairat",
           "cifar10_iaat")


class BatchClock(keras.callbacks.Callback):
    """The wall-clock time at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def images_per_second(name: str, batch_size: int, steps: int) -> dict:
    """Trains `steps` + 1 steps of preset `name`; the first (tracing)
    is not timed."""
    config = preset(config_path(name), f"{name}.py")
    config.train.batch_size = batch_size
    config.train.free_replays = 0  # a step is one update, for every preset
    config.data.validation_size = 0
    config.data.train_limit = 0
    accelerator = local_accelerator()
    splits = synthetic_splits(source_signature(config.data),
                              (steps + 1) * batch_size, batch_size)
    data = build_data(config.data, batch_size, 0, splits=splits)
    keras.utils.set_random_seed(0)
    policy = resolve_precision(config.train.precision, accelerator)
    with precision(policy):
        model = build_adversarial_model(
            config, build_network(config, data), data.num_train)
        model.compile(optimizer=make_optimizer(config.train, steps + 1),
                      jit_compile=resolve_jit_compile(
                          config.train.jit_compile, accelerator, 1))
    clock = BatchClock()
    model.fit(data.train, epochs=1, verbose=0, shuffle=False,
              callbacks=[clock])
    seconds = clock.ends[-1] - clock.ends[0]
    return {"preset": name, "method": method_label(config),
            "model": config.model.name
            + "".join(f" {k}={v}" for k, v in sorted(
                config.model.options.items()) if k in ("depth", "width")),
            "image_shape": "x".join(map(str, data.image_shape)),
            "precision": policy, "jit": bool(model.jit_compile),
            "rate": steps * batch_size / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    names = [REFERENCE] + [p for p in args.presets.split(",") if p]
    rows = []
    for name in names:
        rows.append(images_per_second(name, args.batch_size, args.steps))
        print(rows[-1], flush=True)
    reference = rows[0]["rate"]
    for r in rows:
        r["settings"] = (f"{r['precision']}, XLA "
                         f"{'on' if r['jit'] else 'off'}")
        r["images_per_second"] = f"{r['rate']:.1f}"
        r["ratio"] = f"{r['rate'] / reference:.3f}"
        r["image_shape"] = str(r["image_shape"])
    columns = [["preset", "preset", "text"], ["method", "method", "text"],
               ["model", "network", "text"], ["image_shape", "images", "text"],
               ["settings", "precision", "text"],
               ["images_per_second", "images/s", "text"],
               ["ratio", f"ratio to {REFERENCE}", "text"]]
    options = (f" --batch_size {args.batch_size} --steps {args.steps}"
               + ("" if args.presets == ",".join(PRESETS)
                  else f" --presets {args.presets}"))
    before = "".join([
        f"Device: {local_accelerator().describe()}. ",
        f"Training images/s of each preset's full train step (its attack "
        f"included) at batch {args.batch_size}, over {args.steps} steps "
        "after an untimed warm-up step, on synthetic images of the "
        "dataset's shape; the ratio is to the Fashion-MNIST main preset "
        "(its Free replays off, so a step is one update everywhere) in the "
        "same invocation. Precision and XLA are what `auto` chooses on "
        "this device. A CPU figure says what a dry run costs here, not "
        "what a GPU trains at: run the same command on the GPU host."])
    store(section("device-throughput", "Training throughput of the presets "
                  "on this host's device",
                  f".venv/bin/python bench/device_throughput.py{options} "
                  "--write", columns, rows, before), args.write)


if __name__ == "__main__":
    main()
