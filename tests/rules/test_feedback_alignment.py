"""FA, sign symmetry and Kolen-Pollack: exact where B = W, and the
behaviour the papers describe."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, rules
from minigrad.inspect import update_alignment
from tests.rules.conftest import assert_same_updates, batch, convnet, mlp


@pytest.mark.parametrize("make_model,shape", [(mlp, (5,)), (convnet, (2, 6, 6))])
def test_fa_with_b_equal_to_w_is_backprop(make_model, shape, rng, f64):
    model = make_model()
    x, y = batch(rng, shape=shape)
    fa = rules.make("fa", model)
    for name, layer in fa.layers[1:]:
        fa.feedback[name] = layer.weight.numpy().copy()
    assert_same_updates(fa.updates(x, y), rules.make("bp", model).updates(x, y))
    assert all(a < 1e-6 for a in fa.weight_alignment().values())


def test_fa_with_random_b_differs_from_backprop(rng, f64):
    model = mlp()
    x, y = batch(rng)
    ups, grads = rules.make("fa", model).updates(x, y), rules.make("bp", model).updates(x, y)
    np.testing.assert_allclose(ups["5.weight"], grads["5.weight"])     # last layer: exact
    assert not np.allclose(ups["1.weight"], grads["1.weight"])


@pytest.mark.parametrize("name", ["usf", "frsf", "brsf"])
@pytest.mark.parametrize("make_model,shape", [(mlp, (5,)), (convnet, (2, 6, 6))])
def test_sign_symmetry_on_weights_of_plus_minus_c_is_backprop(name, make_model, shape, rng,
                                                              f64):
    model = make_model()
    x, y = batch(rng, shape=shape)
    rule = rules.make(name, model)
    for lname, layer in rule.layers:
        s = layer.weight.shape
        receptive = int(np.prod(s[2:])) if len(s) > 2 else 1
        c = np.sqrt(2.0 / ((s[0] + s[1]) * receptive))   # the usf scale of this layer
        layer.weight.data[...] = c * np.sign(layer.weight.data)
        if lname in rule.feedback:
            rule.feedback[lname] = np.full(s, c)          # |R| = c for frsf/brsf
    assert_same_updates(rule.updates(x, y), rules.make("bp", model).updates(x, y))


def test_brsf_redraws_its_magnitudes_every_step(rng, f64):
    model = mlp()
    rule = rules.make("brsf", model)
    before = {k: v.copy() for k, v in rule.feedback.items()}
    x, y = batch(rng)
    rule.step(x, y, mg.optim.SGD(model.parameters(), lr=0.01))
    assert all(not np.array_equal(before[k], rule.feedback[k]) for k in before)
    frsf = rules.make("frsf", model)
    fixed = {k: v.copy() for k, v in frsf.feedback.items()}
    frsf.step(x, y, mg.optim.SGD(model.parameters(), lr=0.01))
    assert all(np.array_equal(fixed[k], frsf.feedback[k]) for k in fixed)


def test_sign_symmetry_feedback_has_the_signs_of_w(f64):
    model = mlp()
    for name in ("usf", "frsf", "brsf"):
        rule = rules.make(name, model)
        for lname, layer in rule.layers[1:]:
            b = rule.current_feedback(lname, layer)
            np.testing.assert_array_equal(np.sign(b), np.sign(layer.weight.numpy()))


def _teacher_student(n=256, seed=0):
    split = mg.data.load_dataset("teacher-student", n_train=n, n_test=64, dim=10, hidden=20,
                                 outputs=3, seed=seed)
    return mg.tensor(split.train.x.astype(np.float64)), mg.tensor(split.train.y.astype(np.float64))


def test_kolen_pollack_weight_alignment_falls_below_10_degrees(f64):
    x, y = _teacher_student()
    model = nn.mlp([10, 30, 30, 3], "tanh", generator=np.random.default_rng(0))
    rule = rules.make("kp", model, loss="mse", weight_decay=0.1)
    start = rule.weight_alignment()
    assert all(a > 60 for a in start.values())          # random B: near 90 degrees
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    for t in range(400):                                 # B − W shrinks by 1 − ηλ a step
        idx = np.arange(t * 32, t * 32 + 32) % len(y)
        rule.step(x[idx], y[idx], opt)
    assert all(a < 10 for a in rule.weight_alignment().values()), rule.weight_alignment()


@pytest.mark.parametrize("name", ["fa", "dfa"])
def test_update_alignment_falls_clearly_below_90_degrees(name, f64):
    """Lillicrap et al.'s observation: the forward weights learn to make the
    random feedback useful, so the updates turn toward backprop's."""
    x, y = _teacher_student(seed=1)
    model = nn.mlp([10, 40, 40, 3], "tanh", generator=np.random.default_rng(2))
    rule = rules.make(name, model, loss="mse", seed=3)
    opt = mg.optim.SGD(model.parameters(), lr=0.05)
    hidden = ["1.weight", "3.weight"]
    angles = []
    for t in range(400):
        idx = np.arange(t * 32, t * 32 + 32) % len(y)
        if t % 50 == 0 or t == 399:
            al = update_alignment(rule, model, x[:128], y[:128])
            angles.append([al[h]["angle"] for h in hidden])
        rule.step(x[idx], y[idx], opt)
    first, final = angles[0], angles[-1]
    assert all(a > 80 for a in first), angles        # random feedback: near chance (90°)
    assert final[-1] < 75, angles                    # the layer below the output aligns,
    assert np.mean(final) < 80, angles               # the hidden layers on average too,
    assert np.mean(final) < np.mean(first) - 10, angles   # and clearly more than at first


