"""Lesson 5's checkers accept right answers and reject wrong ones."""
import math

import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson05 import check_adam_step, check_momentum_step, check_steps_per_epoch


def test_steps_per_epoch():
    assert check_steps_per_epoch(lambda n, b: math.ceil(n / b)) is True
    assert check_steps_per_epoch(lambda n, b: -(-n // b)) is True
    with pytest.raises(ExerciseError):
        check_steps_per_epoch(lambda n, b: n // b)            # drops the last batch
    with pytest.raises(ExerciseError):
        check_steps_per_epoch(lambda n, b: n // b + 1)        # one too many when b divides n
    with pytest.raises(ExerciseError):
        check_steps_per_epoch(157)


def _momentum(w, g, b, lr, mu):
    b = g.copy() if b is None else mu * b + g
    return w - lr * b, b


def test_momentum_step():
    assert check_momentum_step(_momentum) is True
    with pytest.raises(ExerciseError):          # no momentum at all
        check_momentum_step(lambda w, g, b, lr, mu: (w - lr * g, g))
    with pytest.raises(ExerciseError):          # the (1 - mu) "EMA" form is a different rule
        check_momentum_step(lambda w, g, b, lr, mu: _momentum(w, (1 - mu) * g, b, lr, mu))
    with pytest.raises(ExerciseError):          # ascent instead of descent
        check_momentum_step(lambda w, g, b, lr, mu: _momentum(w, -g, None if b is None else -b,
                                                              lr, mu))
    with pytest.raises(ExerciseError):
        check_momentum_step(lambda w, g, b, lr, mu: w)        # not a pair


def _adam(w, g, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return w, m, v


def test_adam_step():
    assert check_adam_step(_adam) is True
    with pytest.raises(ExerciseError):          # no bias correction
        check_adam_step(lambda w, g, m, v, t, lr, b1, b2, eps: _adam(w, g, m, v, 10 ** 6, lr, b1,
                                                                     b2, eps))
    with pytest.raises(ExerciseError):          # eps inside the square root
        def inside(w, g, m, v, t, lr, b1, b2, eps):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            return w - lr * (m / (1 - b1 ** t)) / np.sqrt(v / (1 - b2 ** t) + eps), m, v
        check_adam_step(inside)
    with pytest.raises(ExerciseError):
        check_adam_step(lambda *args: None)
