"""Checkers for lesson 7 (DFA, sign symmetry, Kolen-Pollack and PFA). Each
computes the right answer itself: from a formula on random inputs, from a
run of minigrad's `kp` rule, or from the rank of actual DFA signals."""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import nn, optim, rules

from . import ExerciseError, call_answer, expect_close


def check_dfa_delta(dfa_delta):
    """Write DFA's error (E D^T) * tanh'(A) for a hidden tanh layer (row convention)."""
    if not callable(dfa_delta):
        raise ExerciseError("answer with the function itself: answer = dfa_delta")
    rng = np.random.default_rng(7)
    for n, k, width in [(6, 10, 4), (1, 3, 8), (5, 7, 7)]:
        E = rng.standard_normal((n, k))
        D = rng.standard_normal((width, k))
        A = rng.standard_normal((n, width))
        want = (E @ D.T) * (1 - np.tanh(A) ** 2)
        got = call_answer(dfa_delta, E.copy(), D.copy(), A.copy())
        if got is None:
            raise ExerciseError("your function returned None")
        expect_close(got, want, "the DFA error", rtol=1e-9, atol=1e-12,
                     hint="D is stored as (width, k): E @ D.T has the layer's width; "
                          "tanh'(A) = 1 - tanh(A)**2")
    return True


def _kp_shrink(eta, lam, steps):
    """||B - W|| after ``steps`` steps of minigrad's kp rule, over its start."""
    model = nn.mlp([12, 16, 8, 4], "tanh", generator=np.random.default_rng(3))
    kp = rules.make("kp", model, seed=3, weight_decay=lam)
    opt = optim.SGD(model.parameters(), lr=eta)
    layer = dict(model.named_modules())["3"]
    start = np.linalg.norm(kp.feedback["3"] - layer.weight.data)
    rng = np.random.default_rng(4)
    for _ in range(steps):
        x = mg.tensor(rng.standard_normal((16, 12)).astype(np.float32))
        kp.step(x, rng.integers(0, 4, 16), opt)
    return float(np.linalg.norm(kp.feedback["3"] - layer.weight.data) / start)


def check_kp_gap(kp_gap):
    """Write kp_gap(eta, lam, t): the factor by which ||B - W|| shrinks in t steps of KP (plain SGD)."""
    if not callable(kp_gap):
        raise ExerciseError("answer with the function itself: answer = kp_gap")
    for eta, lam, t in [(0.1, 0.5, 10), (0.05, 0.2, 25)]:
        measured = _kp_shrink(eta, lam, t)
        got = call_answer(kp_gap, eta, lam, t)
        if got is None:
            raise ExerciseError("your function returned None")
        expect_close(got, measured, f"kp_gap({eta}, {lam}, {t})", rtol=1e-4,
                     hint="both B and W get the same gradient term; only the decay terms "
                          "differ. What does one step do to B - W?")
    for eta, lam, t in [(0.01, 1e-3, 1000), (0.3, 0.1, 0), (0.02, 0.02, 3750)]:
        expect_close(call_answer(kp_gap, eta, lam, t), (1 - eta * lam) ** t,
                     f"kp_gap({eta}, {lam}, {t})", rtol=1e-6)
    return True


def _measured_rank(width, k, n=400, seed=0):
    """The rank of E D^T for softmax cross-entropy errors E over n examples."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    E = (p - np.eye(k)[rng.integers(0, k, n)]) / n
    D = rng.uniform(-1, 1, (width, k))
    return int(np.linalg.matrix_rank(E @ D.T))


def check_dfa_signal_rank(dfa_signal_rank):
    """Write dfa_signal_rank(w, k): the rank of the DFA signals E D^T for softmax cross-entropy errors."""
    if not callable(dfa_signal_rank):
        raise ExerciseError("answer with the function itself: answer = dfa_signal_rank")
    for width, k in [(32, 10), (4, 10), (9, 10), (10, 10), (128, 3), (2, 2)]:
        want = _measured_rank(width, k)
        got = call_answer(dfa_signal_rank, width, k)
        if got is None or int(got) != want:
            raise ExerciseError(f"dfa_signal_rank({width}, {k}) = {got} is not right yet. The "
                                "rank is limited by the layer's width and by the space the "
                                "errors live in: softmax - onehot sums to zero in every row")
    return True
