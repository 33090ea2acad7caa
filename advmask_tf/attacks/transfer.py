"""Attacks crafted on another network (a surrogate, a base classifier) and
judged on the attacked model: the adaptive evaluation of models whose own
gradients may mislead an attack (a mixed classifier's saturating map).

Example:

>>> import keras, tensorflow as tf
>>> from advmask_tf.attacks import PGDConfig
>>> source = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
>>> target = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
>>> attack = TransferAttack(PGDConfig(eps=0.1, steps=2), source, "source")
>>> attack.fooled(target, tf.zeros((4, 2)), tf.zeros(4, tf.int32)).shape
TensorShape([4])
"""

from __future__ import annotations

import tensorflow as tf


class TransferAttack:
    """`base` (a `PGDConfig`) run on `source`; a point is fooled when the
    attacked model misclassifies the source attack's final example."""

    # Not the attacked model's gradients: the sanity checks treat it like
    # the black-box attacks.
    uses_gradients = False

    def __init__(self, base, source, source_name: str):
        self.base = base
        self.source = source
        self.source_name = source_name
        self.eps = base.eps

    def fooled(self, model, x, y, eps=None, noise_keys=None, seed=None):
        result = self.base.run(self.source, x, y, eps=eps,
                               noise_keys=noise_keys, seed=seed,
                               compute_success=False)
        prediction = tf.argmax(model(result.x_adv, training=False), -1,
                               output_type=tf.int32)
        return tf.not_equal(prediction, tf.cast(y, tf.int32))

    def settings(self) -> dict:
        """What a report records of this attack."""
        return {"kind": "TransferAttack", "source": self.source_name,
                **{k: v for k, v in vars(self.base).items()}}
