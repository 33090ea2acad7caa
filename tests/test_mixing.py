"""The mixed classifier: its map, its one-file Keras model, the choice on
validation data, the adaptive evaluation, and the run that makes it."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY
from test_cli import run_cli

from advmask_tf.evaluation import evaluate
from advmask_tf.evaluation.mixing_search import (
    confidence_gate,
    select_mixing,
)
from advmask_tf.models import build_model
from advmask_tf.models.mixing import (
    MixingMap,
    mapped_logits,
    mixed_classifier,
    mixed_log_probabilities,
)
from advmask_tf.runs.mixing import adaptive_attacks


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def gelu(z):
    return 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))


def test_the_map_and_the_mixture_are_mixednuts_formulas():
    rng = np.random.default_rng(0)
    acc, rob = (rng.normal(size=(5, 10)) * 3 for _ in range(2))
    mixing = MixingMap(scale=5.0, bias=-1.1, power=4.0, alpha=0.95)
    z = (rob - rob.mean(-1, keepdims=True)) / np.sqrt(
        rob.var(-1, ddof=1, keepdims=True) + 1e-8)
    z = gelu(z - 1.1)
    expected_map = 5.0 * np.sign(z) * np.abs(z) ** 4.0
    np.testing.assert_allclose(mapped_logits(rob, mixing), expected_map,
                               rtol=1e-4, atol=1e-4)
    expected = np.log(0.05 * np.exp(log_softmax(acc))
                      + 0.95 * np.exp(log_softmax(expected_map)))
    np.testing.assert_allclose(
        mixed_log_probabilities(acc, rob, mixing), expected, rtol=1e-4,
        atol=1e-4)
    only_robust = MixingMap(scale=5.0, bias=-1.1, power=4.0, alpha=1.0)
    np.testing.assert_allclose(
        mixed_log_probabilities(acc, rob, only_robust),
        log_softmax(expected_map), atol=1e-4)
    with pytest.raises(ValueError, match="alpha"):
        MixingMap(alpha=1.5)


def test_the_mixed_model_loads_with_keras_alone(tmp_path):
    """One .keras file, image -> logits, that a process importing only
    Keras loads and runs."""
    keras.utils.set_random_seed(0)
    accurate = build_model("small_cnn", (28, 28, 1), 10, width=4,
                           dense_units=8)
    robust = build_model("small_cnn", (28, 28, 1), 10, width=4,
                         dense_units=8)
    mixed = mixed_classifier(accurate, robust, MixingMap(
        scale=2.0, bias=-0.5, power=2.0, alpha=0.9))
    path = str(tmp_path / "mixed.keras")
    mixed.save(path)
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    script = ("import sys, numpy as np, keras; "
              "m = keras.models.load_model(sys.argv[1]); "
              "np.save(sys.argv[2], np.asarray(m(np.load(sys.argv[3]))))")
    subprocess.run([sys.executable, "-c", script, path,
                    str(tmp_path / "out.npy"), str(tmp_path / "x.npy")],
                   check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), mixed(x),
                               atol=1e-5)
    probabilities = np.exp(np.load(tmp_path / "out.npy")).sum(-1)
    np.testing.assert_allclose(probabilities, 1.0, atol=1e-5)


def test_the_choice_keeps_the_robust_floor_and_gains_clean_accuracy():
    """Accurate classifier right everywhere; robust one right on 80%,
    confidently where it is robust. The choice must gain clean accuracy
    and keep the estimated robust accuracy within the allowed drop."""
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 10, n)
    accurate = np.eye(10)[y] * 6 + rng.normal(size=(n, 10))
    robust_right = rng.random(n) < 0.8
    wrong = (y + 1) % 10
    robust = np.where(robust_right[:, None], np.eye(10)[y] * 5,
                      np.eye(10)[wrong] * 1.0) + rng.normal(
                          size=(n, 10)) * 0.3
    attacked = robust - np.eye(10)[y] * 2.0  # still right, smaller margin
    logits = {"labels": y, "accurate": accurate, "robust": robust,
              "pgd": attacked, "attacks": ["pgd"]}
    chosen, rows = select_mixing(logits, robust_drop=0.01)
    best = next(row for row in rows if row["chosen"])
    assert best["robust_alone"] == pytest.approx(robust_right.mean())
    assert best["robust_estimate"] >= best["robust_alone"] - 0.01
    assert best["clean"] > robust_right.mean() + 0.1
    assert chosen.alpha == best["alpha"]
    # A floor nothing but the robust classifier's own answers meets.
    _, rows = select_mixing(logits, robust_drop=0.0)
    best = next(row for row in rows if row["chosen"])
    assert best["robust_estimate"] >= best["robust_alone"]


def _gate_problem(separated: bool):
    """Robust classifier right on 80%; where wrong, unsure. Separated: its
    attacked margins on robust points stay large; else they are as small as
    its gaps where it is wrong."""
    rng = np.random.default_rng(1)
    n = 2000
    y = rng.integers(0, 10, n)
    accurate = np.eye(10)[y] * 6.0
    robust_right = rng.random(n) < 0.8
    wrong = (y + 1) % 10
    robust = np.where(robust_right[:, None], np.eye(10)[y] * 6,
                      np.eye(10)[wrong] * rng.uniform(0, 1.5, (n, 1)))
    attacked = robust - np.eye(10)[y] * (
        2.0 if separated else rng.uniform(4.5, 6.0, (n, 1)))
    return {"labels": y, "accurate": accurate, "robust": robust,
            "pgd": attacked, "attacks": ["pgd"]}, robust_right


@pytest.mark.parametrize("separated", [True, False])
def test_the_confidence_gate_measures_what_mixing_can_trade(separated):
    logits, robust_right = _gate_problem(separated)
    gate = confidence_gate(logits)
    clean, robust = np.array(gate["clean"]), np.array(gate["robust"])
    # Threshold 0 is the robust classifier alone; raising it only loses
    # robust points.
    assert clean[0] == pytest.approx(robust_right.mean())
    assert robust[0] == pytest.approx(robust_right.mean())
    assert np.all(np.diff(robust) <= 1e-12)
    assert len(gate["gainable"]) == (~robust_right).sum()
    free_gain = clean[robust >= robust[0] - 1e-9].max() - clean[0]
    if separated:
        # Every gainable point gained at no robust cost.
        assert gate["separation"] == 1.0
        assert free_gain == pytest.approx(1 - robust_right.mean())
    else:
        assert gate["separation"] < 0.8
        assert free_gain < 0.5 * (1 - robust_right.mean())


def test_adaptive_attacks_catch_a_mixture_that_hides_behind_its_map(
        trained_standard, fashion_slice):
    """A standard network through a saturating map (a huge scale: the
    mapped softmax is one-hot in float32, so the CE's gradient is 0)
    resists PGD-CE on the model itself; the attacks crafted on the base
    classifier and on the relaxed surrogate do not, so the worst case
    shows the truth. (With any weight on the accurate classifier, PGD's
    sign step follows that part's gradient and needs no help.)"""
    x, y = fashion_slice(100, split="test")
    mixing = MixingMap(scale=1000.0, alpha=1.0)
    mixed = mixed_classifier(trained_standard, trained_standard, mixing)
    surrogate = mixed_classifier(trained_standard, trained_standard, mixing,
                                 surrogate=True, name="surrogate")
    attacks = adaptive_attacks({"robust": trained_standard,
                                "surrogate": surrogate}, 0.1, None)
    attacks.update({"pgd": attacks["pgd20@robust"].base})
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(50)
    report = evaluate(mixed, data, attacks)
    assert report["clean"]["accuracy"] > 0.7
    assert report["pgd"]["accuracy"] > 0.5  # fooled by the saturation
    assert report["pgd20@robust"]["accuracy"] < 0.1
    assert report["pgd20@surrogate"]["accuracy"] < 0.1
    assert report["worst_case"]["accuracy"] < 0.1


def test_a_mixing_run_trains_both_classifiers_and_saves_the_mixture(
        tmp_path):
    workdir = tmp_path / "mix"
    args = [f"--config={TINY}", f"--workdir={workdir}",
            "--config.mix.enabled=True", "--config.mix.accurate_epochs=1",
            "--config.mix.validation_points=100", "--config.train.epochs=1",
            "--config.eval.checks=False", "--config.data.test_limit=100"]
    result = run_cli("advmask-train", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    # The map's choice attacks the validation points: it shows progress.
    assert any(line.startswith("mixing validation attacks: 1/1 batch, ")
               and ", done" in line for line in result.stdout.splitlines())
    metrics = json.loads((workdir / "metrics.json").read_text())
    for name in ("pgd3@robust", "pgd3@accurate", "pgd3@surrogate",
                 "cw_inf@surrogate"):
        assert metrics[name]["accuracy"] >= metrics["worst_case"]["accuracy"]
    chosen = json.loads((workdir / "mixing.json").read_text())["chosen"]
    assert 0 <= chosen["alpha"] <= 1
    for sub in ("robust", "accurate"):
        assert (workdir / sub / "metrics.json").exists()
    assert json.loads((workdir / "accurate" / "config.json").read_text())[
        "method"]["name"] == "standard"
    mixed = keras.models.load_model(workdir / "model.keras")
    assert not isinstance(mixed.input, dict)
    again = run_cli("advmask-train", *args)
    assert again.returncode == 0
    assert "finished earlier" in again.stdout
    assert "Epoch" not in again.stdout
