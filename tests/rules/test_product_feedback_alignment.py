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
