"""Lesson 9's checkers accept a right answer and reject wrong ones."""
import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson09 import check_equivalent_rule, check_mono_forward_grad, check_pepita_update


def _softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def test_mono_forward_grad():
    def right(a, m, y):
        return (_softmax(a @ m.T) - np.eye(m.shape[0])[y]).T @ a / len(y)

    def summed(a, m, y):                       # forgot the batch mean
        return (_softmax(a @ m.T) - np.eye(m.shape[0])[y]).T @ a

    def transposed(a, m, y):
        return right(a, m, y).T

    assert check_mono_forward_grad(right) is True
    for wrong in (summed, transposed, None):
        with pytest.raises(ExerciseError):
            check_mono_forward_grad(wrong)


def test_equivalent_rule():
    assert check_equivalent_rule("shallow") is True
    for wrong in ("bp", "mono_forward", "no such rule", None):
        with pytest.raises(ExerciseError):
            check_equivalent_rule(wrong)


def test_pepita_update():
    def right(h, h_mod, h_in_mod):
        return (h - h_mod).T @ h_in_mod / len(h)

    def flipped(h, h_mod, h_in_mod):           # the weight change, not the update
        return -right(h, h_mod, h_in_mod)

    def standard_input(h, h_mod, h_in_mod):    # not the modulated pass's input
        return (h - h_mod).T @ np.ones_like(h_in_mod) / len(h)

    assert check_pepita_update(right) is True
    for wrong in (flipped, standard_input, None):
        with pytest.raises(ExerciseError):
            check_pepita_update(wrong)
