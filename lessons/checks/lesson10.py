"""Checkers for lesson 10 (gradient estimators)."""
from __future__ import annotations

import numpy as np

import minigrad as mg

from . import ExerciseError, expect_close


def check_second_moment(answer):
    """E‖g‖² of one forward gradient g = (∇f·v) v, v ~ N(0, Iₙ): a function (n, grad_norm) -> number."""
    if not callable(answer):
        raise ExerciseError("expected a function (n, grad_norm) -> E|g|^2")
    for n, norm in [(1, 1.0), (2, 0.5), (10, 3.0), (3466, 0.02)]:
        try:
            got = float(answer(n, norm))
        except (TypeError, ValueError) as err:
            raise ExerciseError(f"answer(n={n}, grad_norm={norm}) did not give a number: "
                                f"{err}") from None
        expect_close(got, (n + 2) * norm ** 2, f"E|g|^2 for n = {n}, |∇f| = {norm}",
                     rtol=1e-9,
                     hint="|g|^2 = (∇f·v)^2 |v|^2; along ∇f: |∇f|^2 v1^2 (v1^2 + the other "
                          "n - 1 squares); E v1^4 = 3, E v1^2 = 1")
    return True


def check_spsa_estimate(answer):
    """Write SPSA's estimate (f, theta, eps, v) -> (f(θ + εv) − f(θ − εv)) / 2ε · v."""
    if not callable(answer):
        raise ExerciseError("expected a function (f, theta, eps, v) -> array")
    rng = np.random.default_rng(10)
    for dim in (1, 3, 20):
        a = rng.normal(size=(dim, dim))
        hess = a @ a.T + np.eye(dim)
        b = rng.normal(size=dim)

        def f(t, hess=hess, b=b):                  # a quadratic: the central difference is exact
            return float(0.5 * t @ hess @ t + b @ t + np.sin(t).sum())

        theta, v = rng.normal(size=dim), rng.normal(size=dim)
        for eps in (1e-3, 0.5):
            want = (f(theta + eps * v) - f(theta - eps * v)) / (2 * eps) * v
            got = answer(f, theta.copy(), eps, v.copy())
            expect_close(got, want, f"the estimate (dimension {dim}, eps {eps})", rtol=1e-7,
                         atol=1e-10,
                         hint="the central difference (f(θ+εv) − f(θ−εv)) / (2ε) is one "
                              "number; multiply the direction v by it")
    return True


def check_tangents_needed(answer):
    """K with E‖ḡ_K − ∇f‖² = ‖∇f‖² for the forward gradient on mlp([64, 32, 10])."""
    model = mg.nn.mlp([64, 32, 10], "tanh")
    n = sum(p.data.size for p in model.parameters())
    try:
        k = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError("expected a number of tangents (an integer)") from None
    if k == n:
        raise ExerciseError(f"almost: n = {n} parameters, but the error is (n + 1)|∇f|^2 / K")
    expect_close(k, n + 1, "K", rtol=0, atol=0.5,
                 hint="E|g_K - ∇f|^2 = (n + 1)|∇f|^2 / K; count the parameters n of the "
                      "mlp (weights and biases)")
    return True
