"""The checkers of lesson 3 accept right answers and reject wrong ones."""
import numpy as np
import pytest

import minigrad as mg
from checks import ExerciseError
from checks.lesson03 import check_accumulated_grad, check_cube_op, check_softplus_vjp


def test_softplus_vjp():
    assert check_softplus_vjp(lambda x, g: g / (1 + np.exp(-x))) is True
    for wrong in [lambda x, g: 1 / (1 + np.exp(-x)),          # forgets g
                  lambda x, g: g / (1 + np.exp(x)),           # sigmoid(-x)
                  lambda x, g: g * np.log1p(np.exp(x)),       # softplus itself
                  lambda x, g: None, 1.0]:
        with pytest.raises(ExerciseError):
            check_softplus_vjp(wrong)


class Cube(mg.Op):
    name = "cube"

    def forward(self, x):
        return x ** 3

    def vjp(self, g):
        (x,) = self.inputs
        return g * 3 * x * x

    def jvp(self, dx):
        (x,) = self.inputs
        return dx * 3 * x * x


class CubeBadVjp(Cube):
    def vjp(self, g):
        (x,) = self.inputs
        return 3 * x * x                          # forgets g


class CubeBadJvp(Cube):
    def jvp(self, dx):
        (x,) = self.inputs
        return dx * 2 * x * x


class CubeNoJvp(mg.Op):
    name = "cube_no_jvp"

    def forward(self, x):
        return x ** 3

    def vjp(self, g):
        (x,) = self.inputs
        return g * 3 * x * x


class Square(Cube):
    def forward(self, x):
        return x ** 2


def test_cube_op():
    assert check_cube_op(Cube) is True
    for wrong in [CubeBadVjp, CubeBadJvp, CubeNoJvp, Square, Cube(), lambda x: x ** 3]:
        with pytest.raises(ExerciseError):
            check_cube_op(wrong)


def test_accumulated_grad():
    assert check_accumulated_grad(22.0) is True
    assert check_accumulated_grad(mg.tensor(22.0)) is True
    for wrong in [6.0, 8.0, 16.0, 14.0, [22.0, 22.0], "x"]:
        with pytest.raises(ExerciseError):
            check_accumulated_grad(wrong)
