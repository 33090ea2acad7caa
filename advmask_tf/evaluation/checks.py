"""Sanity checks that catch gradient masking, run with every evaluation.

Each check compares attacks on the same test points (the first `points` of
the evaluated set) and reports pass or fail with the figures it compared:

  deterministic  two forward passes on the same batch give the same logits
                 (a randomised model needs EOT attacks, not these; an
                 AutoAttack of the evaluation then runs its rand version).
  large_eps      PGD-CE at a huge radius (default 0.5: every image can reach
                 mid-grey) leaves at most `max_large_eps_accuracy` robust.
  more_steps     PGD-CE with `step_factor` times the steps and `restarts`
                 fresh random starts neither raises accuracy (the attack or
                 model is not deterministic) nor lowers it by more than
                 `tolerance` (the reported PGD has not converged).
  black_box      Square (no gradients) leaves no fewer points robust than
                 each white-box attack of the evaluation, up to `tolerance`.
  logit_scale    PGD-CE on the logits rescaled to a spread of `logit_scale`
                 (so a model cannot hide behind tiny or saturated logits;
                 the logit-scaling attack that broke GAIRAT) is not stronger
                 than plain PGD-CE by more than `tolerance`.

A failed check is logged loudly and kept in the report under "checks".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
from absl import logging

from advmask_tf.attacks.pgd import PGDConfig, noise_keys_for
from advmask_tf.attacks.square import SquareConfig
from advmask_tf.data.pipeline import split_inputs
from advmask_tf.errors import InputError
from advmask_tf.evaluation.ensemble import compile_attack, run_on
from advmask_tf.evaluation.randomised import is_deterministic

# Salt for the extra restarts of `more_steps` (evaluation itself uses -1).
RESTART_SALT = -2


@dataclasses.dataclass
class CheckSettings:
    """What the checks run and how much slack they allow.

    >>> CheckSettings(points=100).points
    100
    """

    points: int = 500
    tolerance: float = 0.02
    large_eps: float = 0.5
    max_large_eps_accuracy: float = 0.02
    step_factor: int = 5
    restarts: int = 2
    square_queries: int = 1000
    logit_scale: float = 10.0

    def __post_init__(self):
        for name in ("points", "step_factor", "restarts", "square_queries"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"checks.{name} must be an integer >= 1; "
                                 f"received {value!r}.")
        for name in ("tolerance", "max_large_eps_accuracy"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise InputError(f"checks.{name} must be in [0, 1); "
                                 f"received {value!r}.")
        if not 0.0 < self.large_eps <= 1.0:
            raise InputError(f"checks.large_eps must be in (0, 1]; received "
                             f"{self.large_eps!r}.")
        if not self.logit_scale > 0.0:
            raise InputError(f"checks.logit_scale must be > 0; received "
                             f"{self.logit_scale!r}.")


def rescaled_logits(network, spread: float):
    """`network` with each sample's logits rescaled to standard deviation
    `spread` (the rescaling factor is held constant under differentiation).

    >>> import keras
    >>> net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> z = rescaled_logits(net, 10.0)(tf.ones((1, 2)), training=False)
    >>> round(float(tf.math.reduce_std(z)), 3)
    10.0
    """

    def forward(x, training=False):
        logits = tf.cast(network(x, training=training), tf.float32)
        std = tf.stop_gradient(tf.math.reduce_std(logits, -1, keepdims=True))
        return spread * logits / (std + 1e-12)

    return forward


def _first_points(dataset, count: int):
    """(images, labels, keys) of the first `count` points, in batches."""
    batches, seen = [], 0
    for features, label in dataset:
        image, index = split_inputs(features)
        if index is None:
            index = tf.range(tf.shape(label)[0], dtype=tf.int64) + seen
        take = min(count - seen, int(tf.shape(label)[0]))
        batches.append((image[:take], tf.cast(label[:take], tf.int32),
                        index[:take]))
        seen += take
        if seen >= count:
            break
    return batches


def _robust(network, attack, batches, clean, salt=-1):
    fn = compile_attack(attack, network)
    masks, start = [], 0
    for image, label, index in batches:
        size = int(tf.shape(label)[0])
        candidates = clean[start:start + size]
        keys = noise_keys_for(index, salt)
        masks.append(candidates & ~run_on(fn, image, label, keys,
                                          candidates))
        start += size
    return np.concatenate(masks)


def _check(passed, value, reference, detail):
    return {"passed": bool(passed), "value": float(value),
            "reference": float(reference), "detail": detail}


def white_box_masks(points: dict, attacks: dict) -> dict:
    """The per-point robust masks of the evaluation's gradient attacks
    (for an ensemble: after its last gradient stage)."""
    masks = {}
    for name, attack in attacks.items():
        if hasattr(attack, "stages"):
            gradient_stages = [stage for stage, a in attack.stages().items()
                               if uses_gradients(a)]
            if gradient_stages:
                masks[f"{name}/{gradient_stages[-1]}"] = \
                    points[f"{name}/{gradient_stages[-1]}"]
        elif uses_gradients(attack):
            masks[name] = points[name]
    return masks


def uses_gradients(attack) -> bool:
    """Whether an attack follows the model's gradients (the default)."""
    return bool(getattr(attack, "uses_gradients", True))


