"""Robust evaluation: clean accuracy and accuracy under a set of attacks."""

from __future__ import annotations

import json
import sys

import keras
import numpy as np
import tensorflow as tf

from advmask_tf.attacks.pgd import PGDConfig, noise_keys_for
from advmask_tf.io_utils import atomic_write_text
from advmask_tf.training.adversarial_model import after, robust_mask, split_inputs

# Evaluation random starts are keyed by (example index, this salt): the same
# points get the same starts in every evaluation, on any device layout.
EVALUATION_SALT = -1


def default_attacks(eps: float, pgd_steps: int = 20, cw_steps: int = 20):
    """The protocol's gradient attacks: PGD-20 on CE and CW-inf (margin loss).

    Both use step eps/4 and a uniform random start (METHODS.md protocol).

    >>> sorted(default_attacks(0.1))
    ['cw_inf', 'pgd20']
    """
    return {
        f"pgd{pgd_steps}": PGDConfig(eps=eps, steps=pgd_steps, loss="ce"),
        "cw_inf": PGDConfig(eps=eps, steps=cw_steps, loss="cw"),
    }


def _network_of(model):
    return getattr(model, "network", model)


def evaluate(model, dataset, attacks: dict | None = None, eps: float = 0.1,
             verbose: int = 0) -> dict:
    """Clean and robust accuracy of `model` on `dataset`, with counts.

    A point counts as robust under an attack when it is classified right
    clean and at every attack iterate; `worst_case` is robust under all the
    attacks at once (per point).

    Args:
        model: a network (pixels -> logits) or an `AdversarialModel`.
        dataset: batches of `(features, label)`; features a dict with
            "image" or a bare image tensor.
        attacks: name -> `PGDConfig`; default `default_attacks(eps)`.
        verbose: 1 shows a progress bar.

    Returns:
        {"clean": {"accuracy", "correct", "total"}, <attack>: {...},
         "worst_case": {...}, "attacks": {<attack>: settings}}.

    Example:

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

    @tf.function
    def batch_results(image, label, keys):
        label = tf.cast(label, tf.int32)
        clean_correct = tf.equal(
            tf.argmax(network(image, training=False), -1, output_type=tf.int32),
            label)
        survived = {}
        previous = clean_correct
        for name, attack in attacks.items():
            with after(previous):  # one attack at a time (see `after`)
                result = attack.run(network, image, label, noise_keys=keys)
            survived[name] = previous = tf.logical_and(
                clean_correct, robust_mask(result, attack) > 0)
        return clean_correct, survived

    counts = {name: 0 for name in ["clean", *attacks, "worst_case"]}
    total = 0
    progress = None
    if verbose:
        batches = int(tf.data.experimental.cardinality(dataset))
        progress = keras.utils.Progbar(
            batches if batches > 0 else None, unit_name="batch",
            verbose=1 if sys.stdout.isatty() else 2)
    for step, batch in enumerate(dataset):
        features, label = batch[0], batch[1]
        image, index = split_inputs(features)
        if index is None:  # bare images: key by position in the dataset
            index = tf.range(tf.shape(label)[0], dtype=tf.int64) + total
        clean_correct, survived = batch_results(
            image, label, noise_keys_for(index, EVALUATION_SALT))
        total += int(tf.shape(label)[0])
        counts["clean"] += int(tf.reduce_sum(tf.cast(clean_correct, tf.int32)))
        worst = clean_correct.numpy()
        for name, mask in survived.items():
            mask = mask.numpy()
            counts[name] += int(mask.sum())
            worst &= mask
        counts["worst_case"] += int(worst.sum())
        if progress is not None:
            progress.update(step + 1, [("clean", counts["clean"] / total)])
    if total == 0:
        raise ValueError("evaluate() received an empty dataset.")
    report = {name: {"accuracy": count / total, "correct": count,
                     "total": total} for name, count in counts.items()}
    report["attacks"] = {name: dict(vars(a)) for name, a in attacks.items()}
    return report


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


def results_table(rows: dict) -> str:
    """A markdown table: one row per run, columns clean and each attack.

    >>> print(results_table({"madry": {"clean": {"accuracy": 0.8, "correct": 8,
    ...                                          "total": 10}}}))
    | run | clean |
    | --- | --- |
    | madry | 80.00% (8/10) |
    """
    columns = []
    for report in rows.values():
        for name in report:
            if name != "attacks" and name not in columns:
                columns.append(name)
    lines = ["| run | " + " | ".join(columns) + " |",
             "| --- | " + " | ".join("---" for _ in columns) + " |"]
    for run, report in rows.items():
        cells = []
        for name in columns:
            entry = report.get(name)
            cells.append(
                f"{100 * entry['accuracy']:.2f}% ({entry['correct']}/"
                f"{entry['total']})" if entry else "")
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
