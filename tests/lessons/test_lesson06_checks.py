"""The checkers of lesson 6 accept right answers and reject wrong ones."""
import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson06 import check_exact_layers, check_fa_delta_relu, check_flipped_feedback


def test_fa_delta_relu():
    assert check_fa_delta_relu(lambda D, B, A: (D @ B) * (A > 0)) is True
    for wrong in [lambda D, B, A: (D @ B) * (A >= 0),            # relu'(0) = 1
                  lambda D, B, A: (D @ B.T) * (A > 0),           # the paper's shape
                  lambda D, B, A: (D @ B) * (1 - np.tanh(A) ** 2),
                  lambda D, B, A: D @ B,
                  lambda D, B, A: None, "D @ B"]:
        with pytest.raises(ExerciseError):
            check_fa_delta_relu(wrong)


def test_flipped_feedback():
    assert check_flipped_feedback({"1.weight": 0, "3.weight": 180, "5.weight": 0}) is True
    assert check_flipped_feedback({"1.weight": 0.4, "3.weight": 179.6, "5.weight": 0.0}) is True
    for wrong in [{"1.weight": 180, "3.weight": 180, "5.weight": 0},
                  {"1.weight": 180, "3.weight": 0, "5.weight": 0},
                  {"1.weight": 90, "3.weight": 90, "5.weight": 0},
                  {"1.weight": 0, "3.weight": 180, "5.weight": 180},
                  {"1.weight": 0, "3.weight": 180},
                  [0, 180, 0], "0, 180, 0"]:
        with pytest.raises(ExerciseError):
            check_flipped_feedback(wrong)


def test_exact_layers():
    right = {"3.weight", "3.bias", "5.weight", "5.bias"}
    assert check_exact_layers(right) is True
    assert check_exact_layers(sorted(right)) is True
    for wrong in [{"5.weight", "5.bias"},
                  {"3.weight", "5.weight"},
                  right | {"1.weight"},
                  {"1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"},
                  right | {"W9"}, "3.weight", 5]:
        with pytest.raises(ExerciseError):
            check_exact_layers(wrong)
