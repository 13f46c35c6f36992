"""Estimator statistics against rules whose statistics are known exactly:
backprop (no noise) and backprop plus Gaussian noise of a chosen scale."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import rules
from minigrad.inspect import estimator_statistics
from minigrad.rules.base import Rule
from tests.rules.conftest import batch, mlp


@pytest.fixture(autouse=True)
def f64():
    mg.set_default_dtype(np.float64)


class NoisyBackprop(Rule):
    """Backprop's gradient plus independent N(0, s²) noise on every coordinate."""

    name = "noisy_bp"
    hparams = {"scale": 1.0}

    def updates(self, x, y):
        ups = rules.make("bp", self.model).updates(x, y)
        s = self.options["scale"]
        return {k: g + s * self.generator.standard_normal(g.shape) for k, g in ups.items()}


def test_backprop_has_no_bias_and_no_variance(rng):
    model = mlp()
    x, y = batch(rng)
    stats = estimator_statistics(rules.make("bp", model), x, y, draws=3)
    assert set(stats) == {k for k, _ in model.named_parameters()} | {"all"}
    for s in stats.values():
        assert s.bias_angle < 1e-5 and s.mean_angle < 1e-5
        assert s.variance < 1e-28 and s.snr > 1e20          # rounding in the mean only
        assert s.relative_error < 1e-12 and abs(s.norm_ratio - 1) < 1e-12


def test_noise_of_known_scale(rng):
    """With u = g + s·ξ over n coordinates and D draws: the variance
    estimate is n s² · χ²_{n(D−1)}/(n(D−1)), whose relative std is
    √(2/(n(D−1))) (≈ 0.5 % here, so 5 % is ten standard deviations); the
    mean's error ‖m − g‖² ≈ n s²/D, so the relative error is s√(n/D)/‖g‖
    up to the same few per cent; the SNR is ‖m‖²/V ≈ (‖g‖² + n s²/D)/(n s²)."""
    model = mlp()
    x, y = batch(rng)
    g = np.concatenate([v.ravel() for v in rules.make("bp", model).updates(x, y).values()])
    n, d, s = g.size, 400, 0.3
    stats = estimator_statistics(NoisyBackprop(model, seed=1, scale=s), x, y, draws=d)["all"]
    assert stats.variance == pytest.approx(n * s * s, rel=0.05)
    gg = float(g @ g)
    assert stats.relative_error == pytest.approx(s * np.sqrt(n / d) / np.sqrt(gg), rel=0.1)
    assert stats.snr == pytest.approx((gg + n * s * s / d) / (n * s * s), rel=0.1)
    # a single draw is far from g, the mean of many much closer
    assert stats.mean_angle > 3 * stats.bias_angle


def test_draws_must_give_a_variance(rng):
    x, y = batch(rng)
    with pytest.raises(mg.ArgumentError, match="draws must be an integer >= 2"):
        estimator_statistics(rules.make("bp", mlp()), x, y, draws=1)


def test_a_rule_that_leaves_a_parameter_alone_is_refused(rng):
    x, y = batch(rng)
    with pytest.raises(mg.ArgumentError, match="no update for 1.weight"):
        estimator_statistics(rules.make("shallow", mlp()), x, y, draws=2)
