"""Layer spectra: FFT and power iteration against explicit operator matrices."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from advmask_tf.analysis.operators import linear_operators, norm_scale
from advmask_tf.analysis.spectra import (
    conv_operator_norm,
    conv_singular_values,
    layer_spectra,
)
from advmask_tf.models import build_model


def circular_conv_matrix(kernel, n, stride):
    """The explicit matrix of a circular cross-correlation (TF's convention:
    y[i, j] = sum_k x[(s*i + a) mod n, (s*j + b) mod n] w[a, b])."""
    kh, kw, cin, cout = kernel.shape
    m = n // stride
    matrix = np.zeros((m * m * cout, n * n * cin))
    for i in range(m):
        for j in range(m):
            for a in range(kh):
                for b in range(kw):
                    row = (i * m + j) * cout
                    col = (((stride * i + a) % n) * n
                           + (stride * j + b) % n) * cin
                    matrix[row:row + cout, col:col + cin] += kernel[a, b].T
    return matrix


def padded_conv_matrix(kernel, shape, stride, padding="SAME"):
    """The explicit matrix of tf.nn.conv2d, column by column."""
    size = int(np.prod(shape))
    basis = np.eye(size, dtype=np.float64).reshape(size, *shape)
    out = tf.nn.conv2d(tf.constant(basis), tf.constant(kernel.astype(
        np.float64)), [1, stride, stride, 1], padding)
    return out.numpy().reshape(size, -1).T


@pytest.mark.parametrize("stride,n,k,cin,cout", [
    (1, 6, 3, 2, 3), (1, 5, 3, 3, 2), (2, 6, 3, 2, 3), (2, 8, 1, 3, 4)])
def test_fft_spectrum_equals_svd_of_the_circular_operator(stride, n, k, cin,
                                                         cout):
    kernel = np.random.default_rng(0).normal(size=(k, k, cin, cout))
    expected = np.linalg.svd(circular_conv_matrix(kernel, n, stride),
                             compute_uv=False)
    found = conv_singular_values(kernel, (n, n), (stride, stride))
    # The operator has min(rows, columns) singular values.
    assert len(found) == len(expected)
    np.testing.assert_allclose(found, expected, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("stride", [1, 2])
def test_power_iteration_finds_the_top_value_of_the_padded_operator(stride):
    kernel = np.random.default_rng(1).normal(size=(3, 3, 2, 3))
    shape = (6, 6, 2)
    expected = np.linalg.svd(padded_conv_matrix(kernel, shape, stride),
                             compute_uv=False)[0]
    circular = conv_singular_values(kernel, shape[:2], (stride, stride))[0]
    found = conv_operator_norm(kernel, shape, (stride, stride), "same", 300)
    # Power iteration approaches the top value from below; a near-double
    # top value (as here for stride 1) slows it, hence 1e-3.
    assert expected * (1 - 1e-3) <= found <= expected * (1 + 1e-9)
    # Zero padding makes the true operator differ from the circular one.
    assert abs(circular - expected) > 1e-3


def test_strides_that_do_not_divide_the_input_are_refused():
    with pytest.raises(ValueError, match=r"input size \(7, 7\).*strides"):
        conv_singular_values(np.ones((3, 3, 1, 1)), (7, 7), (2, 2))


def test_norms_are_folded_into_the_layer_before_them():
    model = build_model("small_cnn", (8, 8, 1), 3, width=2, dense_units=4)
    norm = model.get_layer("block0_conv0_norm")
    norm.moving_variance.assign(np.full(2, 4.0 - norm.epsilon, np.float32))
    norm.gamma.assign([3.0, -1.0])
    conv = np.asarray(model.get_layer("block0_conv0").kernel)
    operators = {op.name: op for op in linear_operators(model)}
    folded = operators["block0_conv0+block0_conv0_norm"].kernel
    np.testing.assert_allclose(folded, conv * np.array([1.5, -0.5]),
                               rtol=1e-5)
    assert operators["input_normalization"].kind == "diagonal"


def test_a_masking_norm_is_folded_at_the_strength_it_is_told():
    model = build_model("small_cnn", (8, 8, 1), 3, width=2, dense_units=4,
                        norm="masking",
                        norm_options={"strengths": (0.0, 0.1)})
    layer = model.get_layer("fc_norm")
    layer.scale_bias.assign(np.full(layer.scale_bias.shape, 0.5, np.float32))
    layer.scale_kernel.assign(np.random.default_rng(2).uniform(
        0, 1, layer.scale_kernel.shape).astype(np.float32))
    clean, told = norm_scale(layer, 4, 0.0), norm_scale(layer, 4, 0.1)
    assert not np.allclose(clean, told)
    gamma, _ = layer.rescaling(tf.constant([0.1]))
    variance = np.asarray(layer.moving_variance[0] if len(
        layer.moving_variance.shape) > 1 else layer.moving_variance)
    np.testing.assert_allclose(
        told, gamma.numpy()[0] / np.sqrt(variance + layer.epsilon), rtol=1e-5)


def test_spectral_norm_product_of_a_dense_network():
    w1 = np.random.default_rng(3).normal(size=(5, 4))
    w2 = np.random.default_rng(4).normal(size=(4, 3))
    model = keras.Sequential([keras.Input((5,)),
                              keras.layers.Dense(4, use_bias=False),
                              keras.layers.ReLU(),
                              keras.layers.Dense(3, use_bias=False)])
    model.layers[0].kernel.assign(w1)
    model.layers[2].kernel.assign(w2)
    spectra = layer_spectra(linear_operators(model))
    expected = (np.linalg.svd(w1, compute_uv=False)[0]
                * np.linalg.svd(w2, compute_uv=False)[0])
    assert spectra["product"] == pytest.approx(expected, rel=1e-5)
    assert len(spectra["layers"]) == 2
