"""KerasTuner search: objectives, the Pareto front, the space, and a 3-trial
search that survives being killed."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras_tuner
import numpy as np
import pytest
from conftest import REPO, tiny

from advmask_tf import runs
from advmask_tf.configs_lib import base_config
from advmask_tf.tuning import AdversarialHyperModel, pareto_front, score
from advmask_tf.tuning.search import make_tuner


def test_pareto_front_of_random_trials_is_exactly_the_non_dominated_set():
    rng = np.random.default_rng(0)
    points = {f"t{i}": (float(c), float(r))
              for i, (c, r) in enumerate(rng.uniform(0, 1, (60, 2)))}
    points["tie"] = points["t0"]  # equal points do not dominate each other
    front = set(pareto_front(points))

    def dominates(a, b):
        return a[0] >= b[0] and a[1] >= b[1] and a != b

    for name, point in points.items():
        beaten = any(dominates(other, point) for other in points.values())
        assert (name in front) == (not beaten), name
    ordered = pareto_front(points)
    cleans = [points[n][0] for n in ordered]
    assert cleans == sorted(cleans, reverse=True)


@pytest.mark.parametrize("name,expected", [
    ("robust", 0.5), ("clean", 0.9), ("weighted", 0.7),
    ("clean_with_robust_floor", 0.9)])
def test_objectives(name, expected):
    assert score(name, clean=0.9, robust=0.5, robust_weight=0.5,
                 robust_floor=0.4) == pytest.approx(expected)


def test_a_trial_below_the_floor_ranks_below_every_feasible_one():
    below = score("clean_with_robust_floor", 0.99, 0.39, robust_floor=0.4)
    feasible = score("clean_with_robust_floor", 0.10, 0.40, robust_floor=0.4)
    nearer = score("clean_with_robust_floor", 0.10, 0.39, robust_floor=0.4)
    farther = score("clean_with_robust_floor", 0.99, 0.20, robust_floor=0.4)
    assert below < feasible and farther < nearer


def test_method_specific_values_only_where_they_apply():
    base = base_config()
    base.tune.methods = ("madry", "trades")
    base.tune.beta = (1.0, 10.0)
    base.tune.learning_rate = (1e-4, 1e-2)
    base.tune.eps = (0.05, 0.1)
    hypermodel = AdversarialHyperModel(base)
    for method in ("madry", "trades"):
        hp = keras_tuner.HyperParameters()
        hp.values["method"] = method
        config = hypermodel.trial_config(hp)
        assert config.method.name == method
        assert ("beta" in hp.values) == (method == "trades")
        # Each method's own random start (what the trial's run stores).
        assert runs.resolved(config)["attack"]["random_start"] == (
            "normal" if method == "trades" else "uniform")
        assert 1e-4 <= config.train.learning_rate <= 1e-2
        # The attack step keeps its ratio to eps; evaluation stays at 0.1.
        assert config.attack.step_size == pytest.approx(
            config.attack.eps / 4)
        assert config.eval.eps == 0.1


def test_the_oracle_knows_and_samples_the_conditional_values(tmp_path):
    config = base_config()
    config.data.train_limit, config.data.validation_size = 1200, 200
    config.tune.methods = ("madry", "trades")
    config.tune.beta = (1.0, 10.0)
    config.tune.max_trials = 40
    tuner = make_tuner(config, str(tmp_path))
    assert {hp.name for hp in tuner.oracle.hyperparameters.space} == {
        "method", "beta"}
    betas = []
    for _ in range(12):
        trial = tuner.oracle.create_trial("probe")
        values = trial.hyperparameters.values
        assert ("beta" in values) == (values["method"] == "trades")
        betas += [values["beta"]] if "beta" in values else []
        tuner.oracle.ongoing_trials.clear()
    assert len(set(betas)) >= 2 and all(1.0 <= b <= 10.0 for b in betas)


@pytest.mark.parametrize("field,value,message", [
    ("methods", ("madry", "fgsm"), "choice {'methods': 'fgsm'}.*method.name"),
    ("beta", (5.0, 1.0), r"tune.beta must be \(\) or \(low, high\)"),
    ("objective", "fastest", "tune.objective must be one of .*received "
     "'fastest'"),
    # A range no part of the search takes is refused, not skipped: the
    # method stays madry, which has no beta (TRADES and MART have).
    ("beta", (1.0, 10.0), r"tune.beta searches method.beta, which "
     r"\['madry'\] do not take \(it belongs to \['hat', 'lbgat', 'mart', "
     r"'trades'\]\)"),
])
def test_bad_search_settings_fail_clearly(tmp_path, field, value, message):
    config = base_config()
    config.tune[field] = value
    with pytest.raises(ValueError, match=message):
        make_tuner(config, str(tmp_path))


def test_searching_eps_from_a_zero_radius_is_refused(tmp_path):
    config = base_config()
    config.tune.eps = (0.05, 0.1)
    config.attack.eps = 0.0
    with pytest.raises(ValueError, match=r"tune.eps .* attack.eps=0 leaves "
                       r"undefined; set attack.eps"):
        make_tuner(config, str(tmp_path))


def test_a_search_without_a_validation_split_fails_before_training(tmp_path):
    config = base_config()
    config.data.validation_size = 0
    with pytest.raises(ValueError, match="data.validation_size must be > 0"):
        make_tuner(config, str(tmp_path))
    assert not os.listdir(tmp_path)


def run_tune(workdir, *extra):
    return [sys.executable, os.path.join(REPO, "bin", "advmask-tune"),
            f"--config={os.path.join(REPO, 'configs', 'tiny.py')}",
            f"--workdir={workdir}", "--config.train.epochs=1",
            "--config.tune.max_trials=3",
            "--config.tune.methods=('madry','trades')",
            "--config.tune.learning_rate=(0.001,0.003)",
            "--config.tune.objective=weighted", *extra]


@pytest.mark.slow
def test_three_trial_search_resumes_after_being_killed(tmp_path):
    workdir = tmp_path / "tune"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(run_tune(workdir), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    second = workdir / "search" / "trial_1"
    deadline = time.time() + 300
    while not second.exists() and time.time() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert second.exists(), "the search never reached its second trial"
    assert not (workdir / "trials.json").exists()

    finished = subprocess.run(run_tune(workdir), capture_output=True,
                              text=True, timeout=600, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    with open(workdir / "trials.json") as f:
        result = json.load(f)
    assert sorted(r["trial"] for r in result["trials"]) == ["0", "1", "2"]
    for row in result["trials"]:
        assert 0.0 <= row["robust"] <= row["clean"] <= 1.0
        assert row["score"] == pytest.approx(
            0.5 * row["clean"] + 0.5 * row["robust"])
        assert row["hyperparameters"]["method"] in ("madry", "trades")
    assert result["best"]["score"] == max(r["score"]
                                          for r in result["trials"])
    assert result["front"]
    # The first trial finished before the kill and was not trained again.
    with open(workdir / "search" / "trial_0" / "run" / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 1
    with open(workdir / "search" / "trial_0" / "run" /
              "validation.json") as f:
        assert json.load(f)["report"]["clean"]["total"] == 200
    assert "| trial | directory | on the front |" in finished.stdout
    # Progress as KerasTuner counts trials, with the search's ETA.
    assert "Trial 3 of 3 (search/trial_2); elapsed" in finished.stdout
    assert "ETA" in finished.stdout
    # Trial ids count from 0, KerasTuner's console from 1: the report
    # shows the console's number and the trial's directory.
    assert "| 1 | search/trial_0 |" in finished.stdout
    assert os.path.getsize(workdir / "pareto.png") > 1000

    # KerasTuner's own API on the finished search: the best trial's network.
    config = tiny({"train.epochs": 1, "tune.max_trials": 3,
                   "tune.methods": ("madry", "trades"),
                   "tune.learning_rate": (0.001, 0.003),
                   "tune.objective": "weighted"})
    [best] = make_tuner(config, str(workdir)).get_best_models(1)
    assert best.output_shape == (None, 10)


def test_failed_trials_are_reported_and_make_the_exit_non_zero(tmp_path):
    """Every trial diverges (a learning rate of 1e10): the search reports
    each failed trial with its error and exits 1, where it exited 0 with an
    empty table."""
    workdir = tmp_path / "tune"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [arg for arg in run_tune(
        workdir, "--config.data.train_limit=400",
        "--config.data.validation_size=100",
        "--config.tune.learning_rate=(1e10,1e11)")
        if "(0.001,0.003)" not in arg and "max_trials=3" not in arg]
    command.append("--config.tune.max_trials=2")
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "advmask-tune: 2 trial(s) failed" in result.stderr
    assert "training diverged" in result.stderr
    with open(workdir / "trials.json") as f:
        report = json.load(f)
    assert report["trials"] == []
    assert [f["number"] for f in report["failed"]] == [1, 2]
    assert all("TrainingDiverged" in f["error"] for f in report["failed"])
    assert "## Failed trials" in (workdir / "trials.md").read_text()
