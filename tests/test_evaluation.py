import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.attacks import PGDConfig
from advmask_tf.evaluation import (
    default_attacks,
    evaluate,
    report_to_json,
    results_table,
)
from advmask_tf.evaluation.ensemble import compile_attack, run_on


def linear_classifier():
    """Two classes, logit gap 10*(mean pixel - 0.5): margin known exactly."""
    net = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(2)])
    net.layers[-1].set_weights([np.stack([np.zeros(4), np.full(4, 2.5)], 1),
                                np.array([0.0, -5.0])])
    return net


def test_counts_match_the_closed_form(tmp_path):
    # Class-0 points at mean pixel m are robust at eps iff m + eps < 0.5.
    means = np.array([0.1, 0.3, 0.42, 0.48, 0.7], np.float32)
    x = np.repeat(means, 4).reshape(5, 2, 2, 1)
    y = np.array([0, 0, 0, 0, 0])
    data = tf.data.Dataset.from_tensor_slices(
        ({"image": x, "index": np.arange(5)}, y)).batch(2)
    report = evaluate(linear_classifier(), data, default_attacks(0.1, 10, 10))
    assert report["clean"]["correct"] == 4           # 0.7 is class 1
    assert report["pgd10"]["correct"] == 2           # 0.1 and 0.3 survive
    assert report["cw_inf"]["correct"] == 2
    assert report["worst_case"]["correct"] == 2
    assert report["pgd10"]["total"] == 5
    path = tmp_path / "report.json"
    report_to_json(report, str(path))
    assert json.loads(path.read_text())["pgd10"]["accuracy"] == 0.4


def test_worst_case_takes_the_strongest_attack_per_point():
    # Mean pixels 0.2, 0.45, 0.05 (boundary at 0.5). Attack "a" (eps 0.35)
    # breaks points 0 and 1, attack "b" (eps 0.1) only point 1.
    x = np.array([0.2, 0.45, 0.05], np.float32).repeat(4).reshape(3, 2, 2, 1)
    data = tf.data.Dataset.from_tensor_slices((x, np.zeros(3))).batch(3)
    report = evaluate(linear_classifier(), data, {
        "a": PGDConfig(eps=0.35, steps=10, random_start="none"),
        "b": PGDConfig(eps=0.1, steps=10, random_start="none")})
    assert report["a"]["correct"] == 1
    assert report["b"]["correct"] == 2
    assert report["worst_case"]["correct"] == 1


def test_evaluation_is_reproducible():
    rng = np.random.RandomState(0)
    net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(3)])
    x = rng.rand(32, 4, 4, 1).astype(np.float32)
    y = net.predict(x, verbose=0).argmax(1)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    first = evaluate(net, data, {"pgd": PGDConfig(eps=0.05, steps=2)})
    second = evaluate(net, data, {"pgd": PGDConfig(eps=0.05, steps=2)})
    assert first["pgd"] == second["pgd"]


def test_empty_dataset_is_an_error():
    data = tf.data.Dataset.from_tensor_slices(
        (np.zeros((0, 2, 2, 1), np.float32), np.zeros(0))).batch(2)
    with pytest.raises(ValueError, match="empty dataset"):
        evaluate(linear_classifier(), data)


def test_results_table_lists_every_run():
    row = {"clean": {"accuracy": 0.5, "correct": 1, "total": 2}}
    table = results_table({"a": row, "b": dict(
        row, pgd20={"accuracy": 0.0, "correct": 0, "total": 2})})
    lines = table.splitlines()
    assert lines[0] == "| run | clean | pgd20 |"
    assert lines[3] == "| b | 50.00% (1/2) | 0.00% (0/2) |"
    assert lines[2].endswith("|  |")


def test_an_attack_is_traced_once_whatever_the_points_left():
    net = linear_classifier()
    fooled = compile_attack(PGDConfig(eps=0.1, steps=2), net)
    image = tf.random.uniform((8, 2, 2, 1))
    keys = tf.zeros((8, 2), tf.int64)
    for count in (8, 5, 2, 7):  # the still-robust points vary per batch
        run_on(fooled, image, tf.zeros(8, tf.int32), keys,
               np.arange(8) < count)
    assert fooled.traces == 1
