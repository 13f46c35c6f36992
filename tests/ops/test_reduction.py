"""Reductions: ties, zeros in prod, bad axes, and property tests with random
shapes and axes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.errors import AxisError, ShapeError
from tests.conftest import assert_close


def leaf(a):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_max_ties_share_the_gradient_evenly():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    mg.max(x, axis=1).sum().backward()
    assert_close(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_min_over_all_axes_with_ties():
    x = leaf([[0.0, 1.0], [0.0, 5.0]])
    mg.min(x).backward()
    assert_close(x.grad, [[0.5, 0], [0.5, 0]])


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_and_min_tangents_with_ties_are_the_mean_of_the_tied_tangents(keepdims):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    dx = np.array([[5.0, 1.0, 2.0], [3.0, 6.0, 9.0]])
    y, dy = mg.jvp(lambda a: mg.max(a, axis=1, keepdims=keepdims), (mg.tensor(x),),
                   (mg.tensor(dx),))
    shape = (2, 1) if keepdims else (2,)
    assert y.shape == dy.shape == shape
    assert_close(dy, np.reshape([1.5, 6.0], shape))
    y, dy = mg.jvp(lambda a: mg.min(a, keepdims=keepdims), (mg.tensor(x),), (mg.tensor(dx),))
    assert dy.shape == ((1, 1) if keepdims else ())
    assert_close(dy, np.reshape(5.0, dy.shape))


def test_max_ties_second_derivative_through_the_tie_weights():
    """The vjp ḡ·[x = y]/#ties is itself differentiable in ḡ: d/dḡ of
    Σ vjp(ḡ)·v is the tie-weighted v."""
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    g = leaf([2.0, 3.0])
    y = mg.max(x, axis=1)
    (gx,) = mg.autograd.grad(y, [x], g, create_graph=True)
    assert_close(gx, [[0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    v = np.array([[1.0, 2.0, 4.0], [3.0, 6.0, 9.0]])
    (gg,) = mg.autograd.grad((gx * mg.tensor(v)).sum(), [g])
    assert_close(gg, [3.0, 6.0])


def test_prod_gradient_with_zeros():
    x = leaf([[0.0, 2.0, 3.0], [1.5, 0.0, 0.0], [1.0, 2.0, 4.0]])
    mg.prod(x, axis=1).sum().backward()
    assert_close(x.grad, [[6.0, 0, 0], [0, 0, 0], [8.0, 4.0, 2.0]])


def test_var_matches_numpy_ddof_convention():
    x = np.arange(6.0).reshape(2, 3)
    assert_close(mg.var(mg.tensor(x), axis=1), x.var(axis=1))
    assert_close(mg.var(mg.tensor(x), axis=1, ddof=1), x.var(axis=1, ddof=1))
    assert_close(mg.std(mg.tensor(x)), x.std())


def test_logsumexp_is_stable():
    x = mg.tensor([1000.0, 1000.0], dtype=np.float64)
    assert_close(mg.logsumexp(x), 1000 + np.log(2))
    y = mg.tensor([-np.inf, -np.inf], dtype=np.float64)
    assert mg.logsumexp(y).item() == -np.inf


def test_argmax_and_argmin():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert_close(mg.argmax(x, axis=1), [1, 0])
    assert_close(mg.argmin(x), 4)
    assert mg.argmax(x, axis=1, keepdims=True).shape == (2, 1)
    with pytest.raises(ShapeError, match="single int"):
        mg.argmax(x, axis=(0, 1))


def test_out_of_range_axis_names_the_op():
    x = mg.ones(2, 3)
    with pytest.raises(AxisError, match=r"sum: axis 2 is out of range for a tensor of "
                                        r"shape \(2, 3\) \(2 dimensions; valid axes: -2 to 1\)"):
        mg.sum(x, axis=2)
    with pytest.raises(AxisError, match=r"var: axis -3 .* shape \(2, 3\)"):
        mg.var(x, axis=(0, -3))
    with pytest.raises(AxisError, match=r"sum: axis 0 .* shape \(\) \(0 dimensions; it has "
                                        r"no axes\)"):
        mg.sum(mg.tensor(1.0), axis=0)
    with pytest.raises(IndexError):              # AxisError is an IndexError too
        mg.mean(x, axis=-3)
    with pytest.raises(AxisError, match="repeated axis"):
        mg.sum(x, axis=(0, 0))
    with pytest.raises(AxisError, match="must be an int"):
        mg.sum(x, axis=1.5)


def test_max_of_an_empty_axis_is_an_error():
    with pytest.raises(ShapeError, match="max: cannot reduce over an empty axis"):
        mg.max(mg.ones(0, 3), axis=0)


def test_reductions_of_integers_stay_integer_and_have_no_graph():
    x = mg.tensor([[1, 2], [3, 4]])
    assert mg.sum(x).dtype == np.int64
    assert mg.mean(x).dtype == np.float32


# --------------------------------------------------------------------------
# property tests with random shapes and axes
# --------------------------------------------------------------------------


@st.composite
def array_and_axis(draw, min_side=0):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=min_side, max_side=4))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-5, 5, width=64)))
    ndim = len(shape)
    axis = draw(st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1) if ndim else st.none(),
        st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim)
        .map(tuple) if ndim else st.none()))
    keepdims = draw(st.booleans())
    return x, axis, keepdims


@settings(max_examples=80, deadline=None)
@given(case=array_and_axis())
def test_sum_matches_numpy_and_its_gradient_is_ones(case):
    x, axis, keepdims = case
    t = leaf(x)
    y = mg.sum(t, axis=axis, keepdims=keepdims)
    expected = np.sum(x, axis=axis, keepdims=keepdims)
    assert y.shape == np.shape(expected)
    assert_close(y, expected)
    y.backward(mg.ones_like(y))
    assert_close(t.grad, np.ones_like(x))


@settings(max_examples=80, deadline=None)
@given(case=array_and_axis(min_side=1))
def test_mean_and_var_match_numpy_and_gradients_sum_as_expected(case):
    x, axis, keepdims = case
    t = leaf(x)
    m = mg.mean(t, axis=axis, keepdims=keepdims)
    assert_close(m, np.mean(x, axis=axis, keepdims=keepdims))
    m.backward(mg.ones_like(m))
    # each output averages n inputs: every input gets 1/n
    n = x.size // max(np.asarray(np.mean(x, axis=axis)).size, 1)
    assert_close(t.grad, np.full(x.shape, 1.0 / n))
    v = mg.var(leaf(x), axis=axis, keepdims=keepdims)
    assert_close(v, np.var(x, axis=axis, keepdims=keepdims), atol=1e-9)


@settings(max_examples=80, deadline=None)
@given(case=array_and_axis(min_side=1))
def test_max_matches_numpy_and_its_gradient_sums_to_one_per_output(case):
    x, axis, keepdims = case
    t = leaf(x)
    y = mg.max(t, axis=axis, keepdims=keepdims)
    expected = np.max(x, axis=axis, keepdims=keepdims)
    assert_close(y, expected)
    y.backward(mg.ones_like(y))
    g = t.grad.numpy()
    assert np.all(g >= 0)
    assert np.all(g[x != np.max(x, axis=axis, keepdims=True)] == 0)
    assert_close(np.sum(g, axis=axis), np.ones(np.shape(np.max(x, axis=axis))))


@settings(max_examples=60, deadline=None)
@given(case=array_and_axis(min_side=1))
def test_logsumexp_matches_scipy(case):
    from scipy.special import logsumexp
    x, axis, keepdims = case
    y = mg.logsumexp(mg.tensor(x), axis=axis, keepdims=keepdims)
    assert_close(y, logsumexp(x, axis=axis, keepdims=keepdims), atol=1e-12)
