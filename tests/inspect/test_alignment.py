"""update_alignment: angles and norm ratios against backprop."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, rules
from minigrad.inspect import angle, update_alignment


def test_angle():
    assert angle(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == pytest.approx(90)
    assert angle(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == pytest.approx(0, abs=1e-12)
    assert angle(np.array([1.0, 0.0]), np.array([-3.0, 0.0])) == pytest.approx(180)
    assert angle(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(45)
    assert angle(np.zeros(3), np.ones(3)) == 90


def test_backprop_is_aligned_with_itself_and_shallow_only_at_the_top(rng):
    mg.set_default_dtype(np.float64)
    model = nn.mlp([4, 6, 3], "tanh")
    x, y = mg.tensor(rng.standard_normal((5, 4))), np.array([0, 1, 2, 0, 1])
    al = update_alignment(rules.make("bp", model), model, x, y)
    assert all(v["angle"] < 1e-6 and v["norm_ratio"] == pytest.approx(1) for v in al.values())
    al = update_alignment(rules.make("shallow", model), model, x, y)
    assert al["1.weight"] == {"angle": 90.0, "cosine": 0.0, "norm_ratio": 0.0}
    assert al["3.weight"]["angle"] < 1e-6


def test_fa_alignment_is_reported_per_parameter(rng):
    mg.set_default_dtype(np.float64)
    model = nn.mlp([4, 6, 6, 3], "tanh")
    x, y = mg.tensor(rng.standard_normal((5, 4))), np.array([0, 1, 2, 0, 1])
    al = update_alignment(rules.make("fa", model), model, x, y)
    assert set(al) == {n for n, _ in model.named_parameters()}
    assert al["5.weight"]["angle"] < 1e-6           # the last layer is exact
    assert 0 < al["1.weight"]["angle"] < 180
    assert al["1.weight"]["cosine"] == pytest.approx(np.cos(np.radians(al["1.weight"]["angle"])))
