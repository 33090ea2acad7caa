"""The guide network of a guided objective (LBGAT, HAT) in a run.

The objective says where its guide starts (`guide_source`): the weights of
a saved standard classifier, of one trained first, or (LBGAT only) a fresh
network. A classifier trained first is a run of its own in
`<workdir>/helper`: standard training of the same model on the same data
for the source's epochs, selected by validation clean accuracy; it resumes
like any run and its training time counts in the run's. HAT keeps its
helper frozen; LBGAT trains its guide on with the robust network and saves
the guide of the selected epoch beside `model.keras` as `guide.keras` (a
standard classifier: images -> logits).
"""

from __future__ import annotations

import os

import ml_collections

from advmask_tf.config_sections import MixOptions
from advmask_tf.errors import InputError
from advmask_tf.models.loading import load_keras_file
from advmask_tf.training.objectives import OBJECTIVES

HELPER_DIR = "helper"
GUIDE_FILE = "guide.keras"


def _objective(config):
    from advmask_tf.runs.assembly import objective_spec

    return OBJECTIVES.build(objective_spec(config))


def guide_kind(config) -> str | None:
    """The config's objective's guide: None, "trained" or "frozen"."""
    return OBJECTIVES.get(config.method.name).guide


def guide_source(config):
    """Where the config's guide starts (a `GuideSource`), or None for an
    objective without a guide."""
    if guide_kind(config) is None:
        return None
    return _objective(config).guide_source(int(config.train.epochs))


def trains_helper_first(config) -> bool:
    """Whether the run trains a standard classifier first (`helper/`)."""
    source = guide_source(config)
    return source is not None and not source.path and source.epochs > 0


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
    """The run that trains the classifier a guide starts from."""
    return standard_config(config, guide_source(config).epochs)


def helper_workdir(workdir: str) -> str:
    return os.path.join(workdir, HELPER_DIR)


def start_path(config, workdir: str) -> str | None:
    """The saved classifier the guide starts from (None: fresh)."""
    source = guide_source(config)
    if source is None or not (source.path or source.epochs):
        return None
    return source.path or os.path.join(helper_workdir(workdir),
                                       "model.keras")


def guide_model_path(config, workdir: str) -> str | None:
    """Where the run's guide is once it has trained: LBGAT's
    `<workdir>/guide.keras`, HAT's helper; None without a guide."""
    if guide_kind(config) == "trained":
        return os.path.join(workdir, GUIDE_FILE)
    return start_path(config, workdir)


def check_guide_settings(config) -> None:
    """What a run with a guide cannot do, refused before any work."""
    source = guide_source(config)
    if source is None:
        return
    if source.path and not os.path.exists(source.path):
        raise InputError(
            f"the guide's classifier {source.path!r} (method.helper_from / "
            "method.guide_from) does not exist; give a saved standard "
            "classifier (.keras), or '' to train one first in the work "
            "directory.")
    if trains_helper_first(config) and config.distribute == "multi_worker":
        raise InputError(
            f"method.name={config.method.name!r} trains its guide's "
            "classifier first on one machine; under distribute='multi_worker'"
            " give method.helper_from / method.guide_from (one trained "
            "beforehand).")
    if config.train.trainable != "all":
        raise InputError(
            f"method.name={config.method.name!r} trains with a guide network;"
            f" it needs train.trainable='all', received "
            f"{config.train.trainable!r}.")
    defaults = MixOptions()
    if config.mix.enabled and (
            int(config.mix.accurate_epochs) != defaults.accurate_epochs
            or int(config.mix.accurate_width) != defaults.accurate_width):
        raise InputError(
            f"with method.name={config.method.name!r} the mixture's accurate "
            "classifier is the run's guide, so mix.accurate_epochs and "
            "mix.accurate_width train nothing; received "
            f"mix.accurate_epochs={int(config.mix.accurate_epochs)}, "
            f"mix.accurate_width={int(config.mix.accurate_width)} (leave "
            "them at their defaults; the guide's start: method.guide_epochs "
            "or method.helper_epochs).")


def _checked_classifier(path: str, what: str, data):
    classifier = load_keras_file(path, what, compile=False)
    shape = tuple(classifier.input_shape[1:]) if not isinstance(
        classifier.input_shape, dict) else None
    if shape != tuple(data.image_shape) or \
            classifier.output_shape[-1] != data.num_classes:
        raise InputError(
            f"{what}: {path} maps {shape} images to "
            f"{classifier.output_shape[-1]} classes; this run needs "
            f"{tuple(data.image_shape)} images and {data.num_classes} "
            "classes (a plain classifier, images -> logits).")
    return classifier


def build_guide(config, workdir: str, data, fresh):
    """The run's guide network, or None: HAT's helper loaded; LBGAT's
    `fresh()` network, its weights those of the classifier it starts from
    when there is one. `fresh` builds a network like the run's."""
    kind = guide_kind(config)
    if kind is None:
        return None
    path = start_path(config, workdir)
    what = ("method.helper_from / method.guide_from"
            if guide_source(config).path else "the classifier trained first")
    if kind == "frozen":
        return _checked_classifier(path, what, data)
    guide = fresh()
    if path:
        start = _checked_classifier(path, what, data)
        mine = [tuple(w.shape) for w in guide.weights]
        theirs = [tuple(w.shape) for w in start.weights]
        if mine != theirs:
            raise InputError(
                f"{what}: {path} is another architecture than the run's "
                "network; LBGAT's guide starts from a classifier of the same "
                "model.name, norm and options.")
        guide.set_weights(start.get_weights())
    return guide


def timed_runs(config, workdir: str) -> list[str]:
    """The work directories whose training time is the run's: the run and
    the classifier it trained first."""
    runs = [workdir]
    if trains_helper_first(config):
        runs.append(helper_workdir(workdir))
    return runs