def sanity_checks(network, dataset, eps: float, attacks: dict, points: dict,
                  settings: CheckSettings | None = None,
                  verbose: int = 0) -> dict:
    """Runs the checks on the first `settings.points` points of `dataset`.

    Args:
        network: pixels -> logits.
        dataset: the evaluated dataset, in the order `evaluate` saw it.
        eps: the evaluation radius.
        attacks, points: the attacks `evaluate` ran and the per-point masks
            it returned (its `points=` argument).
        verbose: 1 prints each check's verdict as it finishes.

    Returns:
        {"points": n, <check>: {"passed", "value", "reference", "detail"}}.
    """
    settings = settings or CheckSettings()
    batches = _first_points(dataset, settings.points)
    count = sum(int(tf.shape(b[1])[0]) for b in batches)
    clean = points["clean"][:count]
    results = {"points": count}

    def record(name, check):
        results[name] = check
        if verbose:  # each check as it finishes: they take a while
            print(f"check {name}: {'passed' if check['passed'] else 'FAILED'}"
                  f" ({check['detail']})", flush=True)

    def accuracy(mask):
        return float(np.mean(mask)) if count else 0.0

    first = batches[0][0]
    same = is_deterministic(network, first)
    record("deterministic", _check(
        same, float(same), 1.0,
        "two forward passes agree" if same else
        "two forward passes on the same batch differ: the model is "
        "randomised, so gradient attacks need expectation over "
        "transformation (EOT) and these numbers are not reliable"))

    base_steps = next((a.steps for a in attacks.values()
                       if isinstance(a, PGDConfig) and a.loss == "ce"), 20)
    base = PGDConfig(eps=eps, steps=base_steps)
    base_robust = _robust(network, base, batches, clean)
    base_accuracy = accuracy(base_robust)

    huge = PGDConfig(eps=settings.large_eps, steps=base_steps)
    value = accuracy(_robust(network, huge, batches, clean))
    record("large_eps", _check(
        value <= settings.max_large_eps_accuracy, value,
        settings.max_large_eps_accuracy,
        f"PGD-{base_steps} at eps {settings.large_eps} leaves "
        f"{100 * value:.1f}% robust (allowed: "
        f"{100 * settings.max_large_eps_accuracy:.1f}%)"))

    longer = PGDConfig(eps=eps, steps=base_steps * settings.step_factor)
    strong = _robust(network, longer, batches, clean)
    for restart in range(settings.restarts):
        strong &= _robust(network, longer, batches, clean,
                          salt=RESTART_SALT - restart)
    value = accuracy(strong)
    raised = value > base_accuracy + settings.tolerance
    lowered = value < base_accuracy - settings.tolerance
    record("more_steps", _check(
        not (raised or lowered), value, base_accuracy,
        f"PGD-{longer.steps} with {settings.restarts} extra restarts: "
        f"{100 * value:.1f}% against PGD-{base_steps}'s "
        f"{100 * base_accuracy:.1f}%"
        + ("; more steps RAISED accuracy: the attack or the model is not "
           "deterministic" if raised else "")
        + ("; the shorter attack has NOT CONVERGED" if lowered else "")))

    square = SquareConfig(eps=eps, queries=settings.square_queries)
    square_accuracy = accuracy(_robust(network, square, batches, clean))
    beaten = {name: accuracy(mask[:count]) for name, mask
              in white_box_masks(points, attacks).items()}
    beaten["pgd_ce_check"] = base_accuracy
    worse = {name: value for name, value in beaten.items()
             if square_accuracy < value - settings.tolerance}
    record("black_box", _check(
        not worse, square_accuracy, min(beaten.values()),
        f"Square ({settings.square_queries} queries): "
        f"{100 * square_accuracy:.1f}%"
        + ("; it BEATS the white-box " + ", ".join(
            f"{name} ({100 * v:.1f}%)" for name, v in worse.items())
           + ": their gradients are masked" if worse else
           "; not better than any white-box attack")))

    scaled = accuracy(_robust(rescaled_logits(network, settings.logit_scale),
                              base, batches, clean))
    record("logit_scale", _check(
        scaled >= base_accuracy - settings.tolerance, scaled, base_accuracy,
        f"PGD-{base_steps} on logits rescaled to spread "
        f"{settings.logit_scale}: {100 * scaled:.1f}% against "
        f"{100 * base_accuracy:.1f}% on the raw logits"
        + ("; the CE gradient was MASKED by the logits' scale"
           if scaled < base_accuracy - settings.tolerance else "")))
    return results


def failed_checks(checks: dict) -> list[str]:
    """Names of the failed checks.

    >>> failed_checks({"points": 5, "a": {"passed": False}, "b": {"passed": True}})
    ['a']
    """
    return [name for name, result in checks.items()
            if isinstance(result, dict) and not result["passed"]]


def check_doc(name: str) -> str:
    """Where the documentation explains the check `name`.

    >>> check_doc("logit_scale")
    'docs/evaluation.md#check-logit_scale'
    """
    return f"docs/evaluation.md#check-{name}"


def warn_failed(checks: dict, title: str = "") -> None:
    """Logs every failed check loudly (absl warning, on stderr)."""
    failed = failed_checks(checks)
    if not failed:
        return
    lines = ["", "!" * 72,
             f"!! GRADIENT-MASKING SANITY CHECKS FAILED {title}".rstrip(),
             *(f"!!   {name}: {checks[name]['detail']} (what it means: "
               f"{check_doc(name)})" for name in failed),
             "!! Robust accuracies from the attacks named above are not "
             "trustworthy.", "!" * 72, ""]
    logging.warning("\n".join(lines))
