"""advmask-eval --model: any saved Keras classifier evaluated in one
command, its RobustBench-style summary, and AutoAttack's rand version for
randomised networks."""

import glob
import json
import os
import types

import keras
import numpy as np
import pytest
from conftest import indexed
from test_cli import run_cli
from test_strong_attacks import RandomisedInput

from advmask_tf.attacks import AttackBudgets, build_attacks
from advmask_tf.evaluation.randomised import for_randomised_networks
from advmask_tf.models import build_model
from advmask_tf.runs.evaluate_model import check_model_fits, model_config


@pytest.mark.slow  # the API runs in advmask_tf.runs.evaluate_model's doctest
def test_any_saved_classifier_is_evaluated_by_one_command(
        tmp_path, trained_standard):
    path = str(tmp_path / "classifier.keras")
    trained_standard.save(path)
    out = str(tmp_path / "reports")
    result = run_cli(
        "advmask-eval", f"--model={path}", f"--out={out}", "--limit=60",
        "--attacks=pgd,autoattack", "--nochecks", "--config.eval.eps=0.01",
        "--config.eval.apgd_steps=5", "--config.eval.apgd_targets=2",
        "--config.eval.fab_steps=5", "--config.eval.square_queries=20")
    assert result.returncode == 0, result.stderr[-3000:]
    [summary_path] = glob.glob(os.path.join(out, "*.robustbench.json"))
    with open(summary_path) as f:
        summary = json.load(f)
    with open(summary_path.replace(".robustbench.json", ".json")) as f:
        report = json.load(f)
    assert summary["points"] == report["clean"]["total"] == 60
    assert summary["threat_model"] == "Linf" and summary["eps"] == 0.01
    assert summary["clean_acc"] == f"{100 * report['clean']['accuracy']:.2f}"
    assert float(summary["worst_case_acc"]) == min(
        float(summary["autoattack_acc"]), float(summary["robust_acc"]["pgd20"]))
    # Reduced budgets: a custom cascade, never labelled standard.
    settings = summary["attacks"]["autoattack"]
    assert settings["version"] == "custom"
    assert settings["follows_version"] == "standard"
    assert settings["budgets_changed"]["apgd_steps"] == {"used": 5,
                                                         "official": 100}
    assert "not the standard AutoAttack" in result.stdout
    stages = summary["autoattack_stages"]
    assert list(stages) == ["apgd_ce", "apgd_t", "fab_t", "square"]
    assert stages["apgd_ce"]["attacked"] == report["clean"]["correct"]
    assert "| autoattack | fab_t |" in result.stdout


def test_a_model_that_does_not_fit_the_test_set_is_refused(tmp_path):
    data = types.SimpleNamespace(image_shape=(28, 28, 1), num_classes=10)
    colour = build_model("small_cnn", (32, 32, 3), 10)
    with pytest.raises(ValueError, match=r"--model: m.keras takes inputs "
                       r"of shape \(32, 32, 3\)"):
        check_model_fits(colour, "m.keras", data, None)
    conditioned = build_model("small_cnn", (28, 28, 1), 10,
                              norm="split_batchnorm")
    with pytest.raises(ValueError, match="--condition_eps: c.keras is "
                       "conditioned"):
        check_model_fits(conditioned, "c.keras", data, None)
    check_model_fits(conditioned, "c.keras", data, 0.1)
    plain = build_model("small_cnn", (28, 28, 1), 10)
    with pytest.raises(ValueError, match="not a conditioned network"):
        check_model_fits(plain, "p.keras", data, 0.1)
    with pytest.raises(ValueError, match="train.epochs=3"):
        model_config({"train.epochs": 3})


def test_the_command_line_wants_a_workdir_or_a_model(tmp_path):
    result = run_cli("advmask-eval", f"--model={tmp_path}/m.keras",
                     f"--workdir={tmp_path}/run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "advmask-eval: error: give either --workdir")
    assert "Traceback" not in result.stderr


def test_a_randomised_network_gets_autoattacks_rand_version(
        trained_standard, fashion_mnist):
    x = fashion_mnist.x_test[:40].astype(np.float32) / 255.0
    data = indexed(x, fashion_mnist.y_test[:40], batch=40)
    attacks = build_attacks("pgd,autoattack", 0.01, AttackBudgets(
        apgd_steps=5, apgd_targets=2, fab_steps=5, square_queries=20))
    same, note = for_randomised_networks(attacks, trained_standard, data)
    assert same is attacks and note is None
    randomised = keras.Sequential([keras.Input((28, 28, 1)),
                                   RandomisedInput(), trained_standard])
    chosen, note = for_randomised_networks(attacks, randomised, data)
    assert chosen["autoattack"].version == "rand" and "EOT" in note
    assert attacks["autoattack"].version == "standard"  # not changed
    stages = chosen["autoattack"].stages()
    assert list(stages) == ["apgd_ce", "apgd_dlr"]
    assert stages["apgd_ce"].eot == 20 and stages["apgd_dlr"].eot == 20
    # Each gradient is then the mean over 20 draws of the network.
    fooled = stages["apgd_ce"].fooled(randomised, x[:4],
                                      fashion_mnist.y_test[:4])
    assert fooled.shape == (4,)
