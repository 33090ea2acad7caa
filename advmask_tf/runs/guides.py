"""The guide network of a guided objective (LBGAT, HAT) in a run.

LBGAT's guide has the network's architecture and trains with it; at the
end it is saved beside `model.keras` as `guide.keras` (a standard
classifier: images -> logits). HAT's helper, a standard classifier, is
loaded from `method.helper_from`, or trained first in `<workdir>/helper`:
standard training of the same model for `method.helper_epochs` epochs
(0: `train.epochs`), selected by validation clean accuracy, a run of its
own that resumes like any and whose time counts in the run's.
"""

from __future__ import annotations

import os

import ml_collections

from advmask_tf.errors import InputError
from advmask_tf.models.loading import load_keras_file
from advmask_tf.training.objectives import OBJECTIVES

HELPER_DIR = "helper"
GUIDE_FILE = "guide.keras"


def guide_kind(config) -> str | None:
    """The config's objective's guide: None, "trained" or "frozen"."""
    return OBJECTIVES.get(config.method.name).guide


def trains_helper_first(config) -> bool:
    """Whether the run trains HAT's helper before itself."""
    return guide_kind(config) == "frozen" and not config.method.helper_from


def standard_config(config, epochs: int, width: int = 0
                    ) -> ml_collections.ConfigDict:
    """Standard training of the config's model on the same data (and
    seed) for `epochs`, selected by validation clean accuracy; `width`
    (when > 0) overrides the model's width.

    >>> from advmask_tf.configs_lib import base_config
    >>> config = base_config(); config.method.name = "hat"
    >>> standard = standard_config(config, 3)
    >>> standard.method.name, standard.train.epochs
    ('standard', 3)
    """
    standard = ml_collections.ConfigDict(config.to_dict())
    standard.mix.enabled = False
    standard.method.name = "standard"
    standard.method.awp_gamma = 0.0
    standard.radius.policy = "fixed"
    standard.weighting.name = "uniform"
    standard.model.norm = "auto"
    standard.train.free_replays = 0
    standard.train.ema_momentum = 0.0
    standard.train.epochs = int(epochs)
    standard.train.monitor = "val_clean_accuracy"
    standard.guard.points = 0
    standard.eval.checks = False  # its robust accuracy is about 0
    # Validation selects by clean accuracy; a one-step attack keeps the
    # (meaningless) robust column cheap.
    standard.val_attack.steps = 1
    if width:
        standard.model.options.width = int(width)
    return standard


def helper_config(config) -> ml_collections.ConfigDict:
    """The run that trains HAT's helper (see the module docstring)."""
    epochs = int(config.method.helper_epochs) or int(config.train.epochs)
    return standard_config(config, epochs)


def helper_workdir(workdir: str) -> str:
    return os.path.join(workdir, HELPER_DIR)


def guide_model_path(config, workdir: str) -> str | None:
    """Where the run's guide is saved or read: LBGAT's
    `<workdir>/guide.keras`, HAT's helper; None without a guide."""
    kind = guide_kind(config)
    if kind == "trained":
        return os.path.join(workdir, GUIDE_FILE)
    if kind == "frozen":
        return config.method.helper_from or os.path.join(
            helper_workdir(workdir), "model.keras")
    return None


def check_guide_settings(config) -> None:
    """What a run with a guide cannot do, refused before any work."""
    kind = guide_kind(config)
    if kind is None:
        return
    if kind == "frozen" and config.method.helper_from and not \
            os.path.exists(config.method.helper_from):
        raise InputError(
            f"method.helper_from={config.method.helper_from!r} does not "
            "exist; give a saved standard classifier (.keras), or '' to "
            "train one first in the work directory.")
    if trains_helper_first(config) and config.distribute == "multi_worker":
        raise InputError(
            "method.name='hat' trains its helper first on one machine; under "
            "distribute='multi_worker' give method.helper_from (a helper "
            "trained beforehand).")
    if config.train.trainable != "all":
        raise InputError(
            f"method.name={config.method.name!r} trains with a guide network;"
            f" it needs train.trainable='all', received "
            f"{config.train.trainable!r}.")


def load_helper(config, workdir: str, data):
    """HAT's helper network, checked against the data's images and
    classes."""
    path = guide_model_path(config, workdir)
    what = ("method.helper_from" if config.method.helper_from
            else "the helper trained first")
    helper = load_keras_file(path, what, compile=False)
    shape = tuple(helper.input_shape[1:]) if not isinstance(
        helper.input_shape, dict) else None
    if shape != tuple(data.image_shape) or \
            helper.output_shape[-1] != data.num_classes:
        raise InputError(
            f"{what}: {path} maps {shape} images to "
            f"{helper.output_shape[-1]} classes; this run needs "
            f"{tuple(data.image_shape)} images and {data.num_classes} "
            "classes (a plain classifier, images -> logits).")
    return helper


def timed_runs(config, workdir: str) -> list[str]:
    """The work directories whose training time is the run's: the run and
    the helper it trained first."""
    runs = [workdir]
    if trains_helper_first(config):
        runs.append(helper_workdir(workdir))
    return runs
