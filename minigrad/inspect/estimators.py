"""Estimator statistics: the bias, variance and signal-to-noise ratio of a
stochastic rule's update, measured on one batch against backprop's exact
gradient.

A stochastic rule (forward gradient, SPSA, node perturbation) draws fresh
noise from its generator at every call of ``rule.updates``. Drawing D
updates u₁ … u_D on the same batch and weights, with g backprop's gradient:

    mean             m = (1/D) Σ_d u_d
    bias angle       ∠(m, g)                 (0° for an unbiased estimator as D → ∞)
    variance         V = (1/(D−1)) Σ_d ‖u_d − m‖²   (summed over coordinates)
    SNR              ‖m‖² / V                (signal power over noise power)
    relative error   ‖m − g‖ / ‖g‖           (shrinks like √(V/D)/‖g‖ when unbiased)
    mean angle       (1/D) Σ_d ∠(u_d, g)    (what a single step sees)
    norm ratio       (1/D) Σ_d ‖u_d‖ / ‖g‖

All of them per parameter tensor and for all parameters together (the
concatenated vector, key ``"all"``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import backend as _backend
from ..errors import ArgumentError
from ..rules import make
from ..rules.base import angle


@dataclass
class EstimatorStats:
    """Statistics of D draws of an update against the exact gradient."""

    draws: int
    bias_angle: float
    mean_angle: float
    variance: float
    snr: float
    relative_error: float
    norm_ratio: float

    def as_dict(self):
        return asdict(self)


def _stats(samples, g):
    """``samples`` (D, n) draws of a flattened update; ``g`` (n,) the gradient."""
    d = len(samples)
    m = samples.mean(axis=0)
    gn = float(np.linalg.norm(g))
    var = float(((samples - m) ** 2).sum() / (d - 1))
    return EstimatorStats(
        draws=d,
        bias_angle=angle(m, g),
        mean_angle=float(np.mean([angle(u, g) for u in samples])),
        variance=var,
        snr=float(m @ m) / var if var > 0 else float("inf"),
        relative_error=float(np.linalg.norm(m - g)) / gn if gn else float("inf"),
        norm_ratio=float(np.mean(np.linalg.norm(samples, axis=1))) / gn if gn else float("inf"))


def estimator_statistics(rule, x, y, draws=32):
    """``{parameter name or "all": EstimatorStats}`` of ``draws`` calls of
    ``rule.updates(x, y)`` against backprop's gradient on the same batch
    (the rule's model is not changed; its generator advances)."""
    if not isinstance(draws, int) or isinstance(draws, bool) or draws < 2:
        raise ArgumentError(f"estimator_statistics: draws must be an integer >= 2 (a variance "
                            f"needs two samples), got {draws!r}")
    grads = make("bp", rule.model, loss=rule.loss_name).updates(x, y)
    names = list(grads)
    samples = {n: [] for n in names}
    for _ in range(draws):
        ups = rule.updates(x, y)
        missing = [n for n in names if n not in ups]
        if missing:
            raise ArgumentError(f"estimator_statistics: rule {rule.name!r} gives no update for "
                                f"{', '.join(missing)}; statistics need an update for every "
                                "parameter backprop updates")
        for n in names:
            samples[n].append(_backend.to_numpy(ups[n]).astype(np.float64).ravel())
    out = {}
    flat_g = {n: _backend.to_numpy(g).astype(np.float64).ravel() for n, g in grads.items()}
    for n in names:
        out[n] = _stats(np.stack(samples[n]), flat_g[n])
    out["all"] = _stats(np.concatenate([np.stack(samples[n]) for n in names], axis=1),
                        np.concatenate([flat_g[n] for n in names]))
    return out


def estimator_sweep(name, model, x, y, ks, draws=32, seed=0, **hparams):
    """``{K: estimator_statistics(...)}`` for rule ``name`` made with
    ``n_samples=K`` for each K in ``ks`` (the same seed for each)."""
    return {k: estimator_statistics(make(name, model, seed=seed, n_samples=k, **hparams),
                                    x, y, draws)
            for k in ks}
