"""Checkers for lesson 9 (local learning: local heads, Mono-Forward, PEPITA)."""
from __future__ import annotations

import numpy as np

import minigrad as mg

from . import ExerciseError, expect_close


def _softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def check_mono_forward_grad(answer):
    """Write Mono-Forward's dL/dM for L = CE(softmax(a Mᵀ), y): a function (a, M, y) -> array."""
    if not callable(answer):
        raise ExerciseError("expected a function (a, M, y) -> dL/dM")
    rng = np.random.default_rng(9)
    for n, width, c in [(5, 4, 3), (16, 8, 10), (1, 6, 2)]:
        a = np.abs(rng.normal(size=(n, width)))
        m = rng.normal(size=(c, width))
        y = rng.integers(0, c, size=n)
        # the reference: minigrad's reverse mode on the same loss
        mt = mg.tensor(m, dtype=mg.float64, requires_grad=True)
        loss = mg.cross_entropy(mg.tensor(a, dtype=mg.float64) @ mt.T, y)
        (want,) = mg.autograd.grad(loss, [mt])
        got = answer(a.copy(), m.copy(), y.copy())
        expect_close(got, want.data, "dL/dM", rtol=1e-6, atol=1e-9,
                     hint="dL/dM = (softmax(a Mᵀ) − onehot(y))ᵀ a / N: shape (C, width), "
                          "averaged over the N examples")
    return True


def check_equivalent_rule(answer):
    """The rule that local_ce(detach=True, aux_weight=0) equals."""
    if not isinstance(answer, str) or answer not in mg.rules.available():
        raise ExerciseError(f"expected the name of a rule, one of: "
                            f"{', '.join(mg.rules.available())}")
    # compare the two rules' updates of the model on a small random batch
    rng = np.random.default_rng(9)
    x = mg.tensor(rng.normal(size=(32, 12)).astype(np.float32))
    y = rng.integers(0, 4, size=32)
    model = mg.nn.mlp([12, 16, 16, 4], "relu", generator=np.random.default_rng(0))
    local = mg.rules.make("local_ce", model, detach=True, aux_weight=0.0).updates(x, y)
    try:
        other = mg.rules.make(answer, model).updates(x, y)
    except mg.MinigradError as err:
        raise ExerciseError(f"rule {answer!r} cannot even train this mlp ({err})") from None
    for name, p in model.named_parameters():
        a = np.asarray(local.get(name, np.zeros(p.shape)))
        b = np.asarray(other.get(name, np.zeros(p.shape)))
        if not np.allclose(a, b, rtol=1e-5, atol=1e-7):
            raise ExerciseError(f"the updates of {name} differ: with aux_weight=0 the hidden "
                                "layers learn nothing, and the output layer learns from the "
                                "task loss on its detached input -- which rule is that?")
    return True


def check_pepita_update(answer):
    """Write PEPITA's hidden-layer update (h, h_mod, h_in_mod) -> (h − h′)ᵀ h′_in / N."""
    if not callable(answer):
        raise ExerciseError("expected a function (h, h_mod, h_in_mod) -> update of W")
    rng = np.random.default_rng(9)
    for n, n_in, n_out in [(4, 3, 5), (32, 10, 7)]:
        h = np.abs(rng.normal(size=(n, n_out)))
        h_mod = h + 0.01 * rng.normal(size=(n, n_out))
        h_in_mod = np.abs(rng.normal(size=(n, n_in)))
        got = answer(h.copy(), h_mod.copy(), h_in_mod.copy())
        want = (h - h_mod).T @ h_in_mod / n
        expect_close(got, want, "the update", rtol=1e-6, atol=1e-12,
                     hint="ΔW = −η (h − h′) ⊗ h′_in, so the update (which the optimizer "
                          "subtracts) is (h − h′)ᵀ h′_in averaged over the batch, shape "
                          "(n_out, n_in)")
    return True
