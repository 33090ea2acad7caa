"""Fast robust training at equal wall-clock budgets on Fashion-MNIST.

Madry PGD-10, FGSM-RS, N-FGSM and Free (m = 4), each trained through
`advmask-train` for the same wall-clock budgets, measured in this
invocation: each method's training step and validation are timed first (a
short in-process calibration), the epochs that fill a budget follow from
that (a budget under one epoch trains one epoch over a slice of the
training set), and the table reports each run's measured wall-clock.
Weight averaging (train.ema_momentum) is an extra run at the smallest
budget for the methods --ema_methods names. Every network is evaluated on
the full test set (clean, PGD-20, CW-inf; the gradient-masking checks are
left to the cascade rows); the AutoAttack-style cascade with its sanity
checks runs on --aa_points test points for Madry at the largest budget and
for the best fast method at the budget closest to a third of it.

The same invocation measures the machine's peak (float32 matmul, and the
small CNN's forward pass) and reports each method's training step as model
FLOP/s against it; on CPUs with AVX-512 BF16 or AMX it times
`mixed_bfloat16` against float32 and trains --precision_method both ways.

    .venv/bin/python bench/fast_training.py [--budgets 2,6] \
        [--methods madry,fgsm_rs,nfgsm,free] [--ema_methods madry,fgsm_rs] \
        [--aa_points 500] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from benchlib import (  # noqa: E402
    RUNS,
    eval_report,
    methods,
    pct,
    publish_figure,
)
from budget import (  # noqa: E402
    START_UP_SECONDS,
    VALIDATION,
    calibrate,
    epoch_seconds,
    method_config,
    schedule,
    test_timed,
    train_timed,
)
from records import autoattack_summary, section, store  # noqa: E402

from advmask_tf import runs  # noqa: E402
from advmask_tf.attacks import PGDConfig  # noqa: E402
from advmask_tf.data import build_data  # noqa: E402
from advmask_tf.plotting import (  # noqa: E402
    clamp_percent_axes,
    context_line,
    pyplot,
    save_figure,
)

FAST = ("fgsm_rs", "nfgsm", "free")
LABELS = {"madry": "Madry PGD-10", "fgsm_rs": "FGSM-RS", "nfgsm": "N-FGSM",
          "free": "Free (m=4)"}
EMA_MOMENTUM = 0.99
# Forward-pass equivalents per training image (a forward pass is 1, a
# backward pass to the weights and the input 2, to the input only 1):
# the inference-mode clean pass that logs accuracy, the attack, the update.
FORWARDS = {"standard": 3, "madry": 1 + 10 * 2 + 3, "fgsm_rs": 1 + 2 + 3,
            "nfgsm": 1 + 2 + 3, "free": 1 + 4 * 3}
# -- the machine's peak ------------------------------------------------------

def timed(fn, repeats: int) -> float:
    fn()  # trace and warm up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def matmul_flops(n: int = 2048) -> float:
    a = tf.random.uniform((n, n))
    b = tf.random.uniform((n, n))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    return 2 * n ** 3 / timed(lambda: product().numpy(), 10)


def forward_flops_per_image(network) -> float:
    """The profiler's float-operation count of one inference forward pass."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    x = tf.zeros((64,) + tuple(network.input_shape[1:]))
    graph = tf.function(lambda v: network(v, training=False)
                        ).get_concrete_function(x).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return model_analyzer.profile(graph, options=options
                                  ).total_float_ops / 64


def forward_flops_rate(network, flops_per_image: float) -> float:
    x = tf.random.uniform((512,) + tuple(network.input_shape[1:]))
    forward = tf.function(lambda: tf.reduce_sum(network(x, training=False)))
    return 512 * flops_per_image / timed(lambda: forward().numpy(), 10)


