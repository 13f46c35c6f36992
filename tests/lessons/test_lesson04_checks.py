"""Lesson 4's checkers accept right answers and reject wrong ones."""
import numpy as np
import pytest

import minigrad as mg
from checks import ExerciseError
from checks.lesson04 import (check_curvature, check_dual_division, check_jacobian_by_jvps,
                             make_problem)


def test_dual_division():
    assert check_dual_division(lambda a, b, c, d: (a / c, (b * c - a * d) / c ** 2)) is True
    with pytest.raises(ExerciseError):
        check_dual_division(lambda a, b, c, d: (a / c, b / d if d else b))   # tangent wrong
    with pytest.raises(ExerciseError):
        check_dual_division(lambda a, b, c, d: (a / c, (b * c + a * d) / c ** 2))  # sign
    with pytest.raises(ExerciseError):
        check_dual_division(lambda a, b, c, d: a / c)                      # not a pair
    with pytest.raises(ExerciseError):
        check_dual_division(3.0)                      # not a function


def _jacobian_by_jvps(f, x):
    cols = [mg.jvp(f, x, mg.tensor(e))[1].numpy() for e in np.eye(x.size)]
    return np.stack(cols, axis=1)


def test_jacobian_by_jvps():
    assert check_jacobian_by_jvps(_jacobian_by_jvps) is True
    with pytest.raises(ExerciseError):
        check_jacobian_by_jvps(lambda f, x: _jacobian_by_jvps(f, x).T)    # rows and columns
    with pytest.raises(ExerciseError):
        check_jacobian_by_jvps(lambda f, x: np.zeros((1, x.size)))
    with pytest.raises(ExerciseError):
        check_jacobian_by_jvps(lambda f, x: 1 / 0)                         # raises


def test_curvature():
    loss, w0, v = make_problem()
    hv = mg.hvp(loss, w0, v)
    right = float((v * hv).sum().item())
    assert check_curvature(right) is True
    assert check_curvature(mg.tensor(right)) is True
    with pytest.raises(ExerciseError):
        check_curvature(right + 0.1)
    with pytest.raises(ExerciseError):
        check_curvature(hv)                                                # a vector
    with pytest.raises(ExerciseError):
        check_curvature(float((v * v).sum().item()))                       # |v|^2
