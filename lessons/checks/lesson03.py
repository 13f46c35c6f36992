"""Checkers for lesson 3 (inside the autograd engine)."""
from __future__ import annotations

import numpy as np

import minigrad as mg

from . import ExerciseError, as_array, expect_close


def check_softplus_vjp(answer):
    """Exercise 1: the vjp of softplus, dL/dx from the input x and the output gradient g."""
    if not callable(answer):
        raise ExerciseError("give the function itself (answer = softplus_vjp)")
    rng = np.random.default_rng(5)
    eps = 1e-6
    for trial in range(3):
        x = rng.standard_normal(4 + trial) * 3
        g = rng.standard_normal(4 + trial)
        numeric = g * (np.logaddexp(0, x + eps) - np.logaddexp(0, x - eps)) / (2 * eps)
        got = answer(x.copy(), g.copy())
        if got is None:
            raise ExerciseError("your function returned None")
        expect_close(got, numeric, f"the vjp (trial {trial + 1})", rtol=1e-6, atol=1e-8,
                     hint="softplus'(x) = sigmoid(x) = 1 / (1 + exp(-x)); multiply by g")
    return True


def check_cube_op(answer):
    """Exercise 2: an mg.Op subclass Cube (y = x^3) with forward, vjp and jvp that passes gradcheck."""
    if not (isinstance(answer, type) and issubclass(answer, mg.Op)):
        raise ExerciseError("give a class that subclasses mg.Op (answer = Cube, not Cube())")
    rng = np.random.default_rng(6)
    for trial in range(3):
        x = mg.tensor(rng.standard_normal(3 + trial), dtype=np.float64)
        try:
            with mg.no_grad():
                y = mg.apply(answer(), x)
        except Exception as err:            # show the learner what went wrong
            raise ExerciseError(f"mg.apply(Cube(), x) raised {type(err).__name__}: {err}") \
                from None
        expect_close(y, x.numpy() ** 3, f"the forward value (trial {trial + 1})", rtol=1e-12,
                     hint="forward gets a NumPy array x and returns x ** 3")
        try:
            mg.gradcheck(lambda t: mg.apply(answer(), t), (x,), name="Cube")
        except mg.GradcheckError as err:
            raise ExerciseError(f"gradcheck failed:\n{err}\n(vjp: g * 3 x^2; jvp: dx * 3 x^2)") \
                from None
        except Exception as err:
            raise ExerciseError(f"gradcheck raised {type(err).__name__}: {err} -- does your "
                                "class define vjp and jvp with Tensor operations?") from None
    return True


def check_accumulated_grad(answer):
    """Exercise 3: s.grad after two retained backwards of s*s + 2s and one of s*s, at s = 3."""
    s = mg.tensor(3.0, dtype=np.float64, requires_grad=True)
    y = s * s + 2 * s
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    (s * s).backward()
    value = as_array(answer, "s.grad")
    if value.size != 1:
        raise ExerciseError("give one number")
    if np.isclose(float(value), 6.0):
        raise ExerciseError("6 is the gradient of the last call only: .grad adds up across calls")
    if np.isclose(float(value), 8.0):
        raise ExerciseError("8 is one backward of s*s + 2s; there were two, and then s*s")
    return expect_close(float(value), s.grad.item(), "s.grad",
                        hint="d(s*s + 2s)/ds = 2s + 2 at s = 3, twice; then d(s*s)/ds = 2s")
