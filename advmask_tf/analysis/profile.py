"""Every diagnostic of one network on one dataset, in one pass over it."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from advmask_tf.analysis.margins import (
    boundary_distance,
    confidence,
    fraction_within,
    logit_margins,
    pgd_fooled,
)
from advmask_tf.analysis.operators import linear_operators
from advmask_tf.analysis.smoothness import (
    feature_model,
    pgd_perturbation,
    smoothness_batch,
)
from advmask_tf.analysis.spectra import layer_spectra
from advmask_tf.attacks import noise_keys_for
from advmask_tf.data.pipeline import split_inputs
from advmask_tf.errors import InputError
from advmask_tf.evaluation.robust import progress_bar
from advmask_tf.models import at_strength, is_conditioned

ANALYSIS_SALT = 7_000_001  # keys the random starts apart from evaluation's
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SUMMARY_FORMAT = 2  # bump when the summary's layout changes (drops caches)


@dataclasses.dataclass
class AnalysisSettings:
    """What `profile_network` measures, and how hard it attacks.

    Attributes:
        eps: Linf radius of the smoothness perturbations (random corner and
            PGD), and the radius whose boundary fraction the summary quotes.
        max_eps: the largest radius of the boundary-distance bisection.
        bisections: halvings of [0, max_eps] per point.
        attack_steps: PGD steps at each bisection radius.
        smoothness_steps: PGD steps of the adversarial smoothness delta.
        power_iterations: power-iteration steps per convolution.
        radii_points: how many radii in [0, max_eps] the boundary curve has.

    >>> AnalysisSettings(eps=0.1, max_eps=0.05)
    Traceback (most recent call last):
    ...
    advmask_tf.errors.InputError: max_eps (0.05) must be >= eps (0.1): the boundary ...
    """

    eps: float = 0.1
    max_eps: float = 0.3
    bisections: int = 8
    attack_steps: int = 20
    smoothness_steps: int = 10
    power_iterations: int = 100
    radii_points: int = 13

    def __post_init__(self):
        if not self.eps > 0:
            raise InputError(f"eps must be > 0; received {self.eps}.")
        if self.max_eps < self.eps:
            raise InputError(
                f"max_eps ({self.max_eps}) must be >= eps ({self.eps}): the "
                "boundary curve has to reach the smoothness radius.")
        for name in ("bisections", "attack_steps", "smoothness_steps",
                     "power_iterations", "radii_points"):
            value = getattr(self, name)
            low = 0 if name == "bisections" else 1
            if not isinstance(value, (int, np.integer)) or value < low:
                raise InputError(f"{name} must be an integer >= {low}; "
                                 f"received {value!r}.")

    @property
    def radii(self) -> list:
        return [float(r) for r in np.linspace(0.0, self.max_eps,
                                              self.radii_points)]


def _stats(values) -> dict:
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    return {"mean": float(finite.mean()) if finite.size else None,
            "quantiles": {str(q): float(np.quantile(values, q))
                          for q in QUANTILES}}


def summarize(points: dict, spectra: dict, layers: list,
              settings: AnalysisSettings) -> dict:
    """The JSON summary of a network's per-point measurements."""
    correct = points["correct"]
    margins = points["margin"]
    product = spectra["product"]
    smoothness = {}
    for index, name in enumerate(layers):
        random = float(points["random_ratio"][index].mean())
        adversarial = float(points["adversarial_ratio"][index].mean())
        smoothness[name] = {"random": random, "adversarial": adversarial,
                            "adversarial_over_random": adversarial
                            / max(random, 1e-30)}
    distance = points["distance"]
    return {
        "format": SUMMARY_FORMAT,
        "points": int(len(correct)),
        "accuracy": float(correct.mean()),
        "spectra": spectra,
        "smoothness": smoothness,
        "smoothness_order": list(layers),
        "margin": _stats(margins),
        "normalized_margin": _stats(margins / product),
        "confidence": {**_stats(points["confidence"]),
                       "correct_mean": float(points["confidence"][
                           correct].mean()) if correct.any() else None,
                       "wrong_mean": float(points["confidence"][
                           ~correct].mean()) if (~correct).any() else None},
        "boundary": {"radii": settings.radii,
                     "fraction_within": fraction_within(distance,
                                                        settings.radii),
                     "fraction_within_eps": fraction_within(
                         distance, [settings.eps])[0],
                     "median_distance": float(np.median(distance)),
                     "unbroken_at_max_eps": float(np.isinf(distance).mean())},
        "settings": dataclasses.asdict(settings),
    }


