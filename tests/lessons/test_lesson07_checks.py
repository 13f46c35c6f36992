"""The checkers of lesson 7 accept right answers and reject wrong ones."""
import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson07 import check_dfa_delta, check_dfa_signal_rank, check_kp_gap


def test_dfa_delta():
    assert check_dfa_delta(lambda E, D, A: (E @ D.T) * (1 - np.tanh(A) ** 2)) is True
    for wrong in [lambda E, D, A: (E @ D) * (1 - np.tanh(A) ** 2),      # D's storage
                  lambda E, D, A: (E @ D.T) * (1 - A ** 2),
                  lambda E, D, A: (E @ D.T) * np.tanh(A),
                  lambda E, D, A: E @ D.T,
                  lambda E, D, A: None, 3.0]:
        with pytest.raises(ExerciseError):
            check_dfa_delta(wrong)


def test_kp_gap():
    assert check_kp_gap(lambda eta, lam, t: (1 - eta * lam) ** t) is True
    for wrong in [lambda eta, lam, t: (1 - lam) ** t,
                  lambda eta, lam, t: np.exp(-eta * lam * t),
                  lambda eta, lam, t: (1 - eta * lam) ** (t + 1),
                  lambda eta, lam, t: 1.0,
                  lambda eta, lam, t: (1 - 2 * eta * lam) ** t,
                  lambda eta, lam, t: None, 0.5]:
        with pytest.raises(ExerciseError):
            check_kp_gap(wrong)


def test_dfa_signal_rank():
    assert check_dfa_signal_rank(lambda w, k: min(w, k - 1)) is True
    for wrong in [lambda w, k: min(w, k),
                  lambda w, k: k - 1,
                  lambda w, k: w,
                  lambda w, k: min(w, k) - 1,
                  lambda w, k: None, 9]:
        with pytest.raises(ExerciseError):
            check_dfa_signal_rank(wrong)
