"""profile_network on real and conditioned networks, and the cached runs."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.analysis.profile import AnalysisSettings, profile_network
from advmask_tf.analysis.report import summary_markdown, write_plots
from advmask_tf.models import build_model

FAST = AnalysisSettings(eps=0.1, max_eps=0.2, bisections=4, attack_steps=5,
                        smoothness_steps=3, power_iterations=20)


def batches(fashion_mnist, count, batch=50):
    x = fashion_mnist.x_test[:count].astype(np.float32) / 255.0
    return tf.data.Dataset.from_tensor_slices(
        (x, fashion_mnist.y_test[:count].astype(np.int64))).batch(batch)


def test_profile_of_a_trained_network_is_consistent(trained_standard,
                                                    fashion_mnist):
    summary, points = profile_network(trained_standard,
                                      batches(fashion_mnist, 100), FAST)
    assert summary["points"] == 100
    correct = points["correct"]
    assert summary["accuracy"] == pytest.approx(correct.mean())
    assert summary["accuracy"] > 0.6  # a network that learnt something
    # Margins are positive exactly on the correctly classified points, and
    # a point is at distance 0 exactly when it is misclassified clean.
    np.testing.assert_array_equal(points["margin"] > 0, correct)
    np.testing.assert_array_equal(points["distance"] == 0, ~correct)
    assert summary["boundary"]["fraction_within"][0] == pytest.approx(
        1 - summary["accuracy"])
    assert np.all(np.diff(summary["boundary"]["fraction_within"]) >= 0)
    assert summary["normalized_margin"]["quantiles"]["0.5"] == pytest.approx(
        summary["margin"]["quantiles"]["0.5"] / summary["spectra"]["product"])
    # Confidence is higher on the points the network gets right.
    assert (summary["confidence"]["correct_mean"]
            > summary["confidence"]["wrong_mean"])
    # A standard network is far less smooth against PGD than at random.
    logits = summary["smoothness"]["logits"]
    assert logits["adversarial"] > 2 * logits["random"]
    assert points["random_ratio"].shape == (7, 100)


def test_a_conditioned_network_is_profiled_at_the_strength_it_is_told():
    net = build_model("small_cnn", (8, 8, 1), 3, width=2, dense_units=4,
                      norm="masking", norm_options={"strengths": (0.0, 0.1)})
    for layer in net.layers:
        if hasattr(layer, "scale_kernel"):
            layer.scale_kernel.assign(np.random.default_rng(0).uniform(
                0, 2, layer.scale_kernel.shape).astype(np.float32))
    data = tf.data.Dataset.from_tensor_slices(
        (tf.random.stateless_uniform((8, 8, 8, 1), (1, 2)),
         tf.zeros(8, tf.int64))).batch(4)
    clean, _ = profile_network(net, data, FAST, condition=0.0)
    told, _ = profile_network(net, data, FAST, condition=0.1)
    assert clean["spectra"]["product"] != pytest.approx(
        told["spectra"]["product"], rel=1e-3)


def test_reports_of_two_profiles(tmp_path, trained_standard, fashion_mnist):
    data = batches(fashion_mnist, 40, batch=20)
    summary, points = profile_network(trained_standard, data, FAST)
    # A cached summary comes back from JSON with its keys sorted; the
    # tables keep the network's layer order all the same.
    cached = json.loads(json.dumps(summary, sort_keys=True))
    results = {"a": summary, "b": cached}
    markdown = summary_markdown(results)
    assert "| a |" in markdown and "| b |" in markdown
    rows = [line.split(" |")[0][2:] for line in markdown.splitlines()
            if line.startswith("| block") or line.startswith("| input")
            or line.startswith("| fc") or line.startswith("| logits")]
    assert rows[0] == "input_normalization" and rows[6] == "logits"
    paths = write_plots(results, {"a": points, "b": points}, str(tmp_path))
    assert all(os.path.getsize(path) > 1000 for path in paths)


@pytest.mark.parametrize("kwargs,message", [
    ({"eps": 0.0}, "eps must be > 0; received 0.0"),
    ({"bisections": -1}, "bisections must be an integer >= 0; received -1"),
    ({"attack_steps": 0}, "attack_steps must be an integer >= 1"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AnalysisSettings(**kwargs)
