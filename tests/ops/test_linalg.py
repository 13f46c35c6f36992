"""matmul and einsum: shapes, vectors, broadcasting, bad input."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ArgumentError, ShapeError
from tests.conftest import assert_close


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ShapeError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) do not fit.*\(4\).*\(5\)"):
        mg.ones(3, 4) @ mg.ones(5, 2)
    with pytest.raises(ShapeError, match=r"batch axes.*\(2,\) vs \(3,\)"):
        mg.ones(2, 3, 4) @ mg.ones(3, 4, 2)
    with pytest.raises(ShapeError, match="at least one dimension"):
        mg.matmul(mg.ones(()), mg.ones(3))


def test_matmul_vector_cases_match_numpy(rng):
    for sa, sb in (((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4,))):
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        assert_close(mg.tensor(a) @ mg.tensor(b), a @ b)


def test_einsum_matches_numpy(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    for spec in ("ij,jk->ik", "ij,jk", "ij,jk->ki", "ij,jk->"):
        assert_close(mg.einsum(spec, mg.tensor(a), mg.tensor(b)), np.einsum(spec, a, b))


def test_einsum_errors():
    x = mg.ones(2, 2)
    with pytest.raises(ArgumentError, match="diagonal"):
        mg.einsum("ii->i", x)
    with pytest.raises(ArgumentError, match="names 2 operands"):
        mg.einsum("ij,jk->ik", x)
    with pytest.raises(ShapeError, match="name 3 axes"):
        mg.einsum("ijk->i", x)
    with pytest.raises(ShapeError, match="index 'j' has size 2 in one operand and 3"):
        mg.einsum("ij,jk->ik", x, mg.ones(3, 2))
    with pytest.raises(ArgumentError, match="output letters"):
        mg.einsum("ij->iz", x)


def test_outer(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(4)
    assert_close(mg.outer(mg.tensor(a), mg.tensor(b)), np.outer(a, b))
    with pytest.raises(ShapeError, match="two vectors"):
        mg.outer(mg.ones(2, 2), mg.ones(2))
