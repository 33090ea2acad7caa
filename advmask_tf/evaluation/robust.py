"""Robust evaluation: clean accuracy and accuracy under a set of attacks."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from advmask_tf.attacks.pgd import noise_keys_for
from advmask_tf.attacks.registry import AttackBudgets, build_attacks
from advmask_tf.data.pipeline import split_inputs
from advmask_tf.data.validation import check_logit_outputs, check_pixels
from advmask_tf.errors import InputError
from advmask_tf.evaluation.ensemble import cascade, compile_attack, run_on
from advmask_tf.evaluation.inputs import class_labels, evaluation_batches
from advmask_tf.io_utils import atomic_write_text
from advmask_tf.models.conditioning import is_conditioned
from advmask_tf.progress import StepProgress
from advmask_tf.training.adversarial_model import AdversarialModel

# Evaluation random starts are keyed by (example index, this salt): the same
# points get the same starts in every evaluation, on any device layout.
EVALUATION_SALT = -1


def default_attacks(eps: float, pgd_steps: int = 20, cw_steps: int = 20):
    """The protocol's gradient attacks: PGD-20 on CE and CW-inf (margin loss).

    Both use step eps/4 and a uniform random start (METHODS.md protocol).

    >>> sorted(default_attacks(0.1))
    ['cw_inf', 'pgd20']
    """
    return build_attacks("pgd,cw_inf", eps, AttackBudgets(
        pgd_steps=pgd_steps, cw_steps=cw_steps))


def _network_of(model):
    """The image -> logits function to evaluate."""
    if isinstance(model, AdversarialModel):
        model = model.network
    if is_conditioned(model):
        raise InputError(
            f"network {model.name!r} is conditioned on eps: evaluate the "
            "classifier it is at one strength, "
            "advmask_tf.models.at_strength(network, eps).")
    return model


def _input_rank(network) -> int | None:
    """The rank of the image batches `network` takes, when it says."""
    try:
        inputs = network.inputs
    except (AttributeError, ValueError):
        return None
    return len(inputs[0].shape) if inputs and len(inputs) == 1 else None


def _settings(attack) -> dict:
    if hasattr(attack, "settings"):
        return attack.settings()
    settings = dict(vars(attack))
    settings["kind"] = type(attack).__name__
    return settings


def progress_bar(dataset, label: str = "") -> StepProgress:
    """Progress over `dataset`'s batches: a bar on a terminal, a line with
    the ETA every 30 s in a log file."""
    batches = int(tf.data.experimental.cardinality(dataset))
    return StepProgress(batches if batches > 0 else None, "batch", label)


def evaluate(model, dataset, attacks: dict | None = None, eps: float = 0.1,
             verbose: int = 0, points: dict | None = None) -> dict:
    """Clean and robust accuracy of `model` on `dataset`, with counts.

    A point counts as robust under an attack when it is classified right
    clean and the attack found no misclassified point in the ball (for PGD:
    at no iterate). Each attack runs only on the clean-correct points; an
    ensemble (an attack with `stages()`, such as `AutoAttackConfig`) runs its
    stages in turn, each on the points the earlier ones left robust.
    `worst_case` is robust under all the attacks at once (per point).

    Args:
        model: a network (pixels -> logits) or an `AdversarialModel`; a
            conditioned network as `at_strength(network, eps)`.
        dataset: a tf.data.Dataset of `(features, label)`, batched or not,
            or an `(images, labels)` pair of arrays; features a dict with
            "image" (and "index", which keys the random starts) or a bare
            image tensor; labels integers of shape (N,) or (N, 1), or
            one-hot rows, as `fit` takes them.
        attacks: name -> attack config (`PGDConfig`, `APGDConfig`,
            `SquareConfig`, `AutoAttackConfig`); default `default_attacks(eps)`.
        verbose: 1 shows a progress bar.
        points: if a dict is given, it receives per-point bool arrays in
            dataset order: "clean", one per attack, "worst_case", and one per
            ensemble stage ("<ensemble>/<stage>", robust after that stage).

    Returns:
        {"clean": {"accuracy", "correct", "total"}, <attack>: {...},
        "worst_case": {...}, "attacks": {<attack>: settings}}; an
        ensemble's entry also holds "stages": per stage the points
        attacked, broken and still robust.

    Example:

    >>> import keras
    >>> net = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
    ...                         keras.layers.Dense(2)])
    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     (tf.fill((4, 2, 2, 1), 0.5), tf.zeros(4, tf.int64))).batch(2)
    >>> report = evaluate(net, data, eps=0.1)
    >>> report["clean"]["total"]
    4
    """
    network = _network_of(model)
    attacks = attacks if attacks is not None else default_attacks(eps)
    compiled = {}
    for name, attack in attacks.items():
        if hasattr(attack, "stages"):
            compiled[name] = {stage: compile_attack(stage_attack, network)
                              for stage, stage_attack
                              in attack.stages().items()}
        else:
            compiled[name] = compile_attack(attack, network)

    @tf.function(reduce_retracing=True)
    def predict(image):
        return tf.argmax(network(image, training=False), -1,
                         output_type=tf.int32)

    masks = {name: [] for name in ["clean", *attacks, "worst_case"]}
    stage_counts = {}
    for name, fn in compiled.items():
        if isinstance(fn, dict):
            stage_counts[name] = {}
            for stage in fn:
                masks[f"{name}/{stage}"] = []
    total = 0
    dataset = evaluation_batches(dataset, image_rank=_input_rank(network))
    progress = progress_bar(dataset, "evaluation") if verbose else None
    for step, (features, label) in enumerate(dataset):
        image, index = split_inputs(features)
        check_pixels(image, "evaluate")
        if step == 0:
            probe = network(image[:16], training=False)
            if isinstance(probe, (list, tuple, dict)):
                raise InputError(
                    f"evaluate() takes a classifier with one output, the "
                    f"logits; {network.name!r} has {len(probe)} outputs.")
            check_logit_outputs(probe, "the evaluated network")
            num_classes = int(probe.shape[-1])
        label = class_labels(label, num_classes)
        if index is None:  # bare images: key by position in the dataset
            index = tf.range(tf.shape(label)[0], dtype=tf.int64) + total
        keys = noise_keys_for(index, EVALUATION_SALT)
        clean = (predict(image) == label).numpy()
        worst = clean.copy()
        masks["clean"].append(clean)
        for name, fn in compiled.items():
            if isinstance(fn, dict):
                robust, counts, after = cascade(fn, image, label, keys, clean)
                _add_counts(stage_counts[name], counts)
                for stage, mask in after.items():
                    masks[f"{name}/{stage}"].append(mask)
            else:
                robust = clean & ~run_on(fn, image, label, keys, clean)
            masks[name].append(robust)
            worst &= robust
        masks["worst_case"].append(worst)
        total += len(clean)
        if progress is not None:
            # Every attack and ensemble stage, robust so far, in run order.
            progress.update(step + 1, [
                (name, int(np.concatenate(parts).sum()) / total)
                for name, parts in masks.items() if name != "worst_case"]
                + [("worst", int(np.concatenate(masks["worst_case"]).sum())
                    / total)])
    if total == 0:
        raise InputError("evaluate() received an empty dataset.")
    masks = {name: np.concatenate(parts) for name, parts in masks.items()}
    report = {name: _entry(int(mask.sum()), total)
              for name, mask in masks.items() if "/" not in name}
    for name, stages in stage_counts.items():
        report[name]["stages"] = {
            stage: {**counts, "accuracy": counts["robust"] / total}
            for stage, counts in stages.items()}
    report["attacks"] = {name: _settings(a) for name, a in attacks.items()}
    if points is not None:
        points.update(masks)
    return report


def _entry(correct: int, total: int) -> dict:
    return {"accuracy": correct / total, "correct": correct, "total": total}


def _add_counts(into: dict, counts: dict) -> None:
    for stage, values in counts.items():
        slot = into.setdefault(stage, dict.fromkeys(values, 0))
        for key, value in values.items():
            slot[key] += value


def report_to_json(report: dict, path: str | None = None) -> str:
    """Serialises a report; writes it atomically when `path` is given."""
    text = json.dumps(report, indent=2, sort_keys=True, default=_jsonable)
    if path:
        atomic_write_text(path, text + "\n")
    return text


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {value!r}")
