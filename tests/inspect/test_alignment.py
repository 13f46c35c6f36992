"""update_alignment: angles and norm ratios against backprop."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, rules
from minigrad.inspect import (alignment_report, angle, backprop_reference, compare_updates,
                              signal_alignment, update_alignment, weight_alignment)
from minigrad.inspect.alignment import per_sample_angles


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


# -- angles: identical, opposite, random ------------------------------------------------


def test_identical_updates_are_at_0_and_opposite_ones_at_180(rng):
    g = {"w": rng.standard_normal((30, 20)), "b": rng.standard_normal(20)}
    same = compare_updates({k: 3.0 * v for k, v in g.items()}, g)
    assert all(r["angle"] == pytest.approx(0, abs=1e-6) for r in same.values())
    assert all(r["norm_ratio"] == pytest.approx(3) for r in same.values())
    opposite = compare_updates({k: -v for k, v in g.items()}, g)
    assert all(r["angle"] == pytest.approx(180, abs=1e-6) for r in opposite.values())
    assert all(r["cosine"] == pytest.approx(-1) for r in opposite.values())


def test_random_high_dimensional_updates_are_near_90_degrees(rng):
    # for independent Gaussian u, g in R^n, cos(u, g) has mean 0 and standard
    # deviation 1/sqrt(n): the angle is 90 deg give or take (180/pi)/sqrt(n) = 0.57 deg
    n, trials = 10_000, 50
    angles = np.array([angle(rng.standard_normal(n), rng.standard_normal(n))
                       for _ in range(trials)])
    sd = np.degrees(1 / np.sqrt(n))
    assert abs(angles.mean() - 90) < 4 * sd / np.sqrt(trials)
    assert angles.std() == pytest.approx(sd, rel=0.35)
    assert np.all(np.abs(angles - 90) < 5 * sd)


def test_per_sample_angles_row_by_row(rng):
    a = rng.standard_normal((6, 4, 3))
    b = a.copy()
    b[1] *= -2.0
    b[2] = 0.0
    b[3] = rng.standard_normal((4, 3))
    ang = per_sample_angles(a, b)
    assert ang[0] == pytest.approx(0, abs=1e-6) and ang[1] == pytest.approx(180, abs=1e-6)
    assert ang[2] == 90.0
    assert ang[3] == pytest.approx(angle(a[3], b[3]))


# -- signal alignment -----------------------------------------------------------------


def test_signal_alignment_of_backprop_is_0_and_fa_matches_its_hand_computed_delta(rng):
    mg.set_default_dtype(np.float64)
    model = nn.mlp([5, 7, 6, 3], "tanh", generator=rng)
    x, y = mg.tensor(rng.standard_normal((9, 5))), rng.integers(0, 3, 9)
    sig = signal_alignment(rules.make("bp", model), x, y)
    assert list(sig) == ["1", "3", "5"]                        # the model's order
    assert all(r["angle"] < 1e-6 and r["sample_q90"] < 1e-6 for r in sig.values())
    fa = rules.make("fa", model, seed=3)
    sig = signal_alignment(fa, x, y, samples=True)
    # by hand: the output layer gets e = dL/dz5 exactly; layer 3 gets (e B5) * f'(a3)
    _, deltas = backprop_reference(model, x, y)
    e = deltas["5"]
    l1, l3 = model[1], model[3]                     # (model[0] is a Flatten)
    z1 = x.data @ l1.weight.data.T + l1.bias.data
    z3 = np.tanh(z1) @ l3.weight.data.T + l3.bias.data
    delta3 = (e @ fa.feedback["5"]) * (1 - np.tanh(z3) ** 2)
    assert sig["5"]["angle"] < 1e-6
    assert sig["3"]["angle"] == pytest.approx(angle(delta3, deltas["3"]), abs=1e-6)
    assert sig["3"]["sample_angles"] == pytest.approx(
        per_sample_angles(delta3, deltas["3"]).tolist(), abs=1e-6)
    assert sig["3"]["sample_q10"] <= sig["3"]["sample_median"] <= sig["3"]["sample_q90"]


def test_rules_without_signals_give_no_rows_and_reference_leaves_buffers(rng):
    mg.set_default_dtype(np.float64)
    model = nn.Sequential(nn.Linear(4, 6, generator=rng), nn.BatchNorm1d(6), nn.ReLU(),
                          nn.Linear(6, 3, generator=rng))
    x, y = mg.tensor(rng.standard_normal((8, 4))), rng.integers(0, 3, 8)
    assert signal_alignment(rules.make("spsa", model, seed=0), x, y) == {}
    before = [b.data.copy() for _, b in model.named_buffers()]
    backprop_reference(model, x, y)
    assert all(np.array_equal(a, b.data) for a, (_, b) in zip(before, model.named_buffers()))


def test_weight_alignment_and_the_report(rng):
    mg.set_default_dtype(np.float64)
    model = nn.mlp([4, 6, 6, 3], "tanh", generator=rng)
    x, y = mg.tensor(rng.standard_normal((5, 4))), rng.integers(0, 3, 5)
    fa = rules.make("fa", model, seed=0)
    w = weight_alignment(fa)
    assert set(w) == {"3", "5"} and all(0 < v < 180 for v in w.values())
    assert weight_alignment(rules.make("bp", model)) == {}
    rep = alignment_report(fa, x, y)
    assert set(rep) == {"update", "signal", "weight"}
    assert rep["weight"] == w
    assert rep["update"]["5.weight"]["angle"] < 1e-6
