"""PFA: exact when BR = W; R learns so that BR tracks W."""
import numpy as np

import minigrad as mg
from minigrad import nn, rules
from tests.rules.conftest import assert_same_updates, batch, convnet, mlp


def _set_br_to_w(pfa):
    for name, layer in pfa.layers[1:]:
        w2 = layer.weight.numpy().reshape(layer.weight.shape[0], -1)
        pfa.R[name] = np.linalg.pinv(pfa.B[name]) @ w2      # B B⁺ = I, so BR = W


def test_pfa_with_br_equal_to_w_is_backprop(rng, f64):
    for make_model, shape in ((mlp, (5,)), (convnet, (2, 6, 6))):
        model = make_model()
        x, y = batch(rng, shape=shape)
        pfa = rules.make("pfa", model, weight_decay=0.0)
        _set_br_to_w(pfa)
        assert all(a < 1e-5 for a in pfa.weight_alignment().values())
        assert_same_updates(pfa.updates(x, y), rules.make("bp", model).updates(x, y),
                            rtol=1e-8, atol=1e-10)


def test_pfa_shapes_follow_the_expansion_ratio(f64):
    pfa = rules.make("pfa", mlp(), expand_ratio=3)
    assert pfa.B["3"].shape == (6, 18) and pfa.R["3"].shape == (18, 7)
    assert "1" not in pfa.B                     # the first layer sends no error


def test_br_comes_to_track_w(f64):
    split = mg.data.load_dataset("teacher-student", n_train=256, dim=10, hidden=20, outputs=3)
    x, y = mg.tensor(split.train.x.astype(np.float64)), mg.tensor(split.train.y.astype(np.float64))
    model = nn.mlp([10, 30, 30, 3], "tanh", generator=np.random.default_rng(0))
    pfa = rules.make("pfa", model, loss="mse", expand_ratio=8, weight_decay=0.1)
    start = pfa.weight_alignment()
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    for t in range(400):
        idx = np.arange(t * 32, t * 32 + 32) % len(y)
        pfa.step(x[idx], y[idx], opt)
    end = pfa.weight_alignment()
    assert all(end[k] < 25 and end[k] < start[k] - 40 for k in end), (start, end)


def test_pfa_r_update_with_plain_sgd_is_the_papers_rule(rng, f64):
    """ΔR = −η((Bᵀ δ_out) xᵀ + λR)."""
    model = mlp()
    pfa = rules.make("pfa", model, weight_decay=0.05)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    x, y = batch(rng)
    pfa.step(x, y, opt)
    raw = rules.make("pfa", model, weight_decay=0.0)
    raw.B, raw.R = pfa.B, pfa.R
    delta_x = raw.updates(x, y)                        # δ_out xᵀ under the current BR
    before = {k: v.copy() for k, v in pfa.R.items()}
    pfa.step(x, y, opt)
    for name in before:
        expected = before[name] - 0.1 * (pfa.B[name].T @ delta_x[f"{name}.weight"]
                                          + 0.05 * before[name])
        np.testing.assert_allclose(pfa.R[name], expected, rtol=1e-10, atol=1e-13)


def test_pfa_with_momentum_moves_r_by_b_transpose_times_ws_step(rng, f64):
    model = mlp()
    pfa = rules.make("pfa", model, weight_decay=0.05)
    opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = batch(rng)
    for _ in range(3):
        pfa.step(x, y, opt)
    layers = dict(pfa.layers)
    w0 = {k: layers[k].weight.numpy().copy() for k in pfa.R}
    r0 = {k: v.copy() for k, v in pfa.R.items()}
    pfa.step(x, y, opt)
    for k in r0:
        b, w1 = pfa.B[k], layers[k].weight.numpy()
        expected = r0[k] + b.T @ (w1 - w0[k]) - 0.1 * 0.05 * (r0[k] - b.T @ w0[k])
        np.testing.assert_allclose(pfa.R[k], expected, rtol=1e-10, atol=1e-13)
