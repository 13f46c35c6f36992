"""Initialisation: the variances the papers prescribe, orthogonality, seeding."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import init


def w(*shape):
    return mg.zeros(*shape, dtype=np.float64)


@pytest.mark.parametrize("fn,expected_var", [
    (lambda t: init.xavier_uniform_(t), 2.0 / (400 + 300)),
    (lambda t: init.xavier_normal_(t), 2.0 / (400 + 300)),
    (lambda t: init.kaiming_uniform_(t), 2.0 / 400),
    (lambda t: init.kaiming_normal_(t, mode="fan_out"), 2.0 / 300),
    (lambda t: init.kaiming_normal_(t, nonlinearity="tanh"), (5 / 3) ** 2 / 400),
    (lambda t: init.lecun_uniform_(t), 1.0 / 400),
    (lambda t: init.lecun_normal_(t), 1.0 / 400),
])
def test_variance_of_each_scheme(fn, expected_var):
    t = fn(w(300, 400))
    # the sample variance of 120,000 draws is within ~1% of the truth
    assert t.numpy().var() == pytest.approx(expected_var, rel=0.03)
    assert abs(t.numpy().mean()) < 4 * math.sqrt(expected_var / t.size)


def test_conv_fans_include_the_receptive_field():
    t = init.kaiming_normal_(w(64, 32, 3, 3))
    assert t.numpy().var() == pytest.approx(2.0 / (32 * 9), rel=0.05)


@pytest.mark.parametrize("shape", [(50, 50), (30, 80), (80, 30), (8, 4, 3, 3)])
def test_orthogonal(shape):
    t = init.orthogonal_(w(*shape), gain=2.0).numpy().reshape(shape[0], -1)
    small = min(t.shape)
    gram = t @ t.T if t.shape[0] == small else t.T @ t
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-10)


def test_initialisation_is_seeded():
    a = init.kaiming_normal_(w(5, 5), generator=np.random.default_rng(3)).numpy()
    b = init.kaiming_normal_(w(5, 5), generator=np.random.default_rng(3)).numpy()
    np.testing.assert_array_equal(a, b)
    mg.manual_seed(9)
    c = mg.nn.Linear(4, 4).weight.numpy()
    mg.manual_seed(9)
    np.testing.assert_array_equal(c, mg.nn.Linear(4, 4).weight.numpy())


def test_default_linear_init_matches_torch_bounds():
    lin = mg.nn.Linear(100, 50, dtype=np.float64)
    bound = 1 / math.sqrt(100)
    assert np.abs(lin.weight.numpy()).max() <= bound
    assert lin.weight.numpy().var() == pytest.approx(bound ** 2 / 3, rel=0.1)


def test_gain_and_errors():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(mg.ArgumentError, match="unknown nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(mg.ShapeError, match="at least 2 dimensions"):
        init.xavier_uniform_(w(5))
    with pytest.raises(mg.ArgumentError, match="mode"):
        init.kaiming_normal_(w(3, 3), mode="fan_avg")
