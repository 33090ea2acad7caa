"""Evaluating any saved Keras classifier (pixels in [0, 1] -> logits), not
only a work directory's: `advmask-eval --model=PATH.keras --out=DIR`.

The dataset and the evaluation come from the same config blocks a run has
(--config.data.* picks the test set, --config.eval.* the radius, budgets
and checks); the reports go to `out`, which one evaluation holds at a time.
"""

from __future__ import annotations

import os

import keras
import ml_collections

from advmask_tf.configs_lib import base_config
from advmask_tf.data.pipeline import build_data
from advmask_tf.errors import InputError
from advmask_tf.io_utils import check_writable
from advmask_tf.models.conditioning import is_conditioned
from advmask_tf.models.loading import load_keras_file
from advmask_tf.plotting import dataset_name
from advmask_tf.runs.assembly import eval_eps, evaluation_attacks
from advmask_tf.runs.evaluate import (
    evaluate_network,
    evaluation_tag,
    requested_points,
    write_reports,
)
from advmask_tf.runs.field_checks import check_fields
from advmask_tf.runs.lock import holding


def model_config(overrides: dict | None = None):
    """The base config with {"data.<field>" / "eval.<field>": value}
    overrides applied and checked (an evaluation of a model file has no
    run, so only the test data and the evaluation can be chosen).

    >>> model_config({"eval.eps": 0.05}).eval.eps
    0.05
    """
    config = base_config()
    for key, value in (overrides or {}).items():
        section, _, field = key.partition(".")
        if section not in ("data", "eval") or field not in config[section]:
            raise InputError(
                f"--model evaluations take --config.data.<field> and "
                f"--config.eval.<field>; received {key}={value!r}.")
        config[section][field] = value
    check_fields(config)
    return config


def evaluated_network(model, path: str):
    """The classifier inside `model`: an `AdversarialModel` saved with
    `model.save(...)` (or by ModelCheckpoint during `fit`) is evaluated
    through its network; a model of several outputs is refused."""
    network = getattr(model, "network", None)
    if isinstance(network, keras.Model):
        model = network
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) != 1:
        raise InputError(
            f"--model: {path} has {len(outputs) or 'no symbolic'} outputs; "
            "an evaluation takes a classifier with one output, the logits "
            "(save that head alone, e.g. keras.Model(net.input, "
            "net.outputs[0])).")
    return model


def check_model_fits(network, path: str, data, condition) -> None:
    """Refuses, naming the flag, a model that cannot be evaluated on `data`
    as asked: other input shape or class count, a conditioned network
    without --condition_eps, or --condition_eps for a plain one."""
    wanted = tuple(data.image_shape)
    image = (network.input["image"] if is_conditioned(network)
             else network.inputs[0])
    shape = tuple(image.shape[1:])
    if shape != wanted:
        raise InputError(
            f"--model: {path} takes inputs of shape {shape}; the test set "
            f"has images of shape {wanted}: choose its dataset with "
            "--config.data.source (and .tfds_name or .path).")
    classes = network.output_shape[-1]
    if classes != data.num_classes:
        raise InputError(
            f"--model: {path} has {classes} outputs; the test set has "
            f"{data.num_classes} classes.")
    if is_conditioned(network) and condition is None:
        raise InputError(
            f"--condition_eps: {path} is conditioned on a strength; give "
            "the strength to tell it (0 for its clean mode, the eval eps "
            "for its robust one); received none.")
    if not is_conditioned(network) and condition is not None:
        raise InputError(
            f"--condition_eps: {path} is not a conditioned network; "
            f"received --condition_eps={condition}; leave the flag out.")


@holding("advmask-eval")
def evaluate_model_file(out: str, path: str, limit: int | None = None,
                        attacks=None, checks: bool | None = None,
                        condition: float | None = None,
                        overrides: dict | None = None,
                        verbose: int = 1) -> dict:
    """Evaluates the classifier saved at `path` on a test set; writes
    <out>/<tag>.json, .md and .robustbench.json (tag as `evaluation_tag`,
    named after the model file). Returns the report.

    Example (a tiny model on 50 Fashion-MNIST test images):

    >>> import keras, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> net = keras.Sequential([keras.Input((28, 28, 1)),
    ...                         keras.layers.Flatten(),
    ...                         keras.layers.Dense(10)])
    >>> net.save(f"{folder}/net.keras")
    >>> report = evaluate_model_file(f"{folder}/out", f"{folder}/net.keras",
    ...                              limit=50, attacks="pgd", checks=False,
    ...                              verbose=0)
    >>> report["clean"]["total"]
    50
    """
    config = model_config(overrides)
    if condition is not None and not 0 <= condition <= 1:
        raise InputError(f"--condition_eps must be a strength in [0, 1]; "
                         f"received {condition}.")
    network = evaluated_network(load_keras_file(path, "--model"), path)
    data_config = ml_collections.ConfigDict(config.data.to_dict())
    data_config.validation_size = 0
    data_config.test_limit = requested_points(config, limit)
    data = build_data(data_config, int(config.eval.batch_size),
                      int(config.seed))
    check_model_fits(network, path, data, condition)
    eps = eval_eps(config)
    attack_configs = evaluation_attacks(config, attacks, eps)
    if checks is None:
        checks = bool(config.eval.checks)
    check_writable(out)
    report = evaluate_network(network, data, config, attack_configs, eps,
                              checks, verbose, f"({path})", condition)
    name = os.path.splitext(os.path.basename(path))[0]
    dataset = dataset_name(config.data)
    report["model"] = os.path.abspath(path)
    report["limit"] = int(report["clean"]["total"])
    report["config"] = {"method": name, "eps": eps, "dataset": dataset}
    # The tag's digest covers the eval block; the name adds the test set
    # and the strength told, so no two evaluations share their files.
    label = f"{name}-{dataset.lower().replace(' ', '_')}" + (
        "" if condition is None else f"-told{condition:g}")
    tag = evaluation_tag(config, label, list(attack_configs),
                         data_config.test_limit, checks)
    report["tag"] = tag
    write_reports(report, os.path.join(out, tag + ".json"),
                  os.path.join(out, tag + ".md"), f"{name}, eps {eps}",
                  report["model"])
    return report
