"""Nothing lost, nothing mixed: torn files, full disks, interrupted writes
and two processes on one work directory."""

import csv
import os
import signal
import subprocess
import sys

import keras
import pytest
from conftest import tiny

from advmask_tf import io_utils, runs
from advmask_tf.io_utils import StorageError, atomic_save, atomic_write_text
from advmask_tf.runs.lock import WorkDirBusy, hold


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
    """A work directory a one-epoch tiny run trained."""
    workdir = str(tmp_path_factory.mktemp("storage") / "run")
    runs.train(tiny({"train.verbose": 0, "train.epochs": 1,
                     "data.train_limit": 300, "data.validation_size": 100}),
               workdir)
    return workdir


def epochs_in(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def test_torn_checkpoints_fall_back_and_history_stays_one_row_per_epoch(
        tmp_path, capsys):
    workdir = str(tmp_path / "run")
    config = tiny({"train.verbose": 0, "data.train_limit": 500,
                   "data.validation_size": 100})
    runs.train(config, workdir)
    wd = runs.WorkDir(workdir)
    # What a kill -9 mid-write left with Keras' in-place writes: a torn
    # newest backup and a torn best checkpoint; and a half-written model.
    truncate(os.path.join(wd.backup, "epoch-2.weights.h5"))
    truncate(wd.best_weights)
    atomic_write_text(os.path.join(workdir, ".tmp-model.keras"), "partial")
    # A history row written twice by an older resume.
    with open(wd.history, "a") as f:
        f.write(open(wd.history).read().splitlines()[-1] + "\n")

    config.train.epochs = 3
    model, _ = runs.train(config, workdir)
    out = capsys.readouterr().out
    assert "epoch-2.weights.h5 cannot be read" in out
    assert "resuming from the backup of epoch 1 instead" in out
    assert "best.weights.h5 cannot be read" in out
    assert ".tmp-model.keras, left by an interrupted write" in out
    assert not os.path.exists(os.path.join(workdir, ".tmp-model.keras"))
    # Epoch 2 re-trained from epoch 1's state, then epoch 3: one row each.
    assert epochs_in(wd.history) == [0, 1, 2]
    assert keras.models.load_model(wd.best_model)


def test_a_full_disk_is_named_and_damages_nothing(tmp_path, monkeypatch):
    target = str(tmp_path / "metrics.json")
    atomic_write_text(target, "the old report")
    monkeypatch.setattr(io_utils, "free_bytes", lambda directory: 1000)
    with pytest.raises(StorageError, match=r"not enough free space to write "
                       + str(target)):
        atomic_write_text(target, "x" * 5000)
    assert open(target).read() == "the old report"
    assert os.listdir(tmp_path) == ["metrics.json"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MiB tmpfs (needs the right to mount; skipped otherwise)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m",
                           "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: "
                    + done.stderr.decode().strip())
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_a_real_full_disk_gives_a_clear_error(tiny_disk):
    old = str(tiny_disk / "last.weights.h5")
    atomic_write_text(old, "good weights")

    def write_too_much(tmp):  # more than the disk holds
        with open(tmp, "wb") as f:
            f.write(b"\0" * (8 << 20))

    with pytest.raises(StorageError, match=f"cannot write {old}: No space"):
        atomic_save(write_too_much, old, expected_bytes=0)
    assert open(old).read() == "good weights"
    assert sorted(os.listdir(tiny_disk)) == ["last.weights.h5"]
    # A model that cannot fit is refused before HDF5 starts writing (HDF5
    # can crash the process on a full disk).
    model = keras.Sequential([keras.Input((2048,)), keras.layers.Dense(1024)])
    from advmask_tf.training.saving import state_bytes

    assert state_bytes(model) > 4 << 20
    with pytest.raises(StorageError, match="not enough free space"):
        atomic_save(model.save_weights, str(tiny_disk / "a.weights.h5"),
                    expected_bytes=state_bytes(model))


def test_an_evaluation_checks_its_output_before_attacking(
        tmp_path, monkeypatch, trained_workdir):
    attacked = []
    monkeypatch.setattr(runs.evaluate, "evaluate_network",
                        lambda *args, **kwargs: attacked.append(1))
    monkeypatch.setattr(io_utils, "free_bytes", lambda directory: 0 if
                        directory.endswith("eval") else 1 << 40)
    with pytest.raises(StorageError, match="eval"):
        runs.evaluate_workdir(trained_workdir, limit=20, verbose=0)
    assert attacked == []


HOLDER = """
import sys, time
from advmask_tf.runs.lock import hold
with hold(sys.argv[1], "advmask-train"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_one_writer_per_work_directory_and_a_killed_one_blocks_nothing(
        tmp_path):
    workdir = str(tmp_path / "run")
    other = subprocess.Popen([sys.executable, "-c", HOLDER, workdir],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        with pytest.raises(WorkDirBusy, match=rf"in use by advmask-train "
                           rf"\(pid {other.pid} on "):
            with hold(workdir, "advmask-eval"):
                pass
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    with hold(workdir, "advmask-eval"):  # the lock died with its process
        with hold(workdir, "advmask-eval"):  # and is re-entrant
            pass


def test_kerastuner_state_files_are_written_atomically(tmp_path, monkeypatch):
    import json

    import keras_tuner.src.utils

    from advmask_tf.tuning import make_tuner

    def in_place(path, obj):  # KerasTuner's own, non-atomic write
        raise AssertionError(f"{path} written in place")

    monkeypatch.setattr(keras_tuner.src.utils, "save_json", in_place)
    tuner = make_tuner(tiny({"tune.methods": ("madry", "trades")}),
                       str(tmp_path))
    trial = tuner.oracle.create_trial("tuner0")
    tuner.save()
    search = tmp_path / "search"
    assert json.load(open(search / "oracle.json"))["seed"] == 0
    assert json.load(open(search / f"trial_{trial.trial_id}" / "trial.json")
                     )["trial_id"] == trial.trial_id
    assert json.load(open(search / "tuner0.json")) is not None


@pytest.mark.slow
def test_a_run_on_a_full_disk_stops_clearly_and_resumes_when_space_is_freed(
        tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs",
                       str(disk)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    from conftest import REPO, TINY

    command = [sys.executable, os.path.join(REPO, "bin", "advmask-train"),
               f"--config={TINY}", f"--workdir={disk / 'run'}",
               "--config.train.verbose=2"]
    try:
        full = subprocess.run(command, capture_output=True, text=True)
        assert full.returncode == 2
        assert "advmask-train: error: not enough free space to write" in \
            full.stderr
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)],
                       check=True)
        freed = subprocess.run(command, capture_output=True, text=True)
        assert freed.returncode == 0, freed.stderr[-2000:]
        assert epochs_in(str(disk / "run" / "history.csv")) == [0, 1]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_path_that_cannot_be_a_work_directory_is_one_line(
        tmp_path, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(StorageError, match=r"notes.txt is a file, not a "
                       r"directory"):
        with hold(str(a_file), "advmask-train"):
            pass
    assert a_file.read_text() == "mine"

    too_long = str(tmp_path / ("x" * 300))
    with pytest.raises(StorageError, match="path is too long"):
        with hold(too_long, "advmask-train"):
            pass

    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(30, "Read-only file system", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StorageError, match=r"cannot use .*ro as a work "
                       r"directory: the filesystem is read-only") as error:
        with hold(str(tmp_path / "ro"), "advmask-train"):
            pass
    assert "\n" not in str(error.value)


def test_a_refused_run_leaves_no_work_directory_behind(tmp_path):
    from advmask_tf.errors import InputError

    new = tmp_path / "new-run"
    with pytest.raises(InputError, match="no such data"):
        with hold(str(new), "advmask-train"):
            raise InputError("no such data")
    assert not new.exists()

    existing = tmp_path / "kept"
    existing.mkdir()
    with pytest.raises(InputError):
        with hold(str(existing), "advmask-train"):
            raise InputError("no such data")
    assert existing.is_dir()  # the user's own directory stays

    config = tiny({"train.verbose": 0, "data.source": "idx",
                   "data.path": str(tmp_path / "missing")})
    with pytest.raises(InputError, match="missing"):
        runs.train(config, str(tmp_path / "train-run"))
    assert not (tmp_path / "train-run").exists()


def test_a_link_planted_at_a_temporary_name_is_not_written_through(
        tmp_path, monkeypatch):
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    workdir = tmp_path / "run"
    workdir.mkdir()
    # The old fixed name, and the name the next write will draw.
    os.symlink(target, workdir / ".tmp-metrics.json")
    monkeypatch.setattr(io_utils.secrets, "token_hex", lambda n: "abc")
    os.symlink(target, workdir / ".tmp-abc-metrics.json")
    with pytest.raises(FileExistsError):
        atomic_write_text(str(workdir / "metrics.json"), "{}")
    assert target.read_text() == "precious"
    monkeypatch.undo()
    atomic_write_text(str(workdir / "metrics.json"), "{}")
    assert target.read_text() == "precious"
    assert (workdir / "metrics.json").read_text() == "{}"


def test_a_hand_edited_config_or_history_is_named(trained_workdir, tmp_path):
    import json
    import shutil

    from advmask_tf.errors import InputError
    from advmask_tf.runs.workdir import WorkDir, selected_epoch

    workdir = str(tmp_path / "copy")
    shutil.copytree(trained_workdir, workdir)
    config_path = os.path.join(workdir, "config.json")
    stored = json.loads(open(config_path).read())
    edited = json.loads(json.dumps(stored))
    edited["attack"]["eps"] = 5.0
    atomic_write_text(config_path, json.dumps(edited))
    # Evaluated at eps 5, the old version reported "robust 11%".
    with pytest.raises(InputError, match=r"config.json fails its checks "
                       r"\(edited by hand\?\): attack.eps must be a number "
                       r"in \[0, 1\].*; received 5.0"):
        runs.evaluate_runs([workdir], limit=20)
    atomic_write_text(config_path, json.dumps(stored))

    history_path = os.path.join(workdir, "history.csv")
    with open(history_path) as f:
        rows = list(csv.DictReader(f))
    rows[0]["val_robust_accuracy"] = "lots"
    with open(history_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(InputError, match=r"history.csv line 2: "
                       r"val_robust_accuracy is 'lots', not a number"):
        selected_epoch(WorkDir(workdir), "val_robust_accuracy")
