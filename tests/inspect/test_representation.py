"""representation_statistics: sparsity, dead units, norms -- against hand
computations on a small ReLU MLP and a conv net."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.inspect import representation_statistics


def test_mlp_statistics_by_hand(rng):
    mg.set_default_dtype(np.float64)
    model = nn.mlp([5, 8, 4], "relu", generator=rng)
    lin1, lin2 = model[1], model[3]
    lin1.weight.data[2] = -1e3 * np.abs(lin1.weight.data[2])     # unit 2 of layer 1: dead
    lin1.bias.data[2] = -1.0
    x_np = np.abs(rng.standard_normal((16, 5)))
    y = rng.integers(0, 4, 16)
    stats = representation_statistics(model, mg.tensor(x_np), y)
    z1 = x_np @ lin1.weight.data.T + lin1.bias.data
    h1 = np.maximum(z1, 0)
    z2 = h1 @ lin2.weight.data.T + lin2.bias.data
    s1, s2 = stats["1"], stats["3"]
    assert s1["preactivation_rms"] == pytest.approx(np.sqrt(np.mean(z1 ** 2)))
    assert s1["activation_rms"] == pytest.approx(np.sqrt(np.mean(h1 ** 2)))
    assert s1["sparsity"] == pytest.approx(np.mean(h1 == 0))
    assert s1["dead_units"] == pytest.approx(np.mean(np.all(h1 == 0, axis=0)))
    assert s1["dead_units"] >= 1 / 8
    assert s1["weight_norm"] == pytest.approx(np.linalg.norm(lin1.weight.data))
    assert s2["preactivation_rms"] == pytest.approx(np.sqrt(np.mean(z2 ** 2)))
    assert s2["activation_rms"] is None and s2["sparsity"] is None
    # backward: delta2 = (softmax - onehot) / N, delta1 = (delta2 W2) * [z1 > 0]
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d2 = (p - np.eye(4)[y]) / 16
    d1 = (d2 @ lin2.weight.data) * (z1 > 0)
    assert s2["delta_rms"] == pytest.approx(np.sqrt(np.mean(d2 ** 2)))
    assert s1["delta_rms"] == pytest.approx(np.sqrt(np.mean(d1 ** 2)))
    gw1 = d1.T @ x_np
    assert s1["weight_grad_norm"] == pytest.approx(np.linalg.norm(gw1))
    assert s1["grad_to_weight"] == pytest.approx(np.linalg.norm(gw1)
                                                 / np.linalg.norm(lin1.weight.data))


def test_conv_dead_channels_and_no_labels(rng):
    mg.set_default_dtype(np.float64)
    conv = nn.Conv2d(1, 3, 3, padding=1, generator=rng)
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(3 * 16, 2, generator=rng))
    conv.weight.data[1] = 0.0
    conv.bias.data[1] = -1.0                     # channel 1: 0 everywhere after the ReLU
    x = mg.tensor(rng.standard_normal((4, 1, 4, 4)))
    stats = representation_statistics(model, x)
    assert stats["0"]["dead_units"] == pytest.approx(1 / 3)
    assert "delta_rms" not in stats["0"]
    assert list(stats) == ["0", "3"]


def test_buffers_are_put_back(rng):
    mg.set_default_dtype(np.float64)
    model = nn.Sequential(nn.Linear(3, 4, generator=rng), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Linear(4, 2, generator=rng))
    before = [b.data.copy() for _, b in model.named_buffers()]
    representation_statistics(model, mg.tensor(rng.standard_normal((6, 3))),
                              rng.integers(0, 2, 6))
    assert all(np.array_equal(a, b.data) for a, (_, b) in zip(before, model.named_buffers()))
