"""Checkers for lesson 12 (comparing rules fairly)."""
from __future__ import annotations

import math

import numpy as np

from checks import ExerciseError, as_array, call_answer, expect_close


def check_mean_std(answer):
    """Write mean_std(values) -> (mean, std) as Comparison reports them (sample std)."""
    if not callable(answer):
        raise ExerciseError("give a function mean_std(values) returning (mean, std)")
    cases = [[97.49, 97.77], [95.0, 96.1, 94.4], [90.0, 90.0, 90.0], [88.6, 91.2, 89.9, 93.0]]
    for values in cases:
        got = call_answer(answer, list(values), what=f"mean_std({values})")
        try:
            mean, std = got
        except (TypeError, ValueError) as err:
            raise ExerciseError(f"mean_std must return a pair (mean, std), got {got!r}") from err
        expect_close(mean, np.mean(values), f"the mean of {values}", rtol=1e-9)
        expect_close(std, np.std(values, ddof=1), f"the std of {values}", rtol=1e-9, atol=1e-12,
                     hint="Comparison reports the sample standard deviation: divide the "
                          "sum of squared deviations by n - 1 (np.std(values, ddof=1))")
    return True


def _reference_pick(sweep):
    scored = [(acc, lr) for lr, acc in sweep.items() if acc is not None]
    return max(scored, key=lambda pair: (pair[0], -pair[1]))[1]


def check_best_lr(answer):
    """Write pick_lr(sweep): the rate with the best validation accuracy (None: diverged; tie: smaller)."""
    if not callable(answer):
        raise ExerciseError("give a function pick_lr(sweep) returning a learning rate")
    cases = [
        {0.01: 0.90, 0.1: 0.95, 1.0: 0.93},
        {0.001: 0.80, 0.01: 0.97, 0.1: None, 1.0: None},
        {0.3: None, 0.03: 0.96, 0.1: 0.96, 0.01: 0.94},          # a tie, keys unsorted
        {0.1: 0.5},
        {1.0: None, 0.3: 0.20, 0.1: 0.10},                       # the best is the largest left
    ]
    for sweep in cases:
        want = _reference_pick(sweep)
        got = call_answer(answer, dict(sweep), what=f"pick_lr({sweep})")
        if not isinstance(got, (int, float)) or not math.isclose(got, want):
            raise ExerciseError(f"pick_lr({sweep}) should be {want}, got {got!r}. Skip the "
                                "diverged runs (None); on a tie take the smaller rate")
    return True


def check_welch_t(answer):
    """Write welch_t(a, b): Welch's t statistic for two lists of per-seed accuracies."""
    if not callable(answer):
        raise ExerciseError("give a function welch_t(a, b) returning a number")
    from scipy import stats

    cases = [([97.5, 97.8, 97.2], [96.8, 96.4, 97.0]), ([94.1, 93.5, 94.6], [97.6, 97.2, 98.0]),
             ([90.0, 91.0], [90.5, 92.5, 91.5, 93.0]), ([88.0, 89.0, 90.0], [88.0, 89.0, 90.0])]
    for a, b in cases:
        want = stats.ttest_ind(a, b, equal_var=False).statistic
        got = as_array(call_answer(answer, list(a), list(b), what=f"welch_t({a}, {b})"), "welch_t")
        if got.size != 1:
            raise ExerciseError(f"welch_t must return one number, got shape {got.shape}")
        expect_close(got.reshape(()), want, f"welch_t({a}, {b})", rtol=1e-7, atol=1e-9,
                     hint="(mean(a) - mean(b)) / sqrt(var(a)/n_a + var(b)/n_b), with the "
                          "sample variances (ddof=1)")
    return True
