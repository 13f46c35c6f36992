"""The checkers of lesson 1 accept the right answers and reject wrong ones."""
import numpy as np
import pytest

import minigrad as mg
from checks import ExerciseError
from checks.lesson01 import (check_perceptron_margin_bound, check_sigmoid_delta_step,
                             check_standardised_step_limit)


def blobs():
    data = mg.data.blobs(200, 100, separation=3.0, seed=0).train
    return data.x.astype(np.float64), data.y


def augment(x):
    return np.hstack([x, np.ones((len(x), 1))])


def perceptron(x, t):
    xa = augment(x)
    w = np.zeros(3)
    while True:
        mistakes = 0
        for xi, ti in zip(xa, t):
            y_hat = 1 if w @ xi > 0 else 0
            if y_hat != ti:
                w = w + (ti - y_hat) * xi
                mistakes += 1
        if mistakes == 0:
            return w


def test_perceptron_margin_bound():
    x, y = blobs()
    w = perceptron(x, y)
    xa = augment(x)
    gamma = np.min((2 * y - 1) * (xa @ w)) / np.linalg.norm(w)
    r = np.linalg.norm(xa, axis=1).max()
    assert check_perceptron_margin_bound((r / gamma) ** 2) is True
    for wrong in [r / gamma, gamma, (r / gamma) ** 2 * 1.01, "many"]:
        with pytest.raises(ExerciseError):
            check_perceptron_margin_bound(wrong)


def test_standardised_step_limit():
    x, _ = blobs()
    z = augment((x - x.mean(0)) / x.std(0))
    lam_max = np.linalg.eigvalsh(z.T @ z / len(z)).max()
    assert check_standardised_step_limit(2 / lam_max) is True
    xa = augment(x)
    raw = 2 / np.linalg.eigvalsh(xa.T @ xa / len(xa)).max()     # not standardised
    for wrong in [lam_max, raw, 1 / lam_max, None]:
        with pytest.raises(ExerciseError):
            check_standardised_step_limit(wrong)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def right_step(w, b, x, t, eta):
    y = sigmoid(x @ w + b)
    delta = (t - y) * y * (1 - y)
    return w + eta * delta @ x / len(x), b + eta * delta.mean()


def test_sigmoid_delta_step():
    assert check_sigmoid_delta_step(right_step) is True

    def no_derivative(w, b, x, t, eta):             # the plain delta rule, f' forgotten
        y = sigmoid(x @ w + b)
        return w + eta * (t - y) @ x / len(x), b + eta * (t - y).mean()

    def summed(w, b, x, t, eta):                    # summed, not averaged
        y = sigmoid(x @ w + b)
        delta = (t - y) * y * (1 - y)
        return w + eta * delta @ x, b + eta * delta.sum()

    def wrong_sign(w, b, x, t, eta):
        nw, nb = right_step(w, b, x, t, eta)
        return 2 * w - nw, 2 * b - nb

    for wrong in [no_derivative, summed, wrong_sign, lambda *a: None, 3.0]:
        with pytest.raises(ExerciseError):
            check_sigmoid_delta_step(wrong)
