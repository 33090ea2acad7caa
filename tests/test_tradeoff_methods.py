"""Methods of the trade-off issue: MART."""

import keras
import numpy as np
import pytest

from advmask_tf.attacks import PGDConfig
from advmask_tf.models import build_model
from advmask_tf.training import AdversarialModel
from advmask_tf.training.objectives import make_objective


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_mart_loss_is_the_papers_formula():
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(6, 10)).astype(np.float32) * 3
    adv = rng.normal(size=(6, 10)).astype(np.float32) * 3
    y = rng.integers(0, 10, 6)
    per_sample, _, _ = make_objective({"name": "mart", "beta": 6.0}).loss(
        [clean, adv], y)
    p_clean, p_adv = softmax(clean.astype(np.float64)), softmax(
        adv.astype(np.float64))
    rows = np.arange(6)
    wrong = p_adv.copy()
    wrong[rows, y] = -1
    boosted = -np.log(p_adv[rows, y]) - np.log(1 - wrong.max(-1))
    kl = np.sum(p_clean * (np.log(p_clean) - np.log(p_adv)), -1)
    expected = boosted + 6.0 * kl * (1 - p_clean[rows, y])
    np.testing.assert_allclose(per_sample, expected, rtol=1e-4)


def test_mart_refuses_a_negative_beta():
    with pytest.raises(ValueError, match="method.beta"):
        make_objective({"name": "mart", "beta": -1.0})


def test_mart_learns_robustness_on_real_images(fashion_slice):
    """MART (PGD-3 during training) for one epoch over 2,000 images resists
    PGD-10 at eps 0.1 far better than clean training."""
    x, y = fashion_slice(2000)
    test_x, test_y = fashion_slice(500, split="test")
    robust = {}
    for name in ("mart", "standard"):
        keras.utils.set_random_seed(0)
        net = build_model("small_cnn", (28, 28, 1), 10, mean=[0.286],
                          std=[0.353])
        model = AdversarialModel(net, objective=name, attack={
            "eps": 0.1, "steps": 3, "step_size": 0.04})
        model.compile(optimizer="adam")
        model.fit(x, y, batch_size=50, epochs=1, verbose=0)
        fooled = PGDConfig(eps=0.1, steps=10).fooled(net, test_x, test_y)
        correct = np.argmax(net(test_x), -1) == test_y
        robust[name] = float(np.mean(correct & ~fooled.numpy()))
    assert robust["mart"] > 0.35
    assert robust["mart"] > robust["standard"] + 0.25
