"""Checkers for lesson 8 (Forward-Forward)."""
from __future__ import annotations

import numpy as np

from . import ExerciseError, expect_close

WIDTH = 256          # the lesson's hidden layers


def _reference_loss(g_pos, g_neg, theta):
    return float(np.mean(np.logaddexp(0.0, -(g_pos - theta)))
                 + np.mean(np.logaddexp(0.0, g_neg - theta)))


def check_ff_loss(answer):
    """Write the per-layer FF loss (g_pos, g_neg, theta) -> mean softplus(-(G+ - θ)) + mean softplus(G- - θ)."""
    if not callable(answer):
        raise ExerciseError("expected a function (g_pos, g_neg, theta) -> float")
    rng = np.random.default_rng(8)
    cases = [(rng.uniform(0, 10, 7), rng.uniform(0, 10, 7), 5.0),
             (rng.uniform(200, 300, 5), rng.uniform(200, 300, 5), 256.0),
             (np.array([1000.0, 0.0]), np.array([0.0, 1000.0]), 10.0)]   # far from θ: stable?
    for g_pos, g_neg, theta in cases:
        got = answer(g_pos.copy(), g_neg.copy(), theta)
        if not np.all(np.isfinite(np.asarray(got, dtype=float))):
            raise ExerciseError("the loss is not finite for goodness far from the threshold: "
                                "write log(1 + e^z) as np.logaddexp(0, z)")
        expect_close(got, _reference_loss(g_pos, g_neg, theta), "the FF loss", rtol=1e-6,
                     hint="positives: -log σ(G+ - θ) = softplus(-(G+ - θ)); negatives: "
                          "-log(1 - σ(G- - θ)) = softplus(G- - θ); average each half")
    return True


def check_normalized_goodness(answer):
    """The goodness Σ h_hat² of a length-normalised activity of 256 units."""
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError("expected a number") from None
    if abs(value - 1.0) < 1e-3:
        raise ExerciseError("minigrad normalises to unit root-mean-square, not unit length: "
                            "mean_j h_hat_j² = 1")
    expect_close(value, WIDTH, "the goodness after normalising", rtol=1e-3,
                 hint="mean_j h_hat_j² = 1, so the sum over the units is ...")
    return True


def check_negative_labels(answer):
    """Write negative labels (y, C, rng) -> a wrong label per example, uniform over the C - 1 wrong ones."""
    if not callable(answer):
        raise ExerciseError("expected a function (y, num_classes, rng) -> array")
    for c in (2, 3, 10):
        y = np.random.default_rng(c).integers(0, c, size=20000)
        got = np.asarray(answer(y.copy(), c, np.random.default_rng(0)))
        if got.shape != y.shape:
            raise ExerciseError(f"expected one label per example, shape {y.shape}, got "
                                f"{got.shape}")
        if got.dtype.kind not in "iu" or got.min() < 0 or got.max() >= c:
            raise ExerciseError(f"labels must be integers in [0, {c})")
        if np.any(got == y):
            raise ExerciseError(f"{int(np.sum(got == y))} of {len(y)} negative labels equal "
                                "the true label")
        # uniform over the wrong classes: for each true class, the counts of the
        # C - 1 wrong ones must agree within a generous 6 sigma
        for true in range(c):
            counts = np.bincount(got[y == true], minlength=c)
            wrong = np.delete(counts, true)
            expected = wrong.sum() / (c - 1)
            sigma = np.sqrt(expected * (1 - 1 / (c - 1))) if c > 2 else 0.0
            if np.any(np.abs(wrong - expected) > 6 * sigma + 1e-9):
                raise ExerciseError(f"with C = {c}, the wrong labels of class {true} are not "
                                    f"uniform: counts {wrong.tolist()}; draw k from 1..C-1 and "
                                    "take (y + k) mod C")
    return True
