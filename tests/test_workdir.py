"""Work-directory config checks of advmask_tf.runs.workdir."""

import json
import os
import stat

import pytest

from advmask_tf import runs
from advmask_tf.configs_lib import base_config
from advmask_tf.io_utils import atomic_write_json


def _stored_without(workdir, *sections):
    config = base_config()
    runs.save_or_check_config(config, workdir)
    with open(workdir.config) as f:
        stored = json.load(f)
    for section in sections:
        del stored[section]
    with open(workdir.config, "w") as f:
        json.dump(stored, f)


def test_fields_added_since_a_run_at_their_defaults_allow_resuming(tmp_path):
    # The weighting section holds tuple defaults, stored as JSON lists.
    workdir = runs.WorkDir(str(tmp_path))
    _stored_without(workdir, "radius", "weighting")
    runs.save_or_check_config(base_config(), workdir)  # no ValueError
    with open(workdir.config) as f:
        assert "weighting" not in json.load(f)  # the stored run is kept


def test_a_new_field_away_from_its_default_is_a_change(tmp_path):
    workdir = runs.WorkDir(str(tmp_path))
    _stored_without(workdir, "weighting")
    config = base_config()
    config.weighting.lam_values = (1.0,)
    with pytest.raises(ValueError, match=r"weighting.lam_values: None -> "
                                         r"\[1.0\]"):
        runs.save_or_check_config(config, workdir)


def test_reports_get_the_mode_the_umask_gives_every_file(tmp_path):
    previous = os.umask(0o022)
    try:
        path = str(tmp_path / "metrics.json")
        atomic_write_json(path, {"a": 1})
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        os.umask(0o077)
        atomic_write_json(path, {"a": 2})
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        os.umask(previous)