def precision_comparison(method: str, data) -> dict | None:
    """bfloat16 against float32 on a CPU that has it: training speed of
    Madry and `method`, and the accuracy of `method` after one epoch over
    10,000 images, on 1,000 test images (clean, PGD-20)."""
    flags = open("/proc/cpuinfo").read()
    if "avx512_bf16" not in flags and "amx_bf16" not in flags:
        return None
    precisions = ("float32", "mixed_bfloat16")
    # Alternating rounds, so that the machine's drift hits both alike.
    rounds = {(p, m): [] for p in precisions for m in ("madry", method)}
    for _ in range(3):
        for (precision, name), values in rounds.items():
            values.append(calibrate(name, data, precision=precision)[
                "train_ips"])
    result = {}
    for precision in precisions:
        speeds = {m: float(np.median(rounds[precision, m]))
                  for m in ("madry", method)}
        config = method_config(method, "--config.train.epochs=1",
                               f"--config.train.precision={precision}")
        keras.utils.set_random_seed(0)
        with runs.precision(precision):
            network = runs.build_network(config, data)
            model = runs.build_adversarial_model(config, network,
                                                 data.num_train)
        model.compile(optimizer=runs.make_optimizer(config.train, 79))
        model.fit(data.train.take(79), epochs=1, verbose=0)
        x, y = [], []
        for features, labels in data.test.take(2):
            x.append(features["image"])
            y.append(labels)
        x, y = tf.concat(x, 0)[:1000], tf.concat(y, 0)[:1000]
        correct = np.argmax(network(x), -1) == y.numpy()
        fooled = PGDConfig(eps=0.1, steps=20).fooled(network, x, y).numpy()
        result[precision] = {"speeds": speeds,
                             "clean": float(np.mean(correct)),
                             "pgd20": float(np.mean(correct & ~fooled))}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(RUNS, "fast"))
    parser.add_argument("--budgets", default="2,6",
                        help="training budgets in minutes, comma-separated")
    parser.add_argument("--methods", default="madry,fgsm_rs,nfgsm,free")
    parser.add_argument("--ema_methods", default="madry,fgsm_rs",
                        help="methods also run with weight averaging, at "
                        "the smallest budget")
    parser.add_argument("--aa_points", type=int, default=500)
    parser.add_argument("--precision_method", default="fgsm_rs")
    parser.add_argument("--eval_limit", type=int, default=0,
                        help="test points of the PGD-20/CW-inf rows (0: all;"
                        " fewer only to try the bench out)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    chosen = methods(args.methods, parser)
    budgets = sorted(float(b) for b in args.budgets.split(","))
    ema_methods = methods(args.ema_methods, parser)

    data = build_data(method_config("madry").data, 128, 0)
    network = runs.build_network(method_config("madry"), data)
    per_image = forward_flops_per_image(network)
    peak = {"matmul": matmul_flops(),
            "forward": forward_flops_rate(network, per_image)}
    speed = {m: calibrate(m, data) for m in ["standard", *chosen]}
    print(json.dumps({"peak": peak, "speed": speed}, indent=1), flush=True)

    rows = []
    for method in chosen:
        per_epoch = epoch_seconds(method, speed[method], data.num_train)
        arms = [(b, False) for b in budgets]
        if method in ema_methods:
            arms.append((budgets[0], True))
        for budget, ema in arms:
            overrides = schedule(
                60 * budget, per_epoch,
                START_UP_SECONDS + speed[method]["tracing"], data.num_train)
            if ema:
                overrides.append(
                    f"--config.train.ema_momentum={EMA_MOMENTUM}")
            name = f"{method}-{budget:g}min" + ("-ema" if ema else "")
            workdir = os.path.join(args.workdir, name)
            seconds = train_timed(method, workdir, overrides)
            report, eval_seconds = test_timed(workdir, args.eval_limit)
            rows.append({"method": method, "budget": budget, "ema": ema,
                         "workdir": workdir, "seconds": seconds,
                         "eval_seconds": eval_seconds,
                         "schedule": ", ".join(
                             o.split(".")[-1] for o in overrides
                             if "ema_momentum" not in o),
                         "report": report})

    largest = budgets[-1]
    third = min(budgets, key=lambda b: abs(b - largest / 3))
    cascade = [r for r in rows if not r["ema"] and (
        (r["method"] == "madry" and r["budget"] == largest))]
    fast_at_third = [r for r in rows if r["method"] in FAST
                     and r["budget"] == third and not r["ema"]]
    if fast_at_third:
        cascade.append(max(fast_at_third, key=lambda r: r["report"][
            "worst_case"]["accuracy"]))
    for row in cascade:
        row["cascade"] = eval_report(row["workdir"], "best", "autoattack",
                                     args.aa_points, True)
    comparison = precision_comparison(args.precision_method, data)
    data_section = results_section(args, parser, rows, peak, per_image,
                                   speed, comparison, data.num_train)
    figure = plot(rows, os.path.join(args.workdir, "fast_training.png"),
                  rows[0]["report"]["clean"]["total"])
    link = publish_figure(figure, "fast_training.png", args.write)
    store(data_section, args.write,
          f"![robust accuracy against training time]({link})")


COLUMNS = [["method", "method", "text"], ["budget_min", "budget (min)", "text"],
           ["weight_averaging", "weight averaging", "text"],
           ["schedule", "schedule", "text"],
           ["training_seconds", "measured training (min)", "minutes"],
           ["eval_seconds", "test evaluation (min)", "minutes"],
           ["clean", "clean", "percent"], ["pgd20", "PGD-20", "percent"],
           ["cw_inf", "CW-inf", "percent"],
           ["worst_case", "worst of the two", "percent"],
           ["autoattack", "AA-style cascade (points; failed checks)",
            "autoattack"]]


def run_record(r: dict) -> dict:
    """One run at one budget as data."""
    report = r["report"]
    return {"method": LABELS[r["method"]], "preset": r["method"],
            "budget_min": f"{r['budget']:g}",
            "weight_averaging": "EMA 0.99" if r["ema"] else "no",
            "schedule": r["schedule"], "training_seconds": r["seconds"],
            "eval_seconds": r["eval_seconds"],
            "test_points": report["clean"]["total"],
            **{name: report[name]["accuracy"]
               for name in ("clean", "pgd20", "cw_inf", "worst_case")},
            "autoattack": autoattack_summary(r.get("cascade"))}


def results_section(args, parser, rows, peak, per_image, speed, comparison,
                    num_train) -> dict:
    speed_lines = [
        "| method | training images/s | forward-pass equivalents per image "
        "| model GFLOP/s | fraction of matmul peak | fraction of the "
        "network's forward peak |", "| --- | --- | --- | --- | --- | --- |"]
    for method, s in speed.items():
        rate = s["train_ips"] * FORWARDS[method] * per_image
        speed_lines.append(
            f"| {LABELS.get(method, method)} | {s['train_ips']:.0f} | "
            f"{FORWARDS[method]} | {rate / 1e9:.1f} | "
            f"{rate / peak['matmul']:.2f} | {rate / peak['forward']:.2f} |")
    before = "".join([
        f"Small CNN (width 16), Fashion-MNIST, eps 0.1, {num_train:,} "
        f"training images ({VALIDATION:,} held out for validation and the "
        "best-network selection by PGD-10 robust accuracy), Adam 1e-3 with "
        "cosine decay over the run, batch 128. Madry: PGD-10, step 0.025. "
        "FGSM-RS: uniform start in the eps-ball, one step of 1.25 eps, "
        "projected. N-FGSM: uniform noise from the 2 eps ball, one step of "
        "eps, no projection. Free: each batch replayed 4 times, step eps. "
        "The fast methods run the catastrophic-overfitting guard (PGD-10 on "
        "1,000 validation images each epoch). Each run's epochs come from "
        "this invocation's calibration of its step and validation speed; "
        "\"measured training\" is the wall-clock of its `advmask-train` "
        "call (start-up, data, training, validation, export). Test: the "
        "full 10,000 images, PGD-20 and CW-inf (step eps/4, uniform start; "
        "a point is robust only if right clean and at every iterate); the "
        "cascade column is the standard AutoAttack (APGD-CE -> APGD-T -> "
        "FAB-T -> Square; 100 iterations, 9 targets, 5,000 queries) on the "
        "first test images with the gradient-masking checks."])
    text = [
        f"Speed: float32 matmul peak {peak['matmul'] / 1e9:.1f} GFLOP/s "
        "(2048 x 2048); the small CNN's inference forward pass on 512 "
        f"images {peak['forward'] / 1e9:.1f} GFLOP/s ({per_image / 1e6:.2f} "
        "MFLOP per image, TensorFlow's profiler). Model FLOP/s counts a "
        "forward pass as 1 and a backward pass as 2 (to weights and input) "
        "or 1 (to the input only), per the column.",
        "",
        *speed_lines,
    ]
    if comparison:
        text += ["", "bfloat16 on this CPU (`train.precision=mixed_bfloat16`"
                 " against float32): training images/s, and "
                 f"{LABELS[args.precision_method]} trained one epoch over "
                 "10,112 images from the same seed, on the first 1,000 test "
                 "images.", "",
                 "| precision | Madry images/s | "
                 f"{LABELS[args.precision_method]} images/s | clean | "
                 "PGD-20 |", "| --- | --- | --- | --- | --- |"]
        for precision, c in comparison.items():
            text.append(
                f"| {precision} | {c['speeds']['madry']:.0f} | "
                f"{c['speeds'][args.precision_method]:.0f} | "
                f"{pct(c['clean'], 1)} | {pct(c['pgd20'], 1)} |")
    else:
        text += ["", "This CPU has neither AVX-512 BF16 nor AMX: no "
                 "bfloat16 comparison."]
    command = (".venv/bin/python bench/fast_training.py --budgets "
               f"{args.budgets} --methods {args.methods} --ema_methods "
               f"{args.ema_methods} --aa_points {args.aa_points} --write")
    return section("fast-training", "Fast robust training at equal "
                   "wall-clock budgets", command, COLUMNS,
                   [run_record(r) for r in rows], before, "\n".join(text))


def plot(rows, path: str, points: int) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in dict.fromkeys(r["method"] for r in rows):
        plain = sorted((r for r in rows if r["method"] == method
                        and not r["ema"]), key=lambda r: r["seconds"])
        line, = ax.plot([r["seconds"] / 60 for r in plain],
                        [100 * r["report"]["worst_case"]["accuracy"]
                         for r in plain], marker="o", label=LABELS[method])
        averaged = [r for r in rows if r["method"] == method and r["ema"]]
        if averaged:
            ax.plot([r["seconds"] / 60 for r in averaged],
                    [100 * r["report"]["worst_case"]["accuracy"]
                     for r in averaged], marker="s", linestyle="none",
                    markerfacecolor="none", color=line.get_color(),
                    label=f"{LABELS[method]} + EMA")
    ax.set_xlabel("measured training wall-clock (min, 2 CPU cores)")
    ax.set_ylabel("worst of PGD-20 and CW-inf (%)")
    ax.set_title("Robust accuracy against training time\n" + context_line(
        "Fashion-MNIST", 0.1, points, "best"), fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    clamp_percent_axes(ax)
    ax.set_xlim(0, 1.1 * max(r["seconds"] / 60 for r in rows))
    fig.tight_layout()
    save_figure(fig, path)
    return path


if __name__ == "__main__":
    main()
