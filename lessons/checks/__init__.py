"""Checkers for the lessons' exercises, one module per lesson
(``checks.lesson01`` ...). A checker takes the learner's answer, computes
what the answer must be from the lesson's own setting, and raises
:class:`ExerciseError` with a hint when the answer is wrong. The test suite
calls every checker with a right and a wrong answer: a checker that cannot
fail is a defect.
"""
from __future__ import annotations

import numpy as np


class ExerciseError(AssertionError):
    """The learner's answer is not right yet; the message says why."""


def call_answer(fn, *args, what="your function"):
    """``fn(*args)``, with any exception the learner's code raises turned
    into an ExerciseError that names the call and the error."""
    try:
        return fn(*args)
    except ExerciseError:
        raise
    except Exception as err:  # noqa: BLE001  (show the learner what went wrong)
        raise ExerciseError(f"{what} raised {type(err).__name__}: {err}") from err


def as_array(answer, what):
    """``answer`` (a minigrad Tensor, array or number) as a NumPy array."""
    data = getattr(answer, "data", answer)
    if hasattr(data, "get"):              # a CuPy array
        data = data.get()
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ExerciseError(f"{what}: expected numbers, got {type(answer).__name__}") from err


def expect_close(answer, expected, what, rtol=1e-6, atol=1e-8, hint=""):
    """Raise ExerciseError unless ``answer`` has ``expected``'s shape and
    values (to the tolerances)."""
    got, want = as_array(answer, what), as_array(expected, what)
    if got.shape != want.shape:
        raise ExerciseError(f"{what}: expected shape {want.shape}, got {got.shape}. {hint}".strip())
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got - want)))
        raise ExerciseError(f"{what}: not right yet (largest difference {worst:.3g}). "
                            f"{hint}".strip())
    return True
