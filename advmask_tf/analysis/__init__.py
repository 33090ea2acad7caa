"""Diagnostics of how robustness regularises a network (Wen, Li, Jia 2020).

For any trained Keras network (zoo or user-built functional model):

- `linear_operators`, `layer_spectra`: singular values of every layer's
  operator (dense: SVD; convolutions: the exact circular spectrum by FFT,
  and power iteration for the top value of the true padded operator), norms
  folded in, and the product of the top values;
- `smoothness_batch`: ||f_l(x + d) - f_l(x)|| / ||d|| per layer for random
  and adversarial d;
- `logit_margins`, `confidence`, `boundary_distance` (bisection on the
  smallest eps at which PGD succeeds), `fraction_within`;
- `profile_network`: all of them over a dataset; `analyze_workdir` /
  `compare`: the same for work directories, cached, with JSON, markdown,
  PNG plots and TensorBoard (the `advmask-analyze` command).
"""

from advmask_tf.analysis.margins import (
    boundary_distance,
    confidence,
    fraction_within,
    logit_margins,
)
from advmask_tf.analysis.operators import LinearOperator, linear_operators
from advmask_tf.analysis.profile import AnalysisSettings, profile_network
from advmask_tf.analysis.runs import analyze_workdir, compare
from advmask_tf.analysis.smoothness import (
    feature_model,
    pgd_perturbation,
    smoothness_batch,
)
from advmask_tf.analysis.spectra import (
    conv_operator_norm,
    conv_singular_values,
    layer_spectra,
)

__all__ = [
    "AnalysisSettings",
    "LinearOperator",
    "analyze_workdir",
    "boundary_distance",
    "compare",
    "confidence",
    "conv_operator_norm",
    "conv_singular_values",
    "feature_model",
    "fraction_within",
    "layer_spectra",
    "linear_operators",
    "logit_margins",
    "pgd_perturbation",
    "profile_network",
    "smoothness_batch",
]
