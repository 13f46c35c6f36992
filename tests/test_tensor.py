"""Tensor: creation, dtypes, conversion, operators, in-place updates."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import DTypeError, ShapeError
from tests.conftest import assert_close


def test_python_floats_get_the_default_dtype():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    mg.set_default_dtype(np.float64)
    assert mg.tensor([1.0, 2.0]).dtype == np.float64
    assert mg.zeros(2).dtype == np.float64


def test_arrays_keep_their_dtype_and_ints_stay_ints():
    assert mg.tensor(np.ones(2, dtype=np.float64)).dtype == np.float64
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor([True, False]).dtype == np.bool_
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == np.float64


def test_tensor_copies_but_Tensor_wraps():
    a = np.zeros(3)
    t = mg.tensor(a)
    a[0] = 1
    assert t.numpy()[0] == 0
    w = mg.Tensor(a)
    a[1] = 2
    assert w.numpy()[1] == 2


def test_set_default_dtype_only_accepts_floats():
    with pytest.raises(DTypeError, match="float32 or float64"):
        mg.set_default_dtype(np.int32)


def test_unsupported_data_is_rejected_clearly():
    with pytest.raises(DTypeError, match="ragged"):
        mg.tensor([[1.0], [2.0, 3.0]])
    with pytest.raises(DTypeError, match="unsupported dtype"):
        mg.tensor(["a", "b"])


def test_factories():
    assert mg.zeros(2, 3).shape == (2, 3)
    assert mg.zeros((2, 3)).shape == (2, 3)
    assert_close(mg.ones(2), [1, 1])
    assert_close(mg.full((2,), 7.0), [7, 7])
    assert mg.full((2,), 7).dtype == np.int64
    assert_close(mg.eye(2), np.eye(2))
    assert_close(mg.arange(4), [0, 1, 2, 3])
    assert mg.arange(4).dtype == np.int64
    assert mg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert_close(mg.linspace(0, 1, 3), [0, 0.5, 1])
    x = mg.randn(3, 2, dtype=np.float64)
    for like in (mg.zeros_like, mg.ones_like, mg.randn_like, mg.rand_like):
        y = like(x)
        assert y.shape == (3, 2) and y.dtype == np.float64
    assert mg.full_like(x, 2.0).numpy().max() == 2.0
    assert mg.zeros(2, requires_grad=True).requires_grad
    with pytest.raises(ShapeError, match="negative"):
        mg.zeros(-1)
    with pytest.raises(mg.ArgumentError, match="step"):
        mg.arange(0, 3, 0)


def test_random_factories_are_seeded_and_accept_generators():
    mg.manual_seed(3)
    a = mg.randn(4).numpy()
    mg.manual_seed(3)
    b = mg.randn(4).numpy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(mg.rand(3, generator=g1).numpy(),
                                  mg.rand(3, generator=g2).numpy())
    r = mg.randint(0, 5, (100,))
    assert r.dtype == np.int64 and r.numpy().min() >= 0 and r.numpy().max() < 5


def test_properties_and_conversion():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.shape == (2, 2) and x.ndim == 2 and x.size == 4 and len(x) == 2
    assert x.numel() == 4 and x.dim() == 2
    assert x.backend == "numpy"
    assert x[0, 1].item() == 2.0
    assert float(x[1, 1]) == 4.0
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert isinstance(x.numpy(), np.ndarray)
    assert np.asarray(x).shape == (2, 2)
    assert x.double().dtype == np.float64
    assert x.to(np.float64).dtype == np.float64
    assert x.to("numpy") is x
    assert [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ShapeError, match="one-element"):
        x.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    assert bool(mg.tensor([1.0]))
    with pytest.raises(DTypeError):
        x.to("gpu")


def test_repr_shows_dtype_and_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<mul>" in repr(x * 2)
    assert "dtype=int64" in repr(mg.tensor([1]))


def test_operators_match_numpy():
    a = np.array([[1.0, -2.0], [3.0, 0.5]])
    b = np.array([0.5, 4.0])
    ta, tb = mg.tensor(a), mg.tensor(b)
    assert_close(ta + tb, a + b)
    assert_close(ta - tb, a - b)
    assert_close(ta * tb, a * b)
    assert_close(ta / tb, a / b)
    assert_close(ta ** 2, a ** 2)
    assert_close(2 ** tb, 2 ** b)
    assert_close(-ta, -a)
    assert_close(abs(ta), np.abs(a))
    assert_close(ta @ tb, a @ b)
    assert_close(1 - ta, 1 - a)
    assert_close(3 / tb, 3 / b)
    assert_close(a + tb, a + b)            # ndarray on the left
    assert_close(ta.T, a.T)
    assert_close(ta > 1, a > 1)
    assert_close(ta == 1, a == 1)
    assert_close((ta > 0) & (ta < 2), (a > 0) & (a < 2))
    assert_close(~(ta > 0), ~(a > 0))


def test_python_numbers_do_not_widen_the_dtype():
    x = mg.tensor([1.0, 2.0])                  # float32
    assert (x * 2.5).dtype == np.float32
    assert (x + 1).dtype == np.float32
    i = mg.tensor([1, 2])
    assert (i * 2).dtype == np.int64
    assert (i * 0.5).dtype == np.float32       # int tensor with a float: default float
    assert (i / 2).dtype == np.float32


def test_mixed_tensor_dtypes_promote_like_torch():
    f32 = mg.tensor([1.0], dtype=np.float32)
    f64 = mg.tensor([1.0], dtype=np.float64)
    i64 = mg.tensor([1])
    assert (f32 + f64).dtype == np.float64
    assert (f32 + i64).dtype == np.float32     # numpy would give float64


def test_gradients_come_back_in_each_inputs_dtype():
    a = mg.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    b = mg.tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert_close(a.grad, [3, 4])


def test_methods_mirror_functions():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.reshape(3, 2).shape == (3, 2)
    assert x.reshape((3, 2)).shape == (3, 2)
    assert x.permute(1, 0).shape == (3, 2)
    assert x.transpose(0, 1).shape == (3, 2)
    assert x.transpose().shape == (3, 2)
    assert x.unsqueeze(0).shape == (1, 2, 3)
    assert x.flatten().shape == (6,)
    assert x.expand(4, 2, 3).shape == (4, 2, 3)
    assert x.sum(axis=0).shape == (3,)
    assert_close(x.mean(), 2.5)
    assert_close(x.max(axis=1), [2, 5])
    assert_close(x.argmax(axis=1), [2, 2])
    assert x.clamp(1, 3).numpy().max() == 3
    assert x.mT.shape == (3, 2)
    with pytest.raises(ShapeError, match="permute"):
        x.transpose(0, 1, 2)


def test_in_place_methods():
    x = mg.zeros(3)
    x.fill_(2.0)
    x.add_(mg.ones(3), alpha=3)
    x.mul_(0.5)
    assert_close(x, [2.5, 2.5, 2.5])
    x.sub_(0.5).div_(2.0)
    assert_close(x, [1.0, 1.0, 1.0])
    x.copy_(np.array([1.0, 2.0, 3.0]))
    x[0] = 9.0
    assert_close(x, [9.0, 2.0, 3.0])
    x.zero_()
    assert_close(x, [0, 0, 0])
    assert x._version == 8
    with pytest.raises(ShapeError, match=r"\(2,\).*\(3,\)"):
        x.copy_(np.ones(2))


def test_setitem_on_a_tensor_with_graph_is_refused():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(mg.GradientError):
        x[0] = 3.0
    y = mg.zeros(2)
    with pytest.raises(mg.GradientError, match="where"):
        y[0] = x[1]


def test_requires_grad_of_a_non_leaf_cannot_be_changed():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(mg.GradientError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_numpy_ufuncs_are_not_applied_silently():
    x = mg.tensor([1.0])
    with pytest.raises(TypeError):
        np.exp(x)
