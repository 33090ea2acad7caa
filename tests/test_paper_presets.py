"""The CIFAR-10 paper presets: they check, they build and train on
synthetic data of CIFAR-10's shape (--dry_run), and docs/presets.md lists
them with the figures they should reproduce."""

import glob
import os
import subprocess
import sys

import pytest
from conftest import REPO

from advmask_tf.configs_lib import preset
from advmask_tf.data.synthetic import source_signature
from advmask_tf.runs import check_config
from advmask_tf.runs.dry_run import dry_run, summary

PRESETS = ("pgd_at", "trades", "mart", "awp", "gairat", "iaat", "robmask",
           "fgsm_rs")
TRAIN = os.path.join(REPO, "bin", "advmask-train")


def paper_preset(name):
    return preset(os.path.join(REPO, "configs", "x.py"), f"cifar10_{name}.py")


def test_every_cifar10_preset_is_listed_here():
    found = sorted(os.path.basename(p)[len("cifar10_"):-3] for p in
                   glob.glob(os.path.join(REPO, "configs", "cifar10_*.py")))
    assert found == sorted(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_checks_and_names_its_source(name):
    config = paper_preset(name)
    check_config(config)
    assert config.data.tfds_name == "cifar10"
    assert config.attack.eps == pytest.approx(8 / 255)
    assert config.train.optimizer == "sgd"
    assert config.train.weight_decay_style == "l2"
    module_doc = open(os.path.join(REPO, "configs",
                                   f"cifar10_{name}.py")).read()
    assert "Should reproduce" in module_doc


def test_the_presets_keep_their_papers_settings():
    trades, gairat, iaat, fgsm = (paper_preset(n) for n in (
        "trades", "gairat", "iaat", "fgsm_rs"))
    assert (trades.method.beta, trades.train.epochs,
            tuple(trades.train.lr_boundaries)) == (6.0, 76, (75,))
    assert (gairat.model.options.depth, gairat.weighting.burn_in_epochs,
            tuple(gairat.train.lr_boundaries)) == (34, 59, (60, 90, 110))
    assert (iaat.model.options.depth, iaat.radius.policy,
            iaat.radius.gamma) == (28, "adaptive", pytest.approx(1.9 / 255))
    assert (fgsm.train.schedule, fgsm.train.epochs, fgsm.attack.steps,
            fgsm.guard.points) == ("cyclic", 15, 1, 1000)
    assert paper_preset("awp").method.awp_gamma == 5e-3
    assert paper_preset("robmask").model.norm == "masking"


def test_the_presets_page_has_a_row_per_preset():
    readme = open(os.path.join(REPO, "docs", "presets.md")).read()
    for name in PRESETS:
        rows = [line for line in readme.splitlines()
                if f"configs/cifar10_{name}.py" in line
                and line.startswith("|")]
        assert len(rows) == 1, name
        assert rows[0].count("|") >= 6


def test_a_dry_run_builds_and_trains_two_steps_without_cifar10(tmp_path):
    """No CIFAR-10 on this machine: the dry run makes data of its shape."""
    config = paper_preset("pgd_at")
    config.data.data_dir = str(tmp_path / "no_datasets_here")
    config.train.batch_size = 4
    config.model.options.width = 4
    [facts] = dry_run(config)
    assert facts["image_shape"] == (32, 32, 3) and facts["num_classes"] == 10
    assert facts["updates"] == 2 and facts["finite_loss"]
    assert facts["optimizer"] == "L2SGD"
    assert "preact_resnet18" in summary([facts])


def test_signatures_without_the_data():
    cifar100 = paper_preset("pgd_at").data
    cifar100.tfds_name = "cifar100"
    assert source_signature(cifar100).num_classes == 100
    bad = paper_preset("pgd_at").data
    bad.tfds_name = "no_such_dataset"
    with pytest.raises(ValueError, match="data.tfds_name='no_such_dataset'"):
        source_signature(bad)


def test_training_without_a_workdir_says_so_in_one_line():
    result = subprocess.run([sys.executable, TRAIN], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "advmask-train: error: --workdir is required (where the run lives; "
        "re-running with it resumes); received none")


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_dry_runs_at_its_own_architecture(name):
    config = paper_preset(name)
    config.train.batch_size = 8
    [facts] = dry_run(config)
    assert facts["updates"] == 2 and facts["finite_loss"]
    assert facts["model"] == config.model.name


@pytest.mark.slow
def test_the_command_line_dry_run():
    result = subprocess.run(
        [sys.executable, TRAIN,
         f"--config={os.path.join(REPO, 'configs', 'cifar10_fgsm_rs.py')}",
         "--dry_run", "--config.train.batch_size=4",
         "--config.model.options.width=4"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Dry run (run): preact_resnet18" in result.stdout
    assert "2 updates of batch 4" in result.stdout
