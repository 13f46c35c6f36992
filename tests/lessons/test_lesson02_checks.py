"""The checkers of lesson 2 accept right answers and reject wrong ones."""
import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson02 import check_input_gradient, check_relu_delta, check_three_layer_backward


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_relu_delta():
    assert check_relu_delta(lambda A1, dH: dH * (A1 > 0)) is True
    for wrong in [lambda A1, dH: dH * (A1 >= 0),          # relu'(0) = 1
                  lambda A1, dH: dH * (1 - np.tanh(A1) ** 2),
                  lambda A1, dH: np.maximum(dH, 0),
                  lambda A1, dH: None, "dH"]:
        with pytest.raises(ExerciseError):
            check_relu_delta(wrong)


def delta1(params, X, y):
    H = np.tanh(X @ params["W1"].T + params["b1"])
    P = softmax(H @ params["W2"].T + params["b2"])
    d2 = (P - np.eye(P.shape[1])[y]) / len(y)
    return (d2 @ params["W2"]) * (1 - H ** 2)


def test_input_gradient():
    assert check_input_gradient(lambda p, X, y: delta1(p, X, y) @ p["W1"]) is True
    for wrong in [lambda p, X, y: delta1(p, X, y) @ p["W1"] * len(y),     # no mean
                  lambda p, X, y: (delta1(p, X, y) @ p["W1"]).T.copy().T[:, ::-1],
                  lambda p, X, y: delta1(p, X, y).T @ X,                   # dW1, not dX
                  lambda p, X, y: None]:
        with pytest.raises(ExerciseError):
            check_input_gradient(wrong)


def three_layer(params, X, y, tanh_top=True, mean=True):
    H1 = np.tanh(X @ params["W1"].T + params["b1"])
    H2 = np.tanh(H1 @ params["W2"].T + params["b2"])
    P = softmax(H2 @ params["W3"].T + params["b3"])
    d3 = (P - np.eye(P.shape[1])[y]) / (len(y) if mean else 1)
    d2 = (d3 @ params["W3"]) * ((1 - H2 ** 2) if tanh_top else 1)
    d1 = (d2 @ params["W2"]) * (1 - H1 ** 2)
    return {"W3": d3.T @ H2, "b3": d3.sum(0), "W2": d2.T @ H1, "b2": d2.sum(0),
            "W1": d1.T @ X, "b1": d1.sum(0)}


def test_three_layer_backward():
    assert check_three_layer_backward(three_layer) is True

    def missing_bias(p, X, y):
        g = three_layer(p, X, y)
        del g["b1"]
        return g

    for wrong in [lambda p, X, y: three_layer(p, X, y, tanh_top=False),
                  lambda p, X, y: three_layer(p, X, y, mean=False),
                  missing_bias, lambda p, X, y: list(three_layer(p, X, y).values())]:
        with pytest.raises(ExerciseError):
            check_three_layer_backward(wrong)
