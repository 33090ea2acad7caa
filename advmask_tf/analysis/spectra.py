"""Singular values of a network's layer operators.

Dense layers: the SVD of the kernel. Convolutions: the exact spectrum of the
circular convolution on the layer's input size, by the FFT method of Sedghi,
Gupta and Long ("The singular values of convolutional layers", ICLR 2019):
the operator is block-diagonalised by the 2-D DFT, and its singular values
are those of the n*n small (cin, cout) matrices of the kernel's transform.
A strided convolution is first rewritten as a stride-1 convolution of the
space-to-depth input (its polyphase form), which keeps the spectrum exact.
Zero padding makes the true operator differ slightly from the circular one;
its top singular value comes from power iteration on the padded operator
(`conv_operator_norm`), which is what the spectral-norm product uses.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from advmask_tf.analysis.operators import LinearOperator
from advmask_tf.errors import InputError


def polyphase_kernel(kernel: np.ndarray, strides) -> np.ndarray:
    """The stride-1 kernel acting on space_to_depth(x, s) that equals the
    stride-s convolution (on circular inputs; same singular values).

    >>> polyphase_kernel(np.ones((3, 3, 2, 4)), (2, 2)).shape
    (2, 2, 8, 4)
    """
    sh, sw = strides
    kh, kw, cin, cout = kernel.shape
    ph, pw = -kh % sh, -kw % sw
    kernel = np.pad(kernel, ((0, ph), (0, pw), (0, 0), (0, 0)))
    kh, kw = kh + ph, kw + pw
    kernel = kernel.reshape(kh // sh, sh, kw // sw, sw, cin, cout)
    return kernel.transpose(0, 2, 1, 3, 4, 5).reshape(
        kh // sh, kw // sw, sh * sw * cin, cout)


def conv_singular_values(kernel: np.ndarray, input_hw, strides=(1, 1)
                         ) -> np.ndarray:
    """All singular values (descending) of the circular convolution of
    `kernel` (kh, kw, cin, cout) on inputs of spatial size `input_hw`.

    Needs each input side divisible by its stride (and, after the
    polyphase rewrite, at least the kernel size).

    >>> identity = np.zeros((3, 3, 1, 1)); identity[1, 1] = 2.0
    >>> conv_singular_values(identity, (4, 4)).round(6).tolist()[:3]
    [2.0, 2.0, 2.0]
    """
    h, w = (int(v) for v in input_hw)
    sh, sw = (int(v) for v in strides)
    if h % sh or w % sw:
        raise InputError(
            f"input size {(h, w)} is not divisible by the strides "
            f"{(sh, sw)}: the circular spectrum of this convolution is not "
            "defined; use conv_operator_norm for its top singular value.")
    if (sh, sw) != (1, 1):
        kernel = polyphase_kernel(kernel, (sh, sw))
        h, w = h // sh, w // sw
    kh, kw = kernel.shape[:2]
    if kh > h or kw > w:
        raise InputError(f"kernel {(kh, kw)} is larger than the input "
                         f"{(h, w)} it is applied to.")
    transform = np.fft.fft2(kernel, (h, w), axes=(0, 1))
    values = np.linalg.svd(transform, compute_uv=False)
    return np.sort(values.ravel())[::-1]


def conv_operator_norm(kernel: np.ndarray, input_shape, strides=(1, 1),
                       padding: str = "same", iterations: int = 100,
                       seed: int = 0) -> float:
    """Top singular value of the true (zero-padded, strided) convolution on
    inputs of `input_shape` (H, W, C), by power iteration on A^T A.

    >>> identity = np.zeros((3, 3, 1, 1)); identity[1, 1] = 2.0
    >>> round(conv_operator_norm(identity, (5, 5, 1)), 4)
    2.0
    """
    kernel_t = tf.constant(kernel, tf.float64)
    stride_list = [1, int(strides[0]), int(strides[1]), 1]
    padding = padding.upper()
    shape = (1, *(int(v) for v in input_shape))
    v = tf.random.stateless_normal(shape, (seed, 0), dtype=tf.float64)
    # Eager on purpose: one small graph per layer would only add tracing.
    for _ in range(iterations):
        v = v / tf.norm(v)
        u = tf.nn.conv2d(v, kernel_t, stride_list, padding)
        v = tf.nn.conv2d_transpose(u, kernel_t, shape, stride_list, padding)
    v = v / tf.norm(v)
    return float(tf.norm(tf.nn.conv2d(v, kernel_t, stride_list, padding)))


def operator_spectrum(op: LinearOperator) -> np.ndarray | None:
    """All singular values of an operator, descending (None when its
    circular spectrum is not defined, e.g. odd input size at stride 2).

    A diagonal operator's singular values are its |scales|, each repeated
    over the spatial positions, which does not change their distribution, so
    they are given once per channel.
    """
    if op.kind == "dense":
        return np.linalg.svd(op.kernel, compute_uv=False)
    if op.kind == "diagonal":
        return np.sort(np.abs(op.kernel))[::-1]
    try:
        return conv_singular_values(op.kernel, op.input_shape[:2], op.strides)
    except ValueError:
        return None


def operator_norm(op: LinearOperator, iterations: int = 100) -> float:
    """The top singular value of the operator as the network applies it."""
    if op.kind == "conv":
        return conv_operator_norm(op.kernel, op.input_shape, op.strides,
                                  op.padding, iterations)
    return float(operator_spectrum(op)[0])


def spectrum_summary(values: np.ndarray | None, top: float,
                     points: int = 64) -> dict:
    """What the report keeps of a spectrum: the top value of the true
    operator, the circular spectrum's statistics, its stable rank and
    `points` quantiles (descending) for plots."""
    if values is None or not len(values):
        return {"top": float(top), "count": 0}
    values = np.asarray(values, np.float64)
    quantiles = np.quantile(values, np.linspace(1.0, 0.0, points))
    return {
        "top": float(top),
        "circular_top": float(values[0]),
        "median": float(np.median(values)),
        "mean": float(values.mean()),
        "frobenius": float(np.sqrt(np.sum(values ** 2))),
        "stable_rank": float(np.sum(values ** 2) / max(values[0] ** 2,
                                                       1e-30)),
        "count": int(len(values)),
        "quantiles": [float(q) for q in quantiles],
    }


def layer_spectra(operators, iterations: int = 100) -> dict:
    """{"layers": {operator name: spectrum_summary}, "order": the names in
    network order (JSON objects may be re-sorted), "product": the product
    of the operators' top singular values} for a list of `LinearOperator`."""
    layers, product = {}, 1.0
    for op in operators:
        top = operator_norm(op, iterations)
        layers[op.name] = {"kind": op.kind,
                           **spectrum_summary(operator_spectrum(op), top)}
        product *= top
    return {"layers": layers, "order": list(layers),
            "product": float(product)}
