"""Checkers for lesson 2 (backprop by hand). Each calls the learner's
function on random float64 inputs and compares with minigrad's reverse mode."""
from __future__ import annotations

import numpy as np

import minigrad as mg

from . import ExerciseError, expect_close


def _random_params(rng, sizes):
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in) * 1.5
        params[f"b{i}"] = rng.standard_normal(n_out) * 0.5
    return params


def _reference_grads(params, X, y, wrt_input=False):
    """Gradients of the mean cross-entropy of a tanh MLP (any depth) from minigrad."""
    leaves = {k: mg.tensor(v, requires_grad=True) for k, v in params.items()}
    x = mg.tensor(X, requires_grad=wrt_input)
    n_layers = len(params) // 2
    h = x
    for i in range(1, n_layers + 1):
        h = h @ leaves[f"W{i}"].T + leaves[f"b{i}"]
        if i < n_layers:
            h = mg.tanh(h)
    mg.cross_entropy(h, y).backward()
    grads = {k: t.grad.numpy() for k, t in leaves.items()}
    if wrt_input:
        grads["X"] = x.grad.numpy()
    return grads


def _call(answer, *args):
    if not callable(answer):
        raise ExerciseError("give the function itself (answer = the function's name)")
    copies = [{k: v.copy() for k, v in a.items()} if isinstance(a, dict) else
              (a.copy() if isinstance(a, np.ndarray) else a) for a in args]
    return answer(*copies)


def check_relu_delta(answer):
    """Exercise 1: the backward step through a ReLU, dL/dA1 from A1 and dL/dH."""
    rng = np.random.default_rng(2)
    for trial in range(3):
        n, width = 4 + trial, 3 + 2 * trial
        A1 = rng.standard_normal((n, width))
        A1[0, 0] = 0.0                                   # relu'(0) = 0
        dH = rng.standard_normal((n, width))
        a = mg.tensor(A1, requires_grad=True)
        (mg.relu(a) * mg.tensor(dH)).sum().backward()    # vjp of relu with cotangent dH
        got = _call(answer, A1, dH)
        if got is None:
            raise ExerciseError("your function returned None")
        expect_close(got, a.grad.numpy(), f"dL/dA1 (trial {trial + 1})", rtol=1e-10,
                     atol=1e-12, hint="multiply dH by the ReLU's derivative: 1 where A1 > 0, "
                                      "else 0")
    return True


def check_input_gradient(answer):
    """Exercise 2: dL/dX, the gradient of the lesson's network with respect to its input."""
    rng = np.random.default_rng(3)
    for trial in range(3):
        n, d, width, classes = 5 + trial, 2 + trial, 4 + trial, 2 + trial
        params = _random_params(rng, [d, width, classes])
        X = rng.standard_normal((n, d))
        y = rng.integers(0, classes, n)
        want = _reference_grads(params, X, y, wrt_input=True)["X"]
        got = _call(answer, params, X, y)
        if got is None:
            raise ExerciseError("your function returned None")
        expect_close(got, want, f"dL/dX (trial {trial + 1})", rtol=1e-8, atol=1e-12,
                     hint="dL/dX = delta_1 @ W1, with delta_1 = dL/dA1 as in backward "
                          "(mean over the batch already inside delta_2)")
    return True


def check_three_layer_backward(answer):
    """Exercise 3: the six gradients of a three-layer tanh network with softmax cross-entropy."""
    rng = np.random.default_rng(4)
    for trial in range(3):
        n, sizes = 6 + trial, [2 + trial, 5, 4 + trial, 3]
        params = _random_params(rng, sizes)
        X = rng.standard_normal((n, sizes[0]))
        y = rng.integers(0, sizes[-1], n)
        want = _reference_grads(params, X, y)
        got = _call(answer, params, X, y)
        if not isinstance(got, dict):
            raise ExerciseError("return a dict with keys W1, b1, W2, b2, W3, b3")
        missing = sorted(set(want) - set(got))
        if missing:
            raise ExerciseError(f"the dict lacks {', '.join(missing)}")
        for k in ["W3", "b3", "W2", "b2", "W1", "b1"]:     # from the top: the first wrong one
            expect_close(got[k], want[k], f"dL/d{k} (trial {trial + 1})", rtol=1e-8,
                         atol=1e-12, hint="delta_3 = (P - T)/N; delta_2 = (delta_3 @ W3) * "
                                          "(1 - H2**2); delta_1 = (delta_2 @ W2) * (1 - H1**2)")
    return True
