"""Checkers for lesson 4 (forward mode)."""
from __future__ import annotations

import numpy as np

import minigrad as mg
from checks import ExerciseError, as_array, expect_close


def check_dual_division(answer):
    """Write div(a, b, c, d): the (primal, tangent) of (a + bε)/(c + dε)."""
    if not callable(answer):
        raise ExerciseError("give a function div(a, b, c, d) returning (primal, tangent)")
    rng = np.random.default_rng(4)
    cases = [(1.0, 0.0, 2.0, 0.0), (1.0, 1.0, 1.0, 0.0), (0.0, 0.0, 3.0, 1.0), (3.0, -1.0, 2.0, 5.0)]
    cases += [tuple(rng.uniform(-3, 3, 2)) + (rng.uniform(0.5, 3) * rng.choice([-1, 1]),
                                             rng.uniform(-3, 3)) for _ in range(6)]
    for a, b, c, d in cases:
        try:
            got = answer(a, b, c, d)
            primal, tangent = got
        except ExerciseError:
            raise
        except Exception as err:  # noqa: BLE001  (show the learner what went wrong)
            raise ExerciseError(f"div({a:.3g}, {b:.3g}, {c:.3g}, {d:.3g}) failed or did not "
                                f"return a pair: {err!r}") from err
        want_p, want_t = a / c, (b * c - a * d) / c ** 2
        where = f"div({a:.3g}, {b:.3g}, {c:.3g}, {d:.3g})"
        expect_close(primal, want_p, f"{where}: the primal", rtol=1e-9, atol=1e-12,
                     hint="the primal is a / c")
        expect_close(tangent, want_t, f"{where}: the tangent", rtol=1e-9, atol=1e-12,
                     hint="solve (c + dε)(p + qε) = a + bε for q: c q + d p = b")
    return True


def _test_functions():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((3, 4))
    A = rng.standard_normal((2, 5))
    return [
        (lambda x: mg.tanh(mg.tensor(W) @ x), rng.standard_normal(4)),
        (lambda x: mg.sin(x) * x[0] + x ** 2, rng.standard_normal(3)),
        (lambda x: mg.exp(mg.tensor(A) @ x) / 3.0, rng.standard_normal(5)),
    ]


def check_jacobian_by_jvps(answer):
    """Write jacobian_by_jvps(f, x): the (m, n) Jacobian, one mg.jvp per column."""
    if not callable(answer):
        raise ExerciseError("give a function jacobian_by_jvps(f, x) returning an (m, n) array")
    for k, (f, x0) in enumerate(_test_functions()):
        x = mg.tensor(x0)                              # float64
        want = mg.jacobian(f, mode="rev")(x).numpy()
        try:
            got = answer(f, x)
        except Exception as err:  # noqa: BLE001
            raise ExerciseError(f"test function {k}: jacobian_by_jvps raised {err!r}") from err
        expect_close(got, want, f"test function {k} (n = {x0.size}, m = {want.shape[0]})",
                     rtol=1e-9, atol=1e-12,
                     hint="column k is mg.jvp(f, x, e_k)[1] with e_k the k-th unit vector; "
                          "stack the columns along axis 1")
    return True


def make_problem(seed=0):
    """The lesson's softmax-regression problem (the same code, the same seed)."""
    rng = np.random.default_rng(seed)
    X = mg.tensor(rng.standard_normal((64, 5)))
    y = mg.tensor(rng.integers(0, 3, 64))

    def loss(w):
        return mg.cross_entropy(X @ w.reshape(5, 3), y) + 0.05 * (w * w).sum()

    w0 = mg.tensor(0.1 * rng.standard_normal(15))
    v = mg.tensor(rng.standard_normal(15))
    return loss, w0, v


def check_curvature(answer):
    """Give v^T H v of the lesson's make_problem() loss at w0, from one hvp."""
    loss, w0, v = make_problem()
    w0, v = w0.double(), v.double()
    H = mg.hessian(loss)(w0).numpy()
    want = float(v.numpy() @ H @ v.numpy())
    got = as_array(answer, "v^T H v")
    if got.size != 1:
        raise ExerciseError(f"v^T H v is one number; got an array of shape {got.shape}. "
                            "Take the inner product of v with mg.hvp(loss, w0, v)")
    expect_close(got.reshape(()), want, "v^T H v", rtol=1e-6, atol=1e-9,
                 hint="compute Hv = mg.hvp(loss, w0, v), then the sum of v * Hv")
    return True