def _plastic_step(name, optimizer_factory, rng, **opts):
    model = mlp()
    rule = rules.make(name, model, **opts)
    opt = optimizer_factory(model.parameters())
    x, y = batch(rng)
    for _ in range(3):                      # let momentum build up
        rule.step(x, y, opt)
    return model, rule, opt, x, y


def test_kolen_pollack_with_plain_sgd_is_the_papers_update(rng, f64):
    """ΔB = −η(δxᵀ + λB), where δxᵀ is backprop's-style weight update of the layer."""
    model, rule, opt, x, y = _plastic_step("kp", lambda p: mg.optim.SGD(p, lr=0.1), rng,
                                           weight_decay=0.05)
    raw = rules.make("kp", model, weight_decay=0.0)
    raw.feedback = rule.feedback
    delta_x = raw.updates(x, y)                  # δxᵀ under the current B, no decay
    before = {k: v.copy() for k, v in rule.feedback.items()}
    rule.step(x, y, opt)
    for name in before:
        expected = before[name] - 0.1 * (delta_x[f"{name}.weight"] + 0.05 * before[name])
        np.testing.assert_allclose(rule.feedback[name], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("optimizer", [
    lambda p: mg.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: mg.optim.Adam(p, lr=0.01)])
def test_kolen_pollack_difference_decays_by_one_minus_eta_lambda_with_any_optimizer(
        optimizer, rng, f64):
    model, rule, opt, x, y = _plastic_step("kp", optimizer, rng, weight_decay=0.05)
    lr = opt.param_groups[0]["lr"]
    layers = dict(rule.layers)
    gap = {k: rule.feedback[k] - layers[k].weight.numpy() for k in rule.feedback}
    rule.step(x, y, opt)
    for k in gap:
        np.testing.assert_allclose(rule.feedback[k] - layers[k].weight.numpy(),
                                   (1 - lr * 0.05) * gap[k], rtol=1e-10, atol=1e-13)


def test_the_feedback_ops_have_exact_jvps_and_are_backprop_when_b_is_w(rng, f64):
    """FeedbackLinear and FeedbackConvMatmul compute the layer's function
    forward, so their jvp must be exact (order 2); their vjp is the true one
    only when the feedback equals W (order 1: B is a constant)."""
    from minigrad.rules.feedback_alignment import FeedbackConvMatmul, feedback_linear

    x, w, b = (mg.tensor(rng.standard_normal(s)) for s in ((4, 3), (5, 3), (5,)))
    fa_linear = lambda x, w, b: feedback_linear(x, w, b, rng.standard_normal((5, 3)))  # noqa
    mg.check_grads(fa_linear, (x, w, b), modes="fwd", order=2)
    mg.check_grads(lambda x, w, b: feedback_linear(x, w, b, w.numpy()), (x, w, b), order=1)

    w3, cols = mg.tensor(rng.standard_normal((2, 3, 4))), mg.tensor(rng.standard_normal((5, 2, 4, 6)))
    conv = lambda w, c: mg.autodiff.apply(FeedbackConvMatmul(rng.standard_normal((2, 3, 4))), w, c)  # noqa
    mg.check_grads(conv, (w3, cols), modes="fwd", order=2)
    mg.check_grads(lambda w, c: mg.autodiff.apply(FeedbackConvMatmul(w.numpy()), w, c),
                   (w3, cols), order=1)
