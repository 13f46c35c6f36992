"""Lesson 10's checkers accept a right answer and reject wrong ones."""
import pytest

from checks import ExerciseError
from checks.lesson10 import check_second_moment, check_spsa_estimate, check_tangents_needed


def test_second_moment():
    assert check_second_moment(lambda n, g: (n + 2) * g ** 2) is True
    for wrong in (lambda n, g: n * g ** 2, lambda n, g: (n + 2) * g, None,
                  lambda n, g: "large"):
        with pytest.raises(ExerciseError):
            check_second_moment(wrong)


def test_spsa_estimate():
    def right(f, theta, eps, v):
        return (f(theta + eps * v) - f(theta - eps * v)) / (2 * eps) * v

    def one_sided(f, theta, eps, v):
        return (f(theta + eps * v) - f(theta)) / eps * v

    def no_direction(f, theta, eps, v):
        return (f(theta + eps * v) - f(theta - eps * v)) / (2 * eps) + 0 * v

    assert check_spsa_estimate(right) is True
    for wrong in (one_sided, no_direction, None):
        with pytest.raises(ExerciseError):
            check_spsa_estimate(wrong)


def test_tangents_needed():
    n = 64 * 32 + 32 + 32 * 10 + 10
    assert check_tangents_needed(n + 1) is True
    for wrong in (n, 64 * 32 + 32 * 10, "many", 1):
        with pytest.raises(ExerciseError):
            check_tangents_needed(wrong)
