"""Choosing a mixed classifier's map and weight on the validation split.

For every (scale, bias, power) of a grid and every alpha, from logits
computed once:

- clean accuracy: the mixed prediction on the clean validation images,
  exact;
- robust accuracy, estimated as MixedNUTS does: an attacker who controls
  the accurate classifier completely moves at most 1 - alpha of the
  probability, so a point stays right when the robust classifier's mapped
  probability margin p_M(y) - max_{k != y} p_M(k) at its adversarial
  examples (PGD and CW-inf on the robust classifier alone, the worse of
  the two) is at least (1 - alpha) / alpha, and the mixture is right on the
  clean image.

The choice maximises clean accuracy among the settings whose estimated
robust accuracy is at most `robust_drop` below the robust classifier's own
(ties: the more robust). The estimate is a selection rule, not a claim:
the chosen model is then attacked end to end (`runs.mixing`).
"""

from __future__ import annotations

import itertools

import numpy as np
import tensorflow as tf

from advmask_tf.attacks import build_attacks, noise_keys_for
from advmask_tf.data.pipeline import split_inputs
from advmask_tf.models.mixing import MixingMap, mapped_logits
from advmask_tf.progress import StepProgress

SCALES = (1.0, 2.0, 5.0, 10.0)
BIASES = (-1.5, -1.0, -0.5, 0.0)
POWERS = (1.0, 2.0, 4.0)
ALPHAS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
SELECTION_SALT = -7  # the attacks' random starts, apart from the test's


def validation_logits(accurate, robust, dataset, eps: float,
                      pgd_steps: int = 20, cw_steps: int = 20,
                      batches: int | None = None, verbose: int = 0) -> dict:
    """Logits on the validation batches: accurate and robust on the clean
    images, robust on its own PGD and CW-inf examples; and the labels.
    `verbose` shows progress over the (`batches`, when known) batches."""
    attacks = build_attacks("pgd,cw_inf", eps, None)
    attacks = {name: attack.__class__(**{**vars(attack), "steps": steps})
               for (name, attack), steps in zip(attacks.items(),
                                                (pgd_steps, cw_steps))}
    parts = {"labels": [], "accurate": [], "robust": []}
    parts.update({name: [] for name in attacks})
    seen = 0
    progress = StepProgress(batches, "batch", "mixing validation attacks") \
        if verbose else None
    for step, (features, label) in enumerate(dataset):
        image, index = split_inputs(features)
        label = tf.cast(label, tf.int32)
        if index is None:
            index = tf.range(tf.shape(label)[0], dtype=tf.int64) + seen
        keys = noise_keys_for(index, SELECTION_SALT)
        parts["labels"].append(label.numpy())
        parts["accurate"].append(accurate(image, training=False).numpy())
        parts["robust"].append(robust(image, training=False).numpy())
        for name, attack in attacks.items():
            x_adv = attack.run(robust, image, label, noise_keys=keys,
                               compute_success=False).x_adv
            parts[name].append(robust(x_adv, training=False).numpy())
        seen += len(label)
        if progress is not None:
            progress.update(step + 1)
    logits = {key: np.concatenate(value) for key, value in parts.items()}
    logits["attacks"] = sorted(attacks)
    return logits


def _probability_margin(mapped, labels):
    probabilities = tf.nn.softmax(mapped).numpy().astype(np.float64)
    rows = np.arange(len(labels))
    true = probabilities[rows, labels]
    probabilities[rows, labels] = -1.0
    return true - probabilities.max(-1)


def _log_softmax(logits):
    return tf.nn.log_softmax(tf.cast(logits, tf.float32)).numpy()


def select_mixing(logits: dict, robust_drop: float = 0.01, scales=SCALES,
                  biases=BIASES, powers=POWERS, alphas=ALPHAS,
                  top_k: int = 0) -> tuple[MixingMap, list[dict]]:
    """(the chosen `MixingMap`, one row per candidate) from
    `validation_logits`. Each row: the settings, clean accuracy and the
    estimated robust accuracy.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 50)
    >>> sharp = np.eye(3)[y] * 4 + rng.normal(size=(50, 3))
    >>> logits = {"labels": y, "accurate": sharp, "robust": sharp,
    ...           "pgd": sharp - 1, "attacks": ["pgd"]}
    >>> chosen, rows = select_mixing(logits, scales=(1.0,), biases=(0.0,),
    ...                              powers=(1.0,), alphas=(0.9,))
    >>> chosen.alpha
    0.9
    """
    labels = logits["labels"]
    robust_alone = np.ones(len(labels), bool)
    for name in ["robust", *logits["attacks"]]:
        robust_alone &= np.argmax(logits[name], -1) == labels
    floor = robust_alone.mean() - robust_drop
    accurate_log = _log_softmax(logits["accurate"])
    rows = []
    for scale, bias, power in itertools.product(scales, biases, powers):
        mixing = MixingMap(scale=scale, bias=bias, power=power, top_k=top_k)
        robust_log = _log_softmax(mapped_logits(logits["robust"], mixing))
        margins = np.min([_probability_margin(
            mapped_logits(logits[name], mixing), labels)
            for name in logits["attacks"]], axis=0)
        for alpha in alphas:
            mixed = np.logaddexp(accurate_log + np.log1p(-alpha),
                                 robust_log + np.log(alpha))
            clean = np.argmax(mixed, -1) == labels
            robust = clean & (margins >= (1 - alpha) / alpha)
            rows.append({"scale": scale, "bias": bias, "power": power,
                         "alpha": alpha, "top_k": top_k,
                         "clean": float(clean.mean()),
                         "robust_estimate": float(robust.mean())})
    allowed = [row for row in rows if row["robust_estimate"] >= floor]
    if not allowed:  # keep the robust classifier's own answers
        allowed = [max(rows, key=lambda row: row["robust_estimate"])]
    best = max(allowed, key=lambda row: (row["clean"],
                                         row["robust_estimate"]))
    chosen = MixingMap(scale=best["scale"], bias=best["bias"],
                       power=best["power"], alpha=best["alpha"],
                       top_k=top_k)
    for row in rows:
        row["chosen"] = row is best
        row["robust_alone"] = float(robust_alone.mean())
        row["accurate_alone"] = float(
            (np.argmax(logits["accurate"], -1) == labels).mean())
    return chosen, rows


