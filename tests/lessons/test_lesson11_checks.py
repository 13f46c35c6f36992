"""The checkers of lesson 11 accept right answers and reject wrong ones."""
import numpy as np
import pytest

from checks import ExerciseError
from checks.lesson11 import check_exact_steps, check_inference_step, check_pc_weight_update


def test_inference_step():
    def right(x, eps, eps_above, fprime_above, W_above, gamma):
        return x + gamma * (-eps + (eps_above * fprime_above) @ W_above)

    assert check_inference_step(right) is True
    for wrong in [lambda x, e, ea, fa, W, g: x + g * (e + (ea * fa) @ W),
                  lambda x, e, ea, fa, W, g: x + g * (-e + ea @ W),
                  lambda x, e, ea, fa, W, g: x - g * (-e + (ea * fa) @ W),
                  lambda x, e, ea, fa, W, g: x + (-e + (ea * fa) @ W),
                  lambda x, e, ea, fa, W, g: x - g * e,                        # no feedback
                  lambda *args: None, 1.0]:
        with pytest.raises(ExerciseError):
            check_inference_step(wrong)


def test_exact_steps():
    assert check_exact_steps(3) is True
    assert check_exact_steps(np.int64(3)) is True
    for wrong in [2, 4, 0, 1, 3.0, "3", True, None]:
        with pytest.raises(ExerciseError):
            check_exact_steps(wrong)


def test_pc_weight_update():
    def right(eps, fprime, x_below, beta):
        return -(eps * fprime).T @ x_below / (beta * len(eps))

    assert check_pc_weight_update(right) is True
    for wrong in [lambda e, f, xb, b: (e * f).T @ xb / (b * len(e)),          # sign
                  lambda e, f, xb, b: -(e * f).T @ xb / len(e),               # beta
                  lambda e, f, xb, b: -(e * f).T @ xb / b,                    # batch mean
                  lambda e, f, xb, b: -e.T @ xb / (b * len(e)),               # f'
                  lambda *args: None, "update"]:
        with pytest.raises(ExerciseError):
            check_pc_weight_update(wrong)
