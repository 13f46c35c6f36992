"""Checkers for lesson 1 (the neuron, the perceptron and the delta rule).

Each computes the right answer from the lesson's own setting: the blobs
``mg.data.blobs(200, 100, separation=3.0, seed=0).train``, the same in fast
and full mode."""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import nn

from . import ExerciseError, expect_close

N = 200


def _blobs():
    data = mg.data.blobs(N, 100, separation=3.0, seed=0).train
    return data.x.astype(np.float64), data.y


def _augment(x):
    return np.hstack([x, np.ones((len(x), 1))])


def _perceptron(x, t, max_epochs=1000):
    """The online perceptron from w = 0, examples in order (as in the lesson)."""
    xa = _augment(x)
    w = np.zeros(xa.shape[1])
    for _ in range(max_epochs):
        mistakes = 0
        for xi, ti in zip(xa, t):
            y_hat = 1 if w @ xi > 0 else 0
            if y_hat != ti:
                w = w + (ti - y_hat) * xi
                mistakes += 1
        if mistakes == 0:
            return w
    raise RuntimeError("the perceptron did not converge on the lesson's blobs")


def check_perceptron_margin_bound(answer):
    """Exercise 1: Novikoff's bound (R/gamma)^2 with gamma the margin of the perceptron's final (w, b)."""
    x, y = _blobs()
    w = _perceptron(x, y)
    xa = _augment(x)
    gamma = float(np.min((2 * y - 1) * (xa @ w)) / np.linalg.norm(w))
    r = float(np.linalg.norm(xa, axis=1).max())
    expected = (r / gamma) ** 2
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError("give one number: (R / gamma) ** 2") from None
    if abs(value - gamma) < 1e-6 * abs(gamma) or abs(value - r / gamma) < 1e-6 * r / gamma:
        raise ExerciseError("that is gamma or R/gamma; the bound is (R / gamma) ** 2")
    return expect_close(value, expected, "the bound", rtol=1e-4,
                        hint="gamma = margin(np.append(w_p, b_p), x_blobs, y_blobs); "
                             "R is the largest norm of the inputs with the bias 1 appended")


def check_standardised_step_limit(answer):
    """Exercise 2: the LMS stability limit 2/lambda_max of C for the standardised blobs (bias input 1)."""
    x, _ = _blobs()
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    za = _augment(z)
    lam = np.linalg.eigvalsh(za.T @ za / len(za))
    expected = 2 / lam.max()
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError("give one number: 2 / lambda_max") from None
    if abs(value - lam.max()) < 1e-6:
        raise ExerciseError("that is lambda_max itself; the limit on the step is 2 / lambda_max")
    return expect_close(value, expected, "2 / lambda_max", rtol=1e-4,
                        hint="standardise each input column, append the bias column of ones, "
                             "then C = Z^T Z / N and its largest eigenvalue")


def check_sigmoid_delta_step(answer):
    """Exercise 3: one full-batch step of the generalised delta rule for a sigmoid unit."""
    if not callable(answer):
        raise ExerciseError("give the function itself (answer = sigmoid_delta_step)")
    rng = np.random.default_rng(1)
    for trial in range(4):
        d, n = 2 + trial, 5 + 3 * trial
        w = rng.standard_normal(d)
        b = float(rng.standard_normal())
        x = rng.standard_normal((n, d))
        t = rng.random(n)
        eta = 0.1 + 0.3 * trial
        model = nn.Sequential(nn.Linear(d, 1, dtype=np.float64))
        model[0].weight.data[...] = w
        model[0].bias.data[...] = b
        rule = mg.rules.make("delta", model, output="sigmoid")
        rule.step(mg.tensor(x), mg.tensor(t[:, None]), mg.optim.SGD(model.parameters(), lr=eta))
        want_w, want_b = model[0].weight.numpy()[0], float(model[0].bias.numpy()[0])
        got = answer(w.copy(), b, x.copy(), t.copy(), eta)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise ExerciseError("return a pair (new_w, new_b)")
        hint = ("new_w = w + eta * mean over n of (t - y) * y * (1 - y) * x_n, "
                "with y = sigmoid(x @ w + b)")
        expect_close(got[0], want_w, f"new_w (trial {trial + 1})", rtol=1e-8, atol=1e-10,
                     hint=hint)
        expect_close(got[1], want_b, f"new_b (trial {trial + 1})", rtol=1e-8, atol=1e-10,
                     hint=hint)
    return True
