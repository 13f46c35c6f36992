"""Elementwise ops: conventions at kinks, dtypes, errors, and property tests
of broadcasting arithmetic with random shapes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.errors import ArgumentError, DTypeError, ShapeError
from tests.conftest import assert_close


def leaf(a):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------------------
# conventions
# --------------------------------------------------------------------------


def test_relu_and_abs_have_zero_gradient_at_zero():
    x = leaf([-1.0, 0.0, 2.0])
    mg.relu(x).sum().backward()
    assert_close(x.grad, [0, 0, 1])
    x.grad = None
    mg.abs(x).sum().backward()
    assert_close(x.grad, [-1, 0, 1])


def test_maximum_and_minimum_split_ties_evenly():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 5.0, 0.0])
    mg.maximum(a, b).sum().backward()
    assert_close(a.grad, [0.5, 0, 1])
    assert_close(b.grad, [0.5, 1, 0])
    a.grad = b.grad = None
    mg.minimum(a, b).sum().backward()
    assert_close(a.grad, [0.5, 1, 0])
    assert_close(b.grad, [0.5, 0, 1])


def test_clip_passes_the_gradient_at_the_bounds():
    x = leaf([-2.0, -1.0, 0.0, 1.0, 2.0])
    mg.clip(x, -1.0, 1.0).sum().backward()
    assert_close(x.grad, [0, 1, 1, 1, 0])


def test_pow_with_zero_exponent_and_zero_base():
    x = leaf([0.0, 2.0])
    (x ** 0).sum().backward()
    assert_close(x.grad, [0, 0])
    base, expo = leaf([0.0, 2.0]), leaf([2.0, 3.0])
    (base ** expo).sum().backward()
    assert_close(expo.grad, [0.0, 8 * np.log(2.0)])   # 0 at base 0: the limit
    assert_close(base.grad, [0.0, 12.0])


def test_sigmoid_and_softplus_do_not_overflow():
    x = mg.tensor([-1000.0, 0.0, 1000.0], dtype=np.float64)
    assert_close(mg.sigmoid(x), [0.0, 0.5, 1.0])
    assert_close(mg.softplus(x), [0.0, np.log(2.0), 1000.0])


def test_where_takes_a_boolean_condition():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = mg.where(mg.tensor([True, False]), a, b)
    y.sum().backward()
    assert_close(y, [1.0, 4.0])
    assert_close(a.grad, [1, 0])
    assert_close(b.grad, [0, 1])
    with pytest.raises(DTypeError, match="boolean"):
        mg.where(mg.tensor([1, 0]), a, b)


def test_integer_inputs_to_float_functions_become_float():
    assert mg.exp(mg.tensor([0, 1])).dtype == np.float32
    assert mg.sqrt(mg.tensor([4])).dtype == np.float32


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


def test_broadcast_mismatch_names_the_op_and_both_shapes():
    a, b = mg.ones(3, 4), mg.ones(5)
    with pytest.raises(ShapeError, match=r"add:.*\(3, 4\), \(5,\)"):
        a + b
    with pytest.raises(ShapeError, match=r"mul:.*\(3, 4\), \(5,\)"):
        a * b
    with pytest.raises(ShapeError, match=r"gt:.*\(3, 4\).*\(5,\)"):
        a > b


def test_bad_arguments():
    x = mg.ones(3)
    with pytest.raises(ArgumentError, match="approximate"):
        mg.gelu(x, approximate="fast")
    with pytest.raises(ArgumentError, match="min.*larger than max"):
        mg.clip(x, 2.0, 1.0)
    with pytest.raises(ArgumentError, match="at least one"):
        mg.clip(x)
    with pytest.raises(TypeError, match="tensor bounds"):
        mg.clip(x, mg.zeros(3))
    with pytest.raises(ArgumentError, match="beta"):
        mg.softplus(x, beta=0)
    with pytest.raises(TypeError, match="exp: expected a Tensor"):
        mg.exp(np.ones(3))
    with pytest.raises(TypeError, match="add:.*str"):
        x + "a"


# --------------------------------------------------------------------------
# property tests: broadcasting arithmetic with random shapes
# --------------------------------------------------------------------------

FINITE = st.floats(-10, 10, allow_nan=False, width=64)


@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    a = draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=FINITE))
    b = draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=FINITE))
    return a, b


OPS = {
    "add": (lambda a, b: a + b, lambda ga, a, b: (ga, ga)),
    "sub": (lambda a, b: a - b, lambda ga, a, b: (ga, -ga)),
    "mul": (lambda a, b: a * b, lambda ga, a, b: (ga * b, ga * a)),
}


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


@settings(max_examples=60, deadline=None)
@given(pair=broadcastable_pair(), op=st.sampled_from(sorted(OPS)))
def test_broadcasting_arithmetic_matches_numpy_in_value_and_gradient(pair, op):
    a, b = pair
    fn, grads = OPS[op]
    ta, tb = leaf(a), leaf(b)
    out = fn(ta, tb)
    expected = fn(a, b)
    assert out.shape == expected.shape
    assert_close(out, expected)
    g = np.random.default_rng(0).standard_normal(expected.shape)
    out.backward(mg.tensor(g))
    ga, gb = grads(g, a, b)
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    assert_close(ta.grad, _sum_to(np.broadcast_to(ga, expected.shape), a.shape))
    assert_close(tb.grad, _sum_to(np.broadcast_to(gb, expected.shape), b.shape))


@settings(max_examples=40, deadline=None)
@given(pair=broadcastable_pair())
def test_division_gradient_matches_the_quotient_rule(pair):
    a, b = pair
    b = np.where(np.abs(b) < 0.5, 0.5, b)
    ta, tb = leaf(a), leaf(b)
    (ta / tb).sum().backward()
    full = np.broadcast_shapes(a.shape, b.shape)
    assert_close(ta.grad, _sum_to(np.broadcast_to(1 / b, full), a.shape))
    assert_close(tb.grad, _sum_to(np.broadcast_to(-a / b ** 2, full), b.shape),
                 rtol=1e-7, atol=1e-9)