def _top_two_gap(logits):
    """Max softmax probability minus the runner-up's, per sample."""
    probabilities = np.sort(tf.nn.softmax(tf.cast(logits, tf.float32))
                            .numpy().astype(np.float64), axis=-1)
    return probabilities[:, -1] - probabilities[:, -2]


def confidence_gate(logits: dict, thresholds: int = 400) -> dict:
    """What the best gate on the robust classifier's confidence could
    trade, from `validation_logits` (any split): the mixing premise tested
    without a map or a weight.

    The gate lets the accurate classifier decide a point when the robust
    one's top-two probability gap is under a threshold t. Clean accuracy
    is exact; a point counts as robust when the robust classifier is right
    on it and at its attacked points with a probability margin of at least
    t there and on the clean image (otherwise an attacker who controls the
    accurate classifier takes it), as `select_mixing` estimates.

    Returns the thresholds with the clean and robust accuracy at each, and
    the two groups that decide the trade: `gainable` (robust wrong, accurate
    right on the clean image: their robust clean gaps) and `kept` (robust
    right under every attack: their worst margins), with `separation`, the
    chance that a gainable point's gap is under a kept point's margin
    (1: a threshold gains every gainable point for free; 0.5: no better
    than chance).

    Robust wrong on the second point only, and unsure of the fourth:
    gating at a gap above 0.1 gains the second and loses the fourth's
    robustness (one of three kept points has a smaller margin).

    >>> y = np.array([0, 0, 1, 1])
    >>> robust = np.array([[3.0, 0], [0, 0.2], [0, 3.0], [0, 0.1]])
    >>> accurate = np.array([[2.0, 0], [2.0, 0], [0, 2.0], [0, 2.0]])
    >>> logits = {"labels": y, "robust": robust, "accurate": accurate,
    ...           "pgd": robust - [[1, 0], [0, 0], [0, 1], [0, 0]],
    ...           "attacks": ["pgd"]}
    >>> gate = confidence_gate(logits, thresholds=5)
    >>> gate["clean"][0], max(gate["clean"]), round(gate["separation"], 2)
    (0.75, 1.0, 0.67)
    """
    labels = np.asarray(logits["labels"])
    robust_right = np.argmax(logits["robust"], -1) == labels
    accurate_right = np.argmax(logits["accurate"], -1) == labels
    clean_gap = _top_two_gap(logits["robust"])
    worst_margin = np.min([_probability_margin(logits[name], labels)
                           for name in ["robust", *logits["attacks"]]],
                          axis=0)
    kept = worst_margin > 0
    gainable = ~robust_right & accurate_right
    cuts = np.unique(np.concatenate([
        [0.0], np.quantile(np.concatenate([clean_gap, worst_margin[kept]]),
                           np.linspace(0, 1, thresholds)), [1.01]]))
    gated = clean_gap[None, :] < cuts[:, None]
    clean = np.where(gated, accurate_right[None, :], robust_right[None, :])
    # The worst margin includes the clean image's, which equals its gap on
    # a kept point: a kept point above the cut is never gated.
    robust = kept[None, :] & (worst_margin[None, :] >= cuts[:, None])
    gains, keeps = clean_gap[gainable], np.sort(worst_margin[kept])
    separation = float(np.mean(
        (len(keeps) - np.searchsorted(keeps, gains, side="right"))
        / max(len(keeps), 1))) if len(gains) else 1.0
    return {"thresholds": cuts.tolist(),
            "clean": clean.mean(axis=1).tolist(),
            "robust": robust.mean(axis=1).tolist(),
            "gainable": gains.tolist(), "kept": keeps.tolist(),
            "separation": separation}
