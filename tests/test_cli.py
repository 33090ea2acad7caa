"""The command line and the library calls behind each tool
(`runs.train_or_report`, `runs.evaluate_runs`, `analyze_runs`): in
subprocesses where the process matters (the launchers, loading a network
without the package, kills), in this process otherwise."""

import csv
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, TINY, configured, tiny

from advmask_tf import runs
from advmask_tf.analysis.runs import analyze_runs
from advmask_tf.errors import InputError
from advmask_tf.training import AdversarialModel


def run_cli(tool, *args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "bin", tool), *args],
        capture_output=True, text=True, timeout=timeout, env=env)


def epochs_in(history_path):
    with open(history_path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_train_then_eval_end_to_end(tmp_path):
    workdir = str(tmp_path / "run")
    result = run_cli("advmask-train", f"--config={TINY}",
                     f"--workdir={workdir}", "--config.train.verbose=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| clean | pgd3 | cw_inf | worst_case |" in result.stdout
    for name in ("config.json", "model.keras", "last.keras", "metrics.json",
                 "results.md", "history.csv", "checkpoints/best.weights.h5",
                 "checkpoints/last.weights.h5"):
        assert os.path.exists(os.path.join(workdir, name)), name
    assert os.listdir(os.path.join(workdir, "tensorboard", "train"))
    with open(os.path.join(workdir, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["clean"]["total"] == 200
    assert (metrics["worst_case"]["correct"] <= metrics["pgd3"]["correct"]
            <= metrics["clean"]["correct"])
    assert epochs_in(os.path.join(workdir, "history.csv")) == [0, 1]
    with open(os.path.join(workdir, "config.json")) as f:
        assert json.load(f)["attack"]["eps"] == 0.1
    # The report says what run it reports on.
    assert metrics["run"]["epochs_trained"] == 2
    assert metrics["run"]["selected_epoch"] in (1, 2)
    assert metrics["run"]["training_seconds"] > 0
    assert metrics["run"]["tensorflow"] == tf.__version__
    with open(os.path.join(workdir, "results.md")) as f:
        assert "Trained 2 epochs (network of epoch" in f.read()
    # Logged into a file (not a terminal), fit wrote a line per epoch, not
    # a progress bar's control characters.
    assert "\x1b[" not in result.stdout and "\r" not in result.stdout
    assert "Run: epoch 1 of 2 done" in result.stdout  # with the run's ETA
    assert "Run: epoch 2 of 2 done" in result.stdout
    assert "run ETA 0.0 min" in result.stdout
    lines = result.stdout.splitlines()
    keras_line = next(i for i, line in enumerate(lines) if "val_" in line)
    assert keras_line < lines.index(next(
        line for line in lines if line.startswith("Run: epoch 1 of 2")))
    # The evaluation shows its progress with an ETA; the toolkit's own
    # attacks never make TensorFlow warn about retracing.
    assert "evaluation: 1/1 batch, " in result.stdout or \
        "evaluation: 1/" in result.stdout
    assert "retracing" not in result.stderr
    # TensorBoard: the report as text, its scalars at the last epoch (where
    # the training curves end), not at eps x 10000.
    steps = {}
    for name in os.listdir(os.path.join(workdir, "tensorboard", "eval")):
        for event in tf.compat.v1.train.summary_iterator(
                os.path.join(workdir, "tensorboard", "eval", name)):
            for value in event.summary.value:
                steps.setdefault(value.tag, set()).add(event.step)
    assert steps["eval/clean"] == {2} and steps["eval/report"] == {2}

    # The exported network loads with Keras alone (no advmask_tf import).
    script = ("import keras, numpy as np; m = keras.models.load_model("
              f"{os.path.join(workdir, 'model.keras')!r}); "
              "print(m.predict(np.zeros((1, 28, 28, 1)), verbose=0).shape)")
    loaded = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert loaded.stdout.strip().endswith("(1, 10)"), loaded.stderr[-2000:]

    # advmask-eval with budgets of its own: its report goes to eval/, the
    # training run's report stays as it was.
    with open(os.path.join(workdir, "metrics.json"), "rb") as f:
        trained_report = f.read()
    budget = run_cli("advmask-eval", f"--workdir={workdir}", "--limit=40",
                     "--nochecks", "--config.eval.pgd_steps=4")
    assert budget.returncode == 0, budget.stderr[-3000:]
    assert "| clean | pgd4 | cw_inf | worst_case |" in budget.stdout
    [path] = glob.glob(os.path.join(workdir, "eval", "best-pgd4+cw_inf-40-??????"
                                                     ".json"))
    assert runs.read_json(path)["pgd4"]["total"] == 40
    with open(os.path.join(workdir, "metrics.json"), "rb") as f:
        assert f.read() == trained_report
    with pytest.raises(ValueError, match="only change eval.. fields"):
        runs.evaluate_runs([workdir], eval_overrides={"train.epochs": 3})

    # What advmask-eval runs, in this process.
    evaluated = runs.evaluate_runs([workdir], "last", limit=100)
    [path] = glob.glob(os.path.join(workdir, "eval", "last-pgd3+cw_inf-100-??????"
                                                     ".json"))
    last = runs.read_json(path)
    assert last["clean"]["total"] == 100
    assert {"deterministic", "large_eps", "more_steps", "black_box",
            "logit_scale"} <= set(last["checks"])
    assert "| check (on 50 points) |" in evaluated

    # Stronger attacks, a sweep, and the trade-off of two work directories.
    other = str(tmp_path / "copy")
    shutil.copytree(workdir, other)
    compared = runs.evaluate_runs(
        [workdir, other], limit=40, checks=False, attacks="pgd,autoattack",
        out=str(tmp_path / "cmp"), eval_overrides={
            "eval.apgd_steps": 10, "eval.apgd_targets": 3,
            "eval.fab_steps": 10, "eval.square_queries": 100})
    assert "| autoattack | apgd_t |" in compared
    [path] = glob.glob(os.path.join(workdir, "eval",
                                    "best-pgd3+autoattack-40-??????.json"))
    strong = runs.read_json(path)
    assert strong["worst_case"]["correct"] <= strong["pgd3"]["correct"]
    assert set(strong["autoattack"]["stages"]) == {"apgd_ce", "apgd_t",
                                                   "fab_t", "square"}
    for name in ("tradeoff.json", "tradeoff.md", "tradeoff.png"):
        assert os.path.exists(tmp_path / "cmp" / name), name
    runs.evaluate_runs([workdir], limit=40, eps_sweep=[0, 0.05, 0.3])
    with open(os.path.join(workdir, "eval", "sweep-best.json")) as f:
        sweep = json.load(f)
    accuracies = [p["report"]["worst_case"]["accuracy"]
                  for p in sweep["sweep"]]
    assert accuracies[0] == sweep["sweep"][0]["report"]["clean"]["accuracy"]
    assert accuracies[-1] < accuracies[0]
    assert os.path.exists(os.path.join(workdir, "eval", "sweep-best.png"))
    assert os.listdir(os.path.join(workdir, "tensorboard", "eval_sweep"))

    # Same command again: nothing left to train, evaluation still reported.
    again = run_cli("advmask-train", f"--config={TINY}",
                    f"--workdir={workdir}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Epoch 1/2" not in again.stdout
    assert "(finished earlier)" in again.stdout
    assert epochs_in(os.path.join(workdir, "history.csv")) == [0, 1]

    # More epochs continue the finished run; fewer, or another eps, are a
    # different experiment.
    _, finished_earlier = runs.train_or_report(tiny({"train.epochs": 3}),
                                               workdir, evaluate=False)
    assert not finished_earlier
    assert epochs_in(os.path.join(workdir, "history.csv")) == [0, 1, 2]
    assert runs.load_config(runs.WorkDir(workdir)).train.epochs == 3
    with pytest.raises(ValueError, match=r"train.epochs: 3 -> 1"):
        runs.train_or_report(tiny({"train.epochs": 1}), workdir)
    with pytest.raises(ValueError, match=r"attack.eps: 0.1 -> 0.2"):
        runs.train_or_report(tiny({"attack.eps": 0.2, "train.epochs": 3}),
                             workdir)


def test_killed_run_resumes_and_loses_at_most_one_epoch(tmp_path):
    workdir = str(tmp_path / "run")
    args = [sys.executable, os.path.join(REPO, "bin", "advmask-train"),
            f"--config={TINY}", f"--workdir={workdir}", "--skip_eval",
            "--config.train.epochs=4"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    state = os.path.join(workdir, "backup", "state.json")
    deadline = time.time() + 240
    try:
        # The backup is written last: two epochs backed up are two rows.
        while time.time() < deadline:
            if os.path.exists(state) and json.load(open(state))["epoch"] >= 2:
                break
            assert process.poll() is None, "training ended before the kill"
            time.sleep(0.05)
        else:
            pytest.fail("no epoch finished in time")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    resumed = run_cli("advmask-train", f"--config={TINY}",
                      f"--workdir={workdir}", "--skip_eval",
                      "--config.train.epochs=4")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # it did not start over: epochs 1 and 2 were done before the kill
    assert "Epoch 1/4" not in resumed.stdout
    assert "Epoch 2/4" not in resumed.stdout
    epochs = epochs_in(os.path.join(workdir, "history.csv"))
    assert epochs[-1] == 3 and len(epochs) == len(set(epochs))
    assert len(epochs) >= 3  # at most the epoch in flight was lost
    assert keras.models.load_model(os.path.join(workdir, "model.keras"))


def test_ctrl_c_says_how_to_resume_in_one_line(tmp_path):
    workdir = str(tmp_path / "run")
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "bin", "advmask-train"),
         f"--config={TINY}", f"--workdir={workdir}", "--skip_eval",
         "--config.train.epochs=50"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    try:
        for line in process.stdout:  # training has started
            if line.startswith("Epoch 1/50"):
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == (
        "advmask-train: interrupted; re-run the same command to resume (a "
        "work directory keeps its last finished epoch).")
    assert "Traceback" not in stderr


BAD_CONFIGS = [
    ({"attack.norm": "l3"}, "'l3'"),
    ({"method.name": "fast"}, "Unknown method.name 'fast'"),
    ({"attack.eps": -0.5}, "received -0.5"),
    ({"data.source": "imagenet_folder"}, "'imagenet_folder'"),
    ({"train.epochs": 0}, "train.epochs must be an integer >= 1; received 0"),
    ({"train.monitor": "val_loss"}, "train.monitor must be one of "
     "('val_robust_accuracy', 'val_clean_accuracy'); received 'val_loss'"),
    ({"radius.policy": "shrinking"}, "Unknown radius.policy 'shrinking'"),
    ({"weighting.form": "cubic"}, "'cubic'"),
    ({"radius.policy": "sampled", "radius.low": 0.5},
     "a range with high > low; received strengths=(), low=0.5"),
    ({"train.trainable": "partial"}, "received 'partial'"),
    ({"model.norm": "group"}, "model.norm must be one of ('auto', "),
    ({"model.norm": "masking", "model.masking.encoding": "binary"},
     "model.masking.encoding must be one of ('orthogonal', 'one_hot', "
     "'sinusoidal'); received 'binary'"),
    ({"method.name": "mixed", "method.adv_weight": -1.0},
     "method.adv_weight must be a number >= 0; received -1"),
    ({"eval.attacks": "pgd,foo"}, "Unknown eval.attacks 'foo'"),
]


@pytest.mark.parametrize("overrides, message", BAD_CONFIGS)
def test_bad_config_values_fail_clearly(overrides, message):
    config = tiny(overrides)
    with pytest.raises(InputError) as error:
        runs.check_config(config)
    assert message in str(error.value)


@pytest.mark.parametrize("override, message", [
    ("--config.trian.epochs=1",
     "advmask-train: error: --config.trian: no such field; did you mean "
     "--config.train?"),
    ("--config.train.epoks=1",
     "advmask-train: error: --config.train.epoks: no such field; did you "
     "mean --config.train.epochs?"),
    ("--config.method.name=madr",
     "advmask-train: error: Unknown method.name 'madr'; expected one of "
     "['hat', 'iaat', 'lbgat', 'madry', 'mart', 'mixed', 'oat', 'standard', "
     "'trades'] (did you mean 'madry'?)."),
])
def test_the_command_line_reports_a_bad_config_in_one_line_before_any_work(
        tmp_path, override, message):
    result = run_cli("advmask-train", f"--config={TINY}",
                     f"--workdir={tmp_path / 'run'}", override)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [message], result.stderr[-2000:]
    assert not os.path.exists(tmp_path / "run")  # nothing was created


@pytest.mark.parametrize("tool, args, message", [
    ("advmask-train", [f"--config={TINY}", "--config.train.epoch=3"],
     "--config.train.epoch: no such field; did you mean "
     "--config.train.epochs?"),
    ("advmask-eval", ["--config.eval.ep=0.1"],
     "--config.eval.ep: no such field; did you mean --config.eval.eps?"),
    ("advmask-tune", [f"--config={TINY}", "--config.trian.epochs=3"],
     "--config.trian: no such field; did you mean --config.train?"),
    ("advmask-train", ["--config=configs/tiny.py"],
     "--config: configs/tiny.py does not exist (a relative path is read "
     "from the current folder, {cwd})."),
    ("advmask-train", ["--config={tmp}/broken.py"],
     "--config: {tmp}/broken.py is not valid Python (line 1: invalid "
     "syntax)."),
])
def test_a_config_that_cannot_be_read_is_one_line_naming_the_field(
        tmp_path, monkeypatch, tool, args, message):
    (tmp_path / "broken.py").write_text("def get_config(:\n")
    monkeypatch.chdir(tmp_path)  # configs/ is not under this folder
    args = [a.format(tmp=tmp_path) for a in args]
    result = run_cli(tool, *args, f"--workdir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [f"{tool}: error: " + message.format(
        cwd=tmp_path, tmp=tmp_path)], result.stderr[-2000:]
    assert not os.path.exists(tmp_path / "run")


def test_a_bug_inside_fit_keeps_its_traceback(tmp_path):
    # TensorFlow raises ValueError for shape bugs while tracing: such an
    # error is no bad input and must not be reduced to one line.
    script = tmp_path / "planted.py"
    script.write_text(
        "import sys\n"
        "import keras\n"
        "def fit(*args, **kwargs):\n"
        "    raise ValueError('Dimensions must be equal, but are 3 and 4')\n"
        "keras.Model.fit = fit\n"
        f"sys.path.insert(0, {REPO!r})\n"
        "from advmask_tf.cli.train import run\n"
        "run()\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, str(script), f"--config={TINY}",
         f"--workdir={tmp_path / 'run'}"],
        capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback (most recent call last)" in result.stderr
    assert "in fit\n" in result.stderr  # the planted frame is shown
    assert "advmask-train: internal error (a bug in advmask_tf" in \
        result.stderr
    assert "advmask-train: error:" not in result.stderr


@pytest.mark.slow
def test_gairat_on_iaat_preset_exports_radii_and_histograms(tmp_path):
    workdir = tmp_path / "run"
    config = configured("fashion_mnist_gairat_iaat.py", {
        "data.train_limit": 600, "data.validation_size": 100,
        "data.test_limit": 100, "model.options.width": 4,
        "model.options.dense_units": 16, "attack.steps": 2,
        "val_attack.steps": 2, "train.epochs": 2, "train.batch_size": 100,
        "train.verbose": 2, "radius.warmup_epochs": 1,
        "weighting.burn_in_epochs": 1, "eval.pgd_steps": 2,
        "eval.cw_steps": 2})
    runs.train_or_report(config, str(workdir))
    radii = np.load(workdir / "radii.npz")
    assert radii["radius"].shape == (500,) and radii["label"].shape == (500,)
    assert not np.allclose(radii["radius"], 0.1)  # epoch 2 adapted them
    with open(workdir / "radii.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    tags = set()
    # The histograms' writer and the radii image's: read every file.
    for events in os.listdir(workdir / "tensorboard" / "instance_state"):
        for event in tf.compat.v1.train.summary_iterator(str(
                workdir / "tensorboard" / "instance_state" / events)):
            tags |= {value.tag for value in event.summary.value}
    assert {"iaat/radius", "gairat/weight", "iaat/radius_mean",
            "gairat/effective_sample_fraction", "iaat/radii"} <= tags
    assert "gairat/weight_mean" not in tags  # 1 by construction


def test_eval_of_a_missing_workdir_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match="not a work directory made by advmask-train"):
        runs.evaluate_runs([str(tmp_path / "none")])


@pytest.mark.slow
def test_robmask_run_then_its_trade_off_curve_end_to_end(tmp_path, capsys):
    """A tiny RobMask run (what advmask-train runs), then its trade-off
    swept over the strength it is told and the mask mix (what advmask-eval
    runs), next to a Madry reference, and analysed (advmask-analyze)."""
    madry = str(tmp_path / "madry")
    runs.train_or_report(tiny(), madry, evaluate=False)
    runs.evaluate_workdir(madry, limit=60, checks=False, verbose=0,
                          run_report=True)
    workdir = str(tmp_path / "robmask")
    metrics, _ = runs.train_or_report(tiny({
        "method.name": "mixed", "radius.policy": "sampled",
        "radius.strengths": (0.0, 0.05, 0.1), "model.norm": "masking",
        "model.masking.encoding_dim": 4, "eval.check_points": 40}), workdir)
    assert metrics == runs.read_json(os.path.join(workdir, "metrics.json"))
    assert metrics["condition_eps"] == 0.1
    assert metrics["config"]["method"] == "mixed+sampled_radius+masking"
    assert "checks" in metrics

    # The exported network takes {"image", "eps"} and loads after importing
    # the package, no custom_objects; so does a saved AdversarialModel.
    wrapped = str(tmp_path / "wrapped.keras")
    AdversarialModel(keras.models.load_model(
        os.path.join(workdir, "model.keras"))).save(wrapped)
    script = ("import advmask_tf, keras, numpy as np; m = keras.models."
              f"load_model({os.path.join(workdir, 'model.keras')!r}); "
              "print(sorted(m.input), m({'image': np.zeros((2, 28, 28, 1)), "
              "'eps': np.array([0.0, 0.1])}).shape); print(type(keras.models."
              f"load_model({wrapped!r})).__name__)")
    loaded = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert "['eps', 'image'] (2, 10)" in loaded.stdout, loaded.stderr[-2000:]
    assert "AdversarialModel" in loaded.stdout, loaded.stderr[-2000:]

    swept = runs.evaluate_runs(
        [workdir], limit=60, condition_sweep=[0, 0.1], mix_sweep=[0, 0.5, 1],
        attacks="pgd", references=[madry])
    assert "| told eps 0.1 |" in swept
    assert "| mask mix t = 0.5 |" in swept
    assert "| reference: madry |" in swept
    base = os.path.join(workdir, "eval", "conditioning-best")
    with open(base + ".json") as f:
        curve = json.load(f)
    assert [r["condition"] for r in curve["condition"]] == [0.0, 0.1]
    assert [r["mix"] for r in curve["mix"]] == [0.0, 0.5, 1.0]
    for report in curve["condition"] + curve["mix"]:
        assert report["clean"]["total"] == 60
    # Told 0.1 with the full mask is the same classifier as mix t = 1.
    assert (curve["condition"][1]["clean"]["correct"]
            == curve["mix"][2]["clean"]["correct"])
    assert os.path.getsize(base + ".png") > 1000

    with pytest.raises(ValueError, match="unconditioned network"):
        runs.evaluate_runs([madry], condition_sweep=[0, 0.1])

    # The plain network compared with the conditioned one told 0 and 0.1; a
    # second run re-uses the cached analyses.
    out = str(tmp_path / "analysis")
    analyze = dict(workdirs=[madry, workdir], out=out, limit=40,
                   bisections=3, attack_steps=3)
    capsys.readouterr()
    analyzed = analyze_runs(**analyze)
    assert capsys.readouterr().out.count("Analysing") == 3
    assert "| robmask@0.1 |" in analyzed
    with open(os.path.join(out, "analysis.json")) as f:
        summaries = json.load(f)
    assert set(summaries) == {"madry", "robmask@0", "robmask@0.1"}
    assert summaries["madry"]["points"] == 40
    for name in ("analysis.md", "spectra.png", "margins.png",
                 "confidence.png", "boundary.png", "smoothness.png"):
        assert os.path.getsize(os.path.join(out, name)) > 100, name
    assert os.path.exists(os.path.join(workdir, "analysis",
                                       "best-40-told0.1.npz"))
    assert os.listdir(os.path.join(workdir, "tensorboard", "analysis"))
    analyze_runs(**analyze)
    assert "Analysing" not in capsys.readouterr().out
    with open(os.path.join(out, "analysis.json")) as f:
        assert json.load(f) == summaries
    with pytest.raises(ValueError, match="need an output directory"):
        analyze_runs([madry, workdir])


def test_analyze_refuses_several_runs_without_an_output_directory(tmp_path):
    result = run_cli("advmask-analyze", f"--workdir={tmp_path / 'a'}",
                     f"--workdir={tmp_path / 'b'}")
    assert result.returncode != 0
    assert "Several --workdir need --out" in result.stderr


def test_relearning_only_the_rescaling_keeps_every_other_weight(tmp_path):
    base = str(tmp_path / "standard")
    runs.train(tiny({"method.name": "standard",
                     "train.monitor": "val_clean_accuracy"}), base)
    start = os.path.join(base, "model.keras")
    workdir = str(tmp_path / "relearned")
    runs.train(tiny({"train.init_from": start, "train.trainable": "rescaling",
                     "train.epochs": 1}), workdir)
    before = keras.models.load_model(start)
    after = keras.models.load_model(os.path.join(workdir, "last.keras"))
    changed, kept = set(), set()
    for layer in before.layers:
        for old, new in zip(layer.weights, after.get_layer(
                layer.name).weights):
            same = np.array_equal(old.numpy(), new.numpy())
            (kept if same else changed).add(
                f"{type(layer).__name__}.{old.name}")
    assert changed and all(name.startswith("BatchNormalization.")
                           and name.split(".")[1] in ("gamma", "beta")
                           for name in changed), changed
    assert "BatchNormalization.moving_mean" in kept
    assert "Conv2D.kernel" in kept

    with pytest.raises(ValueError, match="another architecture"):
        runs.train(tiny({"train.init_from": start,
                         "model.options.width": 4}), str(tmp_path / "wrong"))


@pytest.mark.parametrize("tool, own_flags", [
    ("advmask-train", ("--workdir", "--print_config", "--skip_eval")),
    ("advmask-eval", ("--workdir", "--attacks", "--eps_sweep", "--config")),
    ("advmask-analyze", ("--workdir", "--out", "--condition_eps")),
    ("advmask-tune", ("--workdir", "--print_config")),
])
def test_help_lists_the_tools_own_flags(tool, own_flags):
    result = run_cli(tool, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    for flag in own_flags:  # "--name: help", "--[no]name: help" for bools
        assert re.search(rf"^ +--(\[no\])?{flag[2:]}[:=]", result.stdout,
                         re.M), (flag, result.stdout[-3000:])
    # The config fields, generated from the declarations, only where the
    # tool takes --config.
    takes_config = tool != "advmask-analyze"
    assert ("--config.<section>.<field>=<value>" in result.stdout) == \
        takes_config
    assert ("--config.method.beta=6.0  weight of the KL term" in
            result.stdout) == takes_config


def test_print_config_prints_the_resolved_config_and_creates_nothing(
        tmp_path):
    result = run_cli("advmask-train", f"--config={TINY}",
                     f"--workdir={tmp_path / 'run'}", "--print_config",
                     "--config.method.name=trades")
    assert result.returncode == 0, result.stderr[-2000:]
    printed = json.loads(result.stdout[result.stdout.index("{"):])
    assert printed["method"]["name"] == "trades"
    assert printed["attack"]["random_start"] == "normal"  # resolved
    assert not os.path.exists(tmp_path / "run")

