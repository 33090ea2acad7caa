"""Optimizers with the weight decay of the papers' PyTorch code.

Keras' `weight_decay` is decoupled: each update shrinks the weights by
lr * wd * w, outside the momentum. The adversarial-training papers use
PyTorch's SGD, whose weight decay adds wd * w to the gradient, so the
decay goes through the momentum buffer too (about 1 / (1 - momentum) = 10
times stronger at momentum 0.9). `train.weight_decay_style = "l2"`
selects these classes to reproduce that.
"""

from __future__ import annotations

import keras


class CoupledWeightDecay:
    """Mixin: adds `l2 * w` to each gradient before the update (L2
    regularisation 0.5 * l2 * |w|^2 of every trained weight)."""

    def __init__(self, *args, l2: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2 = float(l2)

    def _backend_apply_gradients(self, grads, trainable_variables):
        if self.l2:
            grads = [g if g is None
                     else g + keras.ops.cast(self.l2, g.dtype)
                     * keras.ops.cast(v, g.dtype)
                     for g, v in zip(grads, trainable_variables)]
        return super()._backend_apply_gradients(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


@keras.saving.register_keras_serializable(package="advmask_tf")
class L2SGD(CoupledWeightDecay, keras.optimizers.SGD):
    """SGD whose weight decay adds to the gradient, as PyTorch's does.

    >>> import numpy as np
    >>> w = keras.Variable(np.ones(1, "float32"))
    >>> opt = L2SGD(learning_rate=0.1, momentum=0.9, l2=0.5)
    >>> opt.apply([keras.ops.zeros(1)], [w]); round(float(w[0]), 3)
    0.95
    """


@keras.saving.register_keras_serializable(package="advmask_tf")
class L2Adam(CoupledWeightDecay, keras.optimizers.Adam):
    """Adam with L2 regularisation in the gradient (not AdamW)."""
