"""Checkers for lesson 6 (the weight-transport problem and feedback
alignment). Each computes the right answer itself, with minigrad, on the
lesson's network (a 784-128-128-10 tanh MLP) or on random inputs."""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import nn, rules

from . import ExerciseError, as_array, expect_close

SIZES = [784, 128, 128, 10]


def _lesson_model_and_batch(seed=0, n=32):
    model = nn.mlp(SIZES, "tanh", generator=np.random.default_rng(0))
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((n, 784)).astype(np.float32))
    y = rng.integers(0, 10, n)
    return model, x, y


def _fa_with(model, feedback):
    """An FA rule for ``model`` whose feedback matrices are replaced by
    ``feedback`` ({layer name: array}); the others stay random."""
    fa = rules.make("fa", model, seed=0)
    state = fa.state_dict()
    state["feedback"] = {k: np.array(v, dtype=np.float32) for k, v in feedback.items()}
    fa.load_state_dict(state)
    return fa


def _weights(model):
    return {name: m.weight.data for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def check_fa_delta_relu(fa_delta_relu):
    """Write FA's error D = (D_next B) * relu'(A) for a hidden ReLU layer (row convention)."""
    if not callable(fa_delta_relu):
        raise ExerciseError("answer with the function itself: answer = fa_delta_relu")
    rng = np.random.default_rng(6)
    for n, k, m in [(5, 3, 7), (1, 10, 4), (8, 6, 6)]:
        D_next = rng.standard_normal((n, k))
        B = rng.standard_normal((k, m))
        A = rng.standard_normal((n, m))
        A[0, 0] = 0.0                                 # relu'(0) = 0
        want = (D_next @ B) * (A > 0)
        try:
            got = fa_delta_relu(D_next.copy(), B.copy(), A.copy())
        except Exception as err:       # a shape error from B.T, for instance
            raise ExerciseError(f"your function raised {type(err).__name__}: {err}. B has the "
                                "shape of W, (outputs, inputs): D_next @ B has this layer's "
                                "width") from None
        if got is None:
            raise ExerciseError("your function returned None")
        expect_close(got, want, "D", rtol=1e-9, atol=1e-12,
                     hint="multiply D_next by B (not B.T), then by relu'(A) = (A > 0), "
                          "which is 0 at A = 0")
    return True


def check_flipped_feedback(answer):
    """With B = -W for both hidden feedbacks, give the angle (degrees) of each weight's update to backprop's."""
    if not isinstance(answer, dict):
        raise ExerciseError('answer with a dict: {"1.weight": ..., "3.weight": ..., '
                            '"5.weight": ...}')
    model, x, y = _lesson_model_and_batch()
    w = _weights(model)
    fa = _fa_with(model, {"3": -w["3"], "5": -w["5"]})
    ups = fa.updates(x, y)
    grads = rules.make("bp", model).updates(x, y)
    for name in ["1.weight", "3.weight", "5.weight"]:
        if name not in answer:
            raise ExerciseError(f"no angle for {name!r}")
        want = rules.angle(ups[name], grads[name])
        got = float(as_array(answer[name], name))
        if abs(got - want) > 1.0:
            raise ExerciseError(f"{name}: not right yet. Follow the sign of the error down: "
                                "the output layer learns from e itself, and every flipped B "
                                "flips the sign of the error sent below it")
    return True


def check_exact_layers(answer):
    """With B3 = W3 exact and B2 random, which parameters' updates equal backprop's?"""
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        raise ExerciseError('answer with a set of parameter names, e.g. {"5.weight", "5.bias"}')
    got = {str(a) for a in answer}
    model, x, y = _lesson_model_and_batch(seed=1)
    fa = _fa_with(model, {"5": _weights(model)["5"].copy()})
    ups = fa.updates(x, y)
    grads = rules.make("bp", model).updates(x, y)
    want = {k for k in grads if np.abs(ups[k] - grads[k]).max() <= 1e-6 * np.abs(grads[k]).max()}
    unknown = got - set(grads)
    if unknown:
        raise ExerciseError(f"not parameters of the model: {sorted(unknown)}; the names are "
                            f"{sorted(grads)}")
    if got != want:
        raise ExerciseError("not right yet. Which layers receive an error that has passed "
                            "through a random matrix on its way down?")
    return True
