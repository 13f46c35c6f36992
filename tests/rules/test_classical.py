"""The delta rule and the perceptron: their equations, LMS's fixed point,
and Novikoff's mistake bound."""
import numpy as np
import pytest
import scipy.linalg

import minigrad as mg
from minigrad import nn, rules


def linear(n_in, n_out, seed=0):
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_out,
                                                 generator=np.random.default_rng(seed)))


@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_delta_rule_is_the_gradient_of_half_the_squared_error(output, rng, f64):
    model = linear(4, 3)
    x = mg.tensor(rng.standard_normal((7, 4)))
    y = rng.integers(0, 3, 7)
    ups = rules.make("delta", model, output=output).updates(x, y)
    t = np.eye(3)[y]
    out = model(x)
    if output == "sigmoid":
        out = mg.sigmoid(out)
    loss = 0.5 * ((out - mg.tensor(t)) ** 2).sum() / 7
    grads = mg.autograd.grad(loss, [model[1].weight, model[1].bias])
    np.testing.assert_allclose(ups["1.weight"], grads[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(ups["1.bias"], grads[1].numpy(), atol=1e-12)


def test_lms_converges_to_the_least_squares_solution(rng, f64):
    x = rng.standard_normal((60, 3))
    w_true = np.array([[1.5, -2.0, 0.5]])
    t = x @ w_true.T + 0.3 + 0.1 * rng.standard_normal((60, 1))
    model = linear(3, 1)
    rule = rules.make("delta", model, loss="mse")
    opt = mg.optim.SGD(model.parameters(), lr=0.3)
    xt, tt = mg.tensor(x), mg.tensor(t)
    for _ in range(500):                                   # full-batch LMS
        rule.step(xt, tt, opt)
    design = np.hstack([x, np.ones((60, 1))])
    solution, *_ = scipy.linalg.lstsq(design, t)
    np.testing.assert_allclose(model[1].weight.numpy().ravel(), solution[:3, 0], atol=1e-8)
    np.testing.assert_allclose(model[1].bias.numpy(), solution[3], atol=1e-8)


def _separable(rng, n=200, dim=5, margin=0.3):
    """Points with labels from a unit separator w* (bias folded in), kept only
    where |w*·[x, 1]| >= margin."""
    w = rng.standard_normal(dim + 1)
    w /= np.linalg.norm(w)
    x = rng.uniform(-1, 1, size=(20 * n, dim))
    score = np.hstack([x, np.ones((len(x), 1))]) @ w
    keep = np.abs(score) >= margin
    return x[keep][:n], (score[keep][:n] > 0).astype(np.int64), margin


def _online(rule, model, x, y, max_epochs=1000):
    opt = mg.optim.SGD(model.parameters(), lr=1.0)
    mistakes = 0
    for _ in range(max_epochs):
        epoch_mistakes = 0
        for i in range(len(y)):
            stats = rule.step(mg.tensor(x[i:i + 1]), y[i:i + 1], opt)
            epoch_mistakes += stats["mistakes"]
        mistakes += epoch_mistakes
        if epoch_mistakes == 0:
            return mistakes, True
    return mistakes, False


def test_perceptron_converges_within_novikoffs_bound(rng, f64):
    x, y, gamma = _separable(rng)
    model = linear(5, 1)
    for p in model.parameters():
        p.data[...] = 0.0                                  # the classic start: w = 0
    rule = rules.make("perceptron", model)
    mistakes, converged = _online(rule, model, x, y)
    r = np.linalg.norm(np.hstack([x, np.ones((len(x), 1))]), axis=1).max()
    assert converged
    assert 0 < mistakes <= (r / gamma) ** 2
    scores = model(mg.tensor(x)).numpy()[:, 0]
    assert np.array_equal(scores > 0, y == 1)              # separates the data


def test_multiclass_perceptron_updates_only_on_mistakes(f64):
    model = linear(2, 3)
    rule = rules.make("perceptron", model)
    w = model[1].weight.numpy().copy()
    x = np.array([[1.0, 2.0]])
    pred = int(np.argmax(model(mg.tensor(x)).numpy()))
    ups = rule.updates(mg.tensor(x), np.array([pred]))
    assert not ups["1.weight"].any() and rule.mistakes == 0      # right: no change
    target = (pred + 1) % 3
    ups = rule.updates(mg.tensor(x), np.array([target]))
    expected = np.zeros_like(w)
    expected[target] -= x[0]                              # −ΔW: W_t += x, W_ŷ −= x
    expected[pred] += x[0]
    np.testing.assert_array_equal(ups["1.weight"], expected)


def test_multiclass_perceptron_separates_three_clusters(rng, f64):
    angles = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    centres = 10 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = rng.integers(0, 3, 150)
    x = centres[y] + rng.uniform(-1, 1, (150, 2))          # bounded noise: separable
    model = linear(2, 3)
    mistakes, converged = _online(rules.make("perceptron", model), model, x, y,
                                  max_epochs=50)
    assert converged
    assert np.array_equal(model(mg.tensor(x)).numpy().argmax(1), y)


def test_single_layer_rules_learn_digits():
    split = mg.data.load_dataset("digits")
    for name in ("delta", "perceptron"):
        model = linear(64, 10)
        rule = rules.make(name, model)
        opt = mg.optim.SGD(model.parameters(), lr=0.01)
        loader = mg.data.DataLoader(split.train, 32, shuffle=True)
        for _ in range(5):
            for x, y in loader:
                rule.step(x, y, opt)
        acc = (model(mg.tensor(split.test.x)).numpy().argmax(1) == split.test.y).mean()
        assert acc > 0.85, (name, acc)


@pytest.mark.parametrize("target,low", [("onehot", 0.0), ("pm1", -1.0)])
def test_delta_rule_on_one_output_treats_labels_as_a_binary_unit(target, low, rng, f64):
    """One output and labels 0/1: the target is the label itself (0/1, or
    −1/+1 with target='pm1'), as for the perceptron's binary unit."""
    model = linear(2, 1)
    x = mg.tensor(rng.standard_normal((5, 2)))
    y = np.array([0, 1, 1, 0, 1])
    ups = rules.make("delta", model, target=target).updates(x, y)
    t = np.where(y == 1, 1.0, low)[:, None]
    loss = 0.5 * ((model(x) - mg.tensor(t)) ** 2).sum() / 5
    grads = mg.autograd.grad(loss, [model[1].weight, model[1].bias])
    np.testing.assert_allclose(ups["1.weight"], grads[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(ups["1.bias"], grads[1].numpy(), atol=1e-12)


def test_delta_rule_rejects_targets_that_do_not_fit_the_layer(rng):
    model = linear(2, 3)
    x = mg.tensor(rng.standard_normal((4, 2)))
    rule = rules.make("delta", model)
    with pytest.raises(mg.ArgumentError, match=r"labels must be in 0\.\.2 .* from 0 to 3"):
        rule.updates(x, np.array([0, 1, 2, 3]))
    with pytest.raises(mg.ArgumentError, match=r"labels must be in 0\.\.1 for a layer with 1"):
        rules.make("delta", linear(2, 1)).updates(x, np.array([0, 1, 2, 1]))
    with pytest.raises(mg.ShapeError, match=r"targets of shape \(4, 2\) do not fit the layer's 3"):
        rule.updates(x, np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(mg.ShapeError, match=r"one per example"):
        rule.updates(x, np.zeros((4, 1), dtype=np.int64))
