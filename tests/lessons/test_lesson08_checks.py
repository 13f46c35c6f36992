"""Lesson 8's checkers accept a right answer and reject wrong ones."""
import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson08 import check_ff_loss, check_negative_labels, check_normalized_goodness


def test_ff_loss():
    def right(g_pos, g_neg, theta):
        return np.mean(np.logaddexp(0, theta - g_pos)) + np.mean(np.logaddexp(0, g_neg - theta))

    def unstable(g_pos, g_neg, theta):
        with np.errstate(over="ignore", divide="ignore"):
            p_pos = 1 / (1 + np.exp(-(g_pos - theta)))
            p_neg = 1 / (1 + np.exp(-(g_neg - theta)))
            return np.mean(-np.log(p_pos)) + np.mean(-np.log(1 - p_neg))

    def swapped(g_pos, g_neg, theta):
        return right(g_neg, g_pos, theta)

    assert check_ff_loss(right) is True
    for wrong in (swapped, unstable, None, 3.0):
        with pytest.raises(ExerciseError):
            check_ff_loss(wrong)


def test_normalized_goodness():
    assert check_normalized_goodness(256) is True
    for wrong in (1.0, 16.0, "many", 0):
        with pytest.raises(ExerciseError):
            check_normalized_goodness(wrong)


def test_negative_labels():
    def right(y, c, rng):
        return (y + rng.integers(1, c, size=y.shape)) % c

    def plus_one(y, c, rng):
        return (y + 1) % c

    def sometimes_right(y, c, rng):
        return rng.integers(0, c, size=y.shape)

    assert check_negative_labels(right) is True
    for wrong in (plus_one, sometimes_right, None):
        with pytest.raises(ExerciseError):
            check_negative_labels(wrong)
