"""A search spread over a chief and workers with KerasTuner's mechanism."""

import csv
import json
import os
import re
import subprocess
import sys
import time

import pytest
from conftest import REPO

from advmask_tf.tuning.distributed import (
    free_port,
    role_environment,
    tuning_role,
)

MAX_TRIALS = 4


def tune_command(workdir, epochs=3):
    return [sys.executable, os.path.join(REPO, "bin", "advmask-tune"),
            f"--config={os.path.join(REPO, 'configs', 'tiny.py')}",
            f"--workdir={workdir}", f"--config.train.epochs={epochs}",
            f"--config.tune.max_trials={MAX_TRIALS}",
            "--config.tune.methods=('madry','trades')",
            "--config.tune.learning_rate=(0.001,0.003)"]


def start(workdir, tuner_id, port, log):
    env = role_environment(tuner_id, "127.0.0.1", port)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.Popen(tune_command(workdir), env=env, text=True,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def backed_up(run_dir) -> bool:
    """Whether the run has a complete backup of an epoch to resume from."""
    return any((run_dir / "backup").glob("epoch-*.weights.h5"))


def epochs_done(run_dir) -> int:
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return len(list(csv.DictReader(f)))


def wait_for(condition, process, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = condition()
        if found or process.poll() is not None:
            return found
        time.sleep(0.2)
    return condition()


@pytest.mark.slow
def test_chief_and_two_workers_run_every_trial_once_and_resume_a_kill(
        tmp_path):
    workdir = tmp_path / "search"
    port = free_port()
    chief = start(workdir, "chief", port, tmp_path / "chief.log")
    time.sleep(3)  # the oracle serves before the workers ask it
    first = start(workdir, "tuner_a", port, tmp_path / "a1.log")
    second = start(workdir, "tuner_b", port, tmp_path / "b.log")

    def a_trial_half_done():
        """The trial tuner_a trains, once an epoch of it is backed up and
        before its validation report."""
        for trial in sorted((workdir / "search").glob("trial_*")):
            run = trial / "run"
            if (_holder_pid(run / ".lock.json") == first.pid
                    and backed_up(run) and epochs_done(run) < 3):
                return run
        return None

    killed_run = wait_for(a_trial_half_done, first, 600)
    first.kill()
    first.wait()
    assert killed_run is not None, open(tmp_path / "a1.log").read()[-3000:]
    assert epochs_done(killed_run) < 3

    again = start(workdir, "tuner_a", port, tmp_path / "a2.log")
    for process in (again, second, chief):
        process.wait(timeout=900)
    logs = {name: open(tmp_path / f"{name}.log").read()
            for name in ("chief", "a2", "b")}
    assert chief.returncode == 0, logs["chief"][-3000:]
    assert again.returncode == 0 and second.returncode == 0, logs

    # The restarted worker took up its trial where the kill left it.
    assert f"Resuming {killed_run}" in logs["a2"]
    with open(killed_run / "validation.json") as f:
        assert json.load(f)["tuner_id"] == "tuner_a"

    # Every trial ran once: the workers' counts add up to the trials, each
    # trial's run has exactly its epochs, and the chief's report is the
    # union of what the workers measured.
    counts = [int(re.search(r"ran (\d+) trial", logs[name]).group(1))
              for name in ("a2", "b")]
    assert sum(counts) == MAX_TRIALS and counts[1] >= 1
    with open(workdir / "trials.json") as f:
        result = json.load(f)
    assert sorted(r["trial"] for r in result["trials"]) == [
        str(i) for i in range(MAX_TRIALS)]
    for row in result["trials"]:
        run = workdir / "search" / f"trial_{row['trial']}" / "run"
        assert epochs_done(run) == 3
        with open(run / "validation.json") as f:
            measured = json.load(f)
        assert measured["tuner_id"] in ("tuner_a", "tuner_b")
        assert row["score"] == pytest.approx(measured["score"])
        assert row["clean"] == pytest.approx(measured["val_clean"])
    assert (workdir / "trials.md").exists()
    assert os.path.getsize(workdir / "pareto.png") > 1000
    assert "Serving the search's oracle on 127.0.0.1:" in logs["chief"]


def _holder_pid(lock_json) -> int | None:
    try:
        with open(lock_json) as f:
            return json.load(f).get("pid")
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("environ, message", [
    ({"KERASTUNER_TUNER_ID": "tuner0"},
     "KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT missing"),
    ({"KERASTUNER_TUNER_ID": "t", "KERASTUNER_ORACLE_IP": "h",
      "KERASTUNER_ORACLE_PORT": "http"},
     "KERASTUNER_ORACLE_PORT must be a port number in [1, 65535]; received "
     "'http'"),
    ({"KERASTUNER_TUNER_ID": "a/b", "KERASTUNER_ORACLE_IP": "h",
      "KERASTUNER_ORACLE_PORT": "80"},
     "received 'a/b'"),
])
def test_a_partial_or_bad_environment_is_named(environ, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tuning_role(environ)


def test_roles_follow_the_tuner_id():
    base = {"KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": "8000"}
    assert tuning_role({}) == "single"
    assert tuning_role({**base, "KERASTUNER_TUNER_ID": "chief"}) == "chief"
    assert tuning_role({**base, "KERASTUNER_TUNER_ID": "gpu3"}) == "worker"


def test_a_second_worker_with_the_same_id_is_refused(tmp_path):
    """One writer per id: the id's directory is held while a worker runs."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from advmask_tf.runs.lock import hold\n"
         f"with hold({str(tmp_path / 'workers' / 'tuner_a')!r}, "
         "'advmask-tune worker tuner_a'):\n"
         "    print('held', flush=True); time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        env = role_environment("tuner_a", "127.0.0.1", free_port())
        refused = subprocess.run(tune_command(tmp_path, epochs=1), env=env,
                                 capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()[-1:]
    assert line.startswith("advmask-tune: error: ")
    assert "workers/tuner_a is in use by advmask-tune worker tuner_a" in line
    assert not (tmp_path / "search").exists()