def profile_network(network: keras.Model, dataset, settings: AnalysisSettings,
                    condition: float | None = None, verbose: int = 0):
    """Spectra, smoothness, margins, confidence and boundary distances.

    Args:
        network: a trained Keras network (pixels -> logits); a conditioned
            one is analysed as the classifier it is told `condition`.
        dataset: batches of (features, label), as `evaluate` takes them.
        settings: an `AnalysisSettings`.
        condition: the strength a conditioned network is told (default 0).
        verbose: 1 shows a progress bar.

    Returns:
        (summary dict, per-point arrays dict: "correct", "margin",
        "confidence", "distance", and (layers, points) "random_ratio" /
        "adversarial_ratio").

    Example:

    >>> from advmask_tf.models import build_model
    >>> net = build_model("small_cnn", (8, 8, 1), 3, width=2, dense_units=4)
    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     (tf.fill((4, 8, 8, 1), 0.5), tf.zeros(4, tf.int64))).batch(2)
    >>> summary, points = profile_network(
    ...     net, data, AnalysisSettings(bisections=2, attack_steps=2,
    ...                                 smoothness_steps=2,
    ...                                 power_iterations=5))
    >>> summary["points"], points["random_ratio"].shape
    (4, (7, 4))
    """
    condition = 0.0 if condition is None else float(condition)
    operators = linear_operators(network, condition)
    spectra = layer_spectra(operators, settings.power_iterations)
    layers = [op.output_layer for op in operators]
    extractor = feature_model(network, layers)
    classifier = at_strength(network, condition)
    features = at_strength(extractor, condition) if is_conditioned(
        network) else extractor

    @tf.function(reduce_retracing=True)
    def feature_list(image):
        out = features(image, training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    @tf.function(reduce_retracing=True)
    def predict(image):
        return classifier(image, training=False)

    fooled = pgd_fooled(classifier, settings.attack_steps)
    perturb = pgd_perturbation(classifier, settings.eps,
                               settings.smoothness_steps)

    parts = {key: [] for key in ("correct", "margin", "confidence",
                                 "distance", "random_ratio",
                                 "adversarial_ratio")}
    progress = progress_bar(dataset) if verbose else None
    seen = 0
    for step, batch in enumerate(dataset):
        image, index = split_inputs(batch[0])
        label = tf.cast(batch[1], tf.int32)
        if index is None:
            index = tf.range(tf.shape(label)[0], dtype=tf.int64) + seen
        keys = noise_keys_for(index, ANALYSIS_SALT)
        logits = predict(image).numpy()
        parts["correct"].append(logits.argmax(1) == label.numpy())
        parts["margin"].append(logit_margins(logits, label.numpy()))
        parts["confidence"].append(confidence(logits))
        parts["distance"].append(boundary_distance(
            classifier, image, label, settings.max_eps, settings.bisections,
            noise_keys=keys, fooled=fooled))
        ratios = smoothness_batch(feature_list, perturb, image, label, keys,
                                  settings.eps, seed=step)
        parts["random_ratio"].append(ratios["random"])
        parts["adversarial_ratio"].append(ratios["adversarial"])
        seen += len(logits)
        if progress is not None:
            progress.update(step + 1)
    if not seen:
        raise InputError("profile_network() received an empty dataset.")
    points = {key: np.concatenate(value, axis=-1)
              for key, value in parts.items()}
    return summarize(points, spectra, layers, settings), points
