"""Small synthetic problems for teaching, generated from a seed.

Each returns a :class:`~minigrad.data.loader.Split` whose test set is drawn
from the same distribution with a different seed.
"""
from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from .loader import Dataset, Split


def _split(name, make, n_train, n_test, seed, input_shape, num_classes, task="classification"):
    xtr, ytr = make(n_train, np.random.default_rng(seed))
    xte, yte = make(n_test, np.random.default_rng(seed + 1_000_003))
    return Split(name, Dataset(xtr.astype(np.float32), ytr, f"{name}/train"),
                 Dataset(xte.astype(np.float32), yte, f"{name}/test"),
                 input_shape, num_classes, task)


def xor(n_train=400, n_test=200, noise=0.15, seed=0):
    """Points around the four corners (±1, ±1); the class is 1 where the
    signs differ -- the classic problem a single neuron cannot solve."""
    def make(n, rng):
        corners = rng.integers(0, 2, size=(n, 2))
        x = (2.0 * corners - 1) + noise * rng.standard_normal((n, 2))
        return x, (corners[:, 0] ^ corners[:, 1]).astype(np.int64)
    return _split("xor", make, n_train, n_test, seed, (2,), 2)


def two_spirals(n_train=400, n_test=200, noise=0.1, turns=1.5, seed=0):
    """Two interleaved spirals (Lang & Witbrock 1988), one per class."""
    def make(n, rng):
        half = n // 2
        t = np.sqrt(rng.random(n)) * turns * 2 * np.pi
        r = t / (turns * 2 * np.pi)
        x = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
        y = (np.arange(n) >= half).astype(np.int64)
        x[y == 1] *= -1
        return x + noise * rng.standard_normal((n, 2)) / 3, y
    return _split("spirals", make, n_train, n_test, seed, (2,), 2)


def two_moons(n_train=400, n_test=200, noise=0.1, seed=0):
    """Two interleaving half circles."""
    def make(n, rng):
        half = n // 2
        a = rng.random(n) * np.pi
        upper = np.stack([np.cos(a), np.sin(a)], axis=1)
        lower = np.stack([1 - np.cos(a), 0.5 - np.sin(a)], axis=1)
        y = (np.arange(n) >= half).astype(np.int64)
        x = np.where(y[:, None] == 0, upper, lower)
        return x + noise * rng.standard_normal((n, 2)), y
    return _split("moons", make, n_train, n_test, seed, (2,), 2)


def blobs(n_train=400, n_test=200, num_classes=2, dim=2, separation=4.0, seed=0):
    """Gaussian blobs around well separated centres (linearly separable for
    two classes): the setting of the perceptron convergence theorem."""
    if num_classes < 2:
        raise ArgumentError(f"blobs: num_classes must be >= 2, got {num_classes}")
    centres = np.random.default_rng(seed + 7).standard_normal((num_classes, dim))
    centres *= separation / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)

    def make(n, rng):
        y = rng.integers(0, num_classes, n)
        return centres[y] + rng.standard_normal((n, dim)), y.astype(np.int64)
    return _split("blobs", make, n_train, n_test, seed, (dim,), num_classes)


def teacher_student(n_train=1000, n_test=500, dim=10, hidden=20, outputs=1, noise=0.05,
                    seed=0):
    """Regression on the outputs of a random "teacher" network
    y = W₂ tanh(W₁x) + ε, the setting used to study what a student network
    (and its learning rule) can recover."""
    trng = np.random.default_rng(seed + 11)
    w1 = trng.standard_normal((hidden, dim)) / np.sqrt(dim)
    w2 = trng.standard_normal((outputs, hidden)) / np.sqrt(hidden)

    def make(n, rng):
        x = rng.standard_normal((n, dim))
        y = np.tanh(x @ w1.T) @ w2.T + noise * rng.standard_normal((n, outputs))
        return x, y.astype(np.float32)
    return _split("teacher-student", make, n_train, n_test, seed, (dim,), None, "regression")
