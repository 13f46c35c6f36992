"""Lesson 12's checkers accept right answers and reject wrong ones."""
import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson12 import check_best_lr, check_mean_std, check_welch_t


def test_mean_std():
    assert check_mean_std(lambda v: (np.mean(v), np.std(v, ddof=1))) is True
    with pytest.raises(ExerciseError):
        check_mean_std(lambda v: (np.mean(v), np.std(v)))              # population std
    with pytest.raises(ExerciseError):
        check_mean_std(lambda v: (np.median(v), np.std(v, ddof=1)))
    with pytest.raises(ExerciseError):
        check_mean_std(lambda v: np.mean(v))                           # not a pair


def _pick(sweep):
    scored = [(acc, lr) for lr, acc in sweep.items() if acc is not None]
    best = max(acc for acc, _ in scored)
    return min(lr for acc, lr in scored if acc == best)


def test_best_lr():
    assert check_best_lr(_pick) is True
    with pytest.raises(ExerciseError):          # the larger rate on a tie
        check_best_lr(lambda s: max(lr for lr, a in s.items()
                                    if a == max(v for v in s.values() if v is not None)))
    with pytest.raises(ExerciseError):          # does not skip diverged runs
        check_best_lr(lambda s: max(s, key=lambda lr: s[lr]))
    with pytest.raises(ExerciseError):          # the middle of the grid, whatever happened
        check_best_lr(lambda s: sorted(s)[len(s) // 2])


def _welch(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))


def test_welch_t():
    assert check_welch_t(_welch) is True
    with pytest.raises(ExerciseError):          # population variances
        check_welch_t(lambda a, b: (np.mean(a) - np.mean(b))
                      / np.sqrt(np.var(a) / len(a) + np.var(b) / len(b)))
    with pytest.raises(ExerciseError):          # forgot to divide by n
        check_welch_t(lambda a, b: (np.mean(a) - np.mean(b))
                      / np.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)))
    with pytest.raises(ExerciseError):
        check_welch_t(lambda a, b: [1.0, 2.0])
