"""Encodings of a perturbation strength eps as a vector (RobMask's input).

Three kinds, all deterministic functions of eps:

  orthogonal  one random orthogonal row per strength of a set (rows of a
              seeded random orthogonal matrix, as Once-for-All adversarial
              training encodes its coefficient); eps between two strengths of
              the set gets the linear interpolation of their rows.
  one_hot     the same over the identity matrix: one-hot on the set, linear
              between neighbours (dim = number of strengths).
  sinusoidal  [sin(pi 2^k s), cos(pi 2^k s)] for k = 0 .. dim/2 - 1 with
              s = eps / max_eps: defined for any eps.

Eps outside the set's range is clipped to it (orthogonal, one_hot).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from advmask_tf.errors import InputError

ENCODINGS = ("orthogonal", "one_hot", "sinusoidal")


def check_encoding(kind: str, dim: int, strengths, max_eps: float) -> tuple:
    """Validates an encoding's settings; returns the sorted strengths.

    >>> check_encoding("one_hot", 3, [0.1, 0.0, 0.05], 0.1)
    (0.0, 0.05, 0.1)
    """
    if kind not in ENCODINGS:
        raise InputError(
            f"Unknown encoding {kind!r}; expected one of {ENCODINGS}.")
    if not isinstance(dim, (int, np.integer)) or dim < 1:
        raise InputError(f"encoding dim must be an integer >= 1; received "
                         f"{dim!r}.")
    strengths = tuple(sorted(float(s) for s in strengths))
    if any(not math.isfinite(s) or s < 0 for s in strengths):
        raise InputError(
            f"strengths must be finite and >= 0; received {strengths}.")
    if len(set(strengths)) != len(strengths):
        raise InputError(f"strengths must be distinct; received {strengths}.")
    if kind == "sinusoidal":
        if dim % 2:
            raise InputError(
                f"a sinusoidal encoding needs an even dim; received {dim}.")
        if not max_eps > 0:
            raise InputError(
                f"a sinusoidal encoding needs max_eps > 0; received "
                f"{max_eps!r}.")
        return strengths
    if len(strengths) < 2:
        raise InputError(
            f"a {kind} encoding needs at least 2 strengths (say 0 and the "
            f"training eps); received {strengths}.")
    if kind == "one_hot" and dim != len(strengths):
        raise InputError(
            f"a one_hot encoding has one dimension per strength: dim must be "
            f"{len(strengths)}; received {dim}.")
    if kind == "orthogonal" and dim < len(strengths):
        raise InputError(
            f"an orthogonal encoding needs dim >= the number of strengths "
            f"({len(strengths)}); received {dim}.")
    return strengths


def encoding_table(kind: str, dim: int, strengths, seed: int = 0):
    """The rows of the set-based encodings, one per strength (float32).

    >>> table = encoding_table("orthogonal", 8, (0.0, 0.05, 0.1))
    >>> bool(np.allclose(table @ table.T, np.eye(3), atol=1e-5))
    True
    """
    count = len(strengths)
    if kind == "one_hot":
        return np.eye(count, dtype=np.float32)
    if kind == "orthogonal":
        gaussian = np.random.default_rng(seed).standard_normal((dim, dim))
        q, r = np.linalg.qr(gaussian)
        q *= np.sign(np.diag(r))  # a uniformly distributed orthogonal matrix
        return q[:count].astype(np.float32)
    raise InputError(f"encoding {kind!r} has no table.")


def interpolate_rows(eps, strengths, table):
    """Linear interpolation of `table` rows at eps over sorted `strengths`.

    eps: (B,) float. Returns (B, dim).
    """
    points = tf.constant(strengths, dtype=eps.dtype)
    eps = tf.clip_by_value(eps, points[0], points[-1])
    upper = tf.clip_by_value(
        tf.searchsorted(points, eps, side="right"), 1, len(strengths) - 1)
    lower = upper - 1
    low_value = tf.gather(points, lower)
    fraction = (eps - low_value) / (tf.gather(points, upper) - low_value)
    table = tf.cast(table, eps.dtype)
    return (tf.gather(table, lower) * (1.0 - fraction[:, None])
            + tf.gather(table, upper) * fraction[:, None])


def sinusoidal(eps, dim: int, max_eps: float):
    """Sines and cosines of eps / max_eps at octave frequencies: (B, dim).

    >>> sinusoidal(tf.constant([0.0]), 4, 0.1).numpy().round(3).tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    """
    frequencies = math.pi * 2.0 ** tf.range(dim // 2, dtype=eps.dtype)
    angles = (eps / max_eps)[:, None] * frequencies[None, :]
    return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)
