"""MultiWorkerMirroredStrategy: two worker processes on loopback against one
process, through the command line."""

import csv
import json
import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from conftest import REPO, TINY

from advmask_tf import runs
from advmask_tf.configs_lib import preset
from advmask_tf.distribute import get_strategy, is_chief_process, worker_role
from advmask_tf.runs.guides import guide_kind


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train_command(workdir, distribute):
    return [sys.executable, os.path.join(REPO, "bin", "advmask-train"),
            f"--config={TINY}", f"--workdir={workdir}",
            "--config.train.epochs=1", "--config.eval.checks=False",
            f"--config.distribute={distribute}"]


def start_workers(tmp_path, tag):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            train_command(tmp_path / f"{tag}{index}", "multi_worker"),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    return processes


def finish(processes, timeout=420):
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=timeout))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


# Three processes on 2 cores for about 50 s: with `-m slow`, for the default
# suite's time (MirroredStrategy's replica equivalence stays in it:
# tests/test_conformance.py and the presets below).
@pytest.mark.slow
def test_two_workers_on_loopback_train_like_one_process(tmp_path):
    outputs = finish(start_workers(tmp_path, "worker"))
    for index, (_, stderr) in enumerate(outputs):
        assert "Traceback" not in stderr, f"worker {index}: {stderr[-3000:]}"
    single = subprocess.run(train_command(tmp_path / "single", "none"),
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert single.returncode == 0, single.stderr[-3000:]

    chief, other = tmp_path / "worker0", tmp_path / "worker1"
    # The chief wrote the work directory and evaluated; worker 1 kept only
    # its own backup.
    for name in ("config.json", "history.csv", "model.keras", "last.keras",
                 "metrics.json"):
        assert (chief / name).exists(), name
    assert "| clean |" in outputs[0][0]
    assert "| clean |" not in outputs[1][0]
    assert not (other / "model.keras").exists()
    assert not (other / "metrics.json").exists()
    assert not (other / "history.csv").exists()
    assert (other / "workers" / "worker1" / "backup").exists()

    two = keras.models.load_model(chief / "model.keras")
    one = keras.models.load_model(tmp_path / "single" / "model.keras")
    # float32 all-reduces sum in another order than one device does, and
    # Adam magnifies that in near-zero gradients (biases before batch
    # norm), so compare the weights that carry the model to 1%: another
    # batch order or a wrong gradient scale moves them much further.
    compared = 0
    for a, b in zip(two.weights, one.weights):
        reference = np.linalg.norm(b.numpy())
        if reference > 0.1:
            change = np.linalg.norm(a.numpy() - b.numpy()) / reference
            assert change < 0.01, (a.path, change)
            compared += 1
    assert compared >= 10
    logs = []
    for path in (chief / "history.csv", tmp_path / "single" / "history.csv"):
        with open(path) as f:
            logs.append(next(csv.DictReader(f)))
    assert logs[0].keys() == logs[1].keys()
    assert float(logs[0]["loss"]) == pytest.approx(float(logs[1]["loss"]),
                                                   rel=0.01)
    for key in ("clean_accuracy", "adv_accuracy", "val_clean_accuracy"):
        assert float(logs[0][key]) == pytest.approx(float(logs[1][key]),
                                                    abs=0.02), key

    # The same two commands again resume from the backups (all workers
    # take part, so none waits for another): nothing to train, the same
    # network exported.
    again = finish(start_workers(tmp_path, "worker"))
    for index, (_, stderr) in enumerate(again):
        assert "Traceback" not in stderr, f"worker {index}: {stderr[-3000:]}"
    with open(chief / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 1
    resumed = keras.models.load_model(chief / "model.keras")
    for a, b in zip(resumed.weights, two.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_one_process_is_the_chief():
    assert worker_role(get_strategy("none")) == (True, "chief")


@pytest.mark.parametrize("cluster,task,chief", [
    ({"worker": ["a", "b"]}, {"type": "worker", "index": 0}, True),
    ({"worker": ["a", "b"]}, {"type": "worker", "index": 1}, False),
    ({"chief": ["c"], "worker": ["a"]}, {"type": "chief", "index": 0}, True),
    ({"chief": ["c"], "worker": ["a"]}, {"type": "worker", "index": 0},
     False),
])
def test_the_chief_is_read_from_tf_config(monkeypatch, cluster, task, chief):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": task}))
    assert is_chief_process("multi_worker") is chief
    assert is_chief_process("mirrored") is True


def test_multi_worker_without_tf_config_fails_clearly(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG"):
        get_strategy("multi_worker")


# The main job and the keep-accuracy mixture's robust part are the Free
# preset with other sizes: their parts are tested there. AWP on two
# replicas: tests/test_training.py's replica test (TRADES-AWP).
PRESETS = sorted(name for name in os.listdir(os.path.join(REPO, "configs"))
                 if name.startswith("fashion_mnist_")
                 and name not in ("fashion_mnist_tune.py",
                                  "fashion_mnist_main.py",
                                  "fashion_mnist_keep_accuracy.py",
                                  "fashion_mnist_awp.py"))


# What build_network reads of a DataBundle, for Fashion-MNIST.
FASHION_SHAPES = SimpleNamespace(image_shape=(28, 28, 1), num_classes=10,
                                 mean=(0.286,), std=(0.353,))


# Presets whose parts the others already combine (GAIRAT and IAAT on
# TRADES, N-FGSM beside FGSM-RS, OAT's and split BN's conditioned norms
# beside RobMask's) or that are one part on its defaults, which
# tests/test_conformance.py trains on two replicas part by part (standard,
# Madry, TRADES, MART, IAAT, GAIRAT, LBGAT and HAT with their guides; its
# Madry runs a one-step attack, as
# FGSM-RS does), run with `-m slow`, for the default suite's time. The
# default suite keeps the presets that add settings of their own: Free
# (replays) and RobMask (the masking norm and sampled radii).
COVERED_BY_OTHERS = ("fashion_mnist_fgsm_rs.py", "fashion_mnist_gairat.py",
                     "fashion_mnist_gairat_iaat.py",
                     "fashion_mnist_gairat_trades.py", "fashion_mnist_hat.py",
                     "fashion_mnist_iaat.py", "fashion_mnist_lbgat.py",
                     "fashion_mnist_madry.py", "fashion_mnist_mart.py",
                     "fashion_mnist_nfgsm.py", "fashion_mnist_oat.py",
                     "fashion_mnist_split_bn.py", "fashion_mnist_standard.py",
                     "fashion_mnist_trades.py")


@pytest.mark.parametrize("preset_name", [
    pytest.param(name, marks=pytest.mark.slow)
    if name in COVERED_BY_OTHERS else name for name in PRESETS])
def test_every_preset_trains_alike_on_two_replicas(preset_name, fashion_slice,
                                                   float64, replica_pair):
    """Each configs/ preset, made small (its parts and settings unchanged,
    the burn-in and warm-up phases shortened so its state tables act in
    the one epoch), on 64 real images: 2 logical devices = 1 device."""
    config = preset(os.path.join(REPO, "configs", "x.py"), preset_name)
    config.model.options.width = 4
    config.model.options.dense_units = 16
    config.attack.steps = 2
    config.radius.warmup_epochs = 0
    config.weighting.burn_in_epochs = 0
    x, y = fashion_slice(64, dtype=np.float64)
    keras.utils.set_random_seed(0)
    initial = runs.build_network(config, FASHION_SHAPES).get_weights()

    def build():
        guide = (runs.build_network(config, FASHION_SHAPES)
                 if guide_kind(config) else None)
        return runs.build_adversarial_model(
            config, runs.build_network(config, FASHION_SHAPES), len(y),
            guide=guide)

    (one, one_logs), (two, two_logs) = replica_pair(build, initial, x, y)
    assert set(one_logs) == set(two_logs)
    for key in one_logs:
        np.testing.assert_allclose(one_logs[key], two_logs[key], rtol=1e-7,
                                   atol=1e-9, err_msg=key)
    # Every trained network (LBGAT's guide too) moved alike.
    for one_net, two_net in zip(one.trained_networks, two.trained_networks):
        changed = False
        for a, b, start in zip(one_net.weights, two_net.weights, initial):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7,
                                       atol=1e-9)
            changed |= not np.allclose(a.numpy(), start)
        assert changed
