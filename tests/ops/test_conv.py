"""Convolution and pooling: unfold/fold adjointness and bad arguments."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ArgumentError, DTypeError, ShapeError


def test_fold_is_the_adjoint_of_unfold(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    kw = dict(kernel_size=(3, 2), dilation=(1, 2), padding=(1, 0), stride=(2, 1))
    cols = mg.unfold(mg.tensor(x), **kw)
    c = rng.standard_normal(cols.shape)
    back = mg.fold(mg.tensor(c), (6, 5), **kw)
    # <unfold(x), c> == <x, fold(c)>
    np.testing.assert_allclose((cols.numpy() * c).sum(), (x * back.numpy()).sum(), rtol=1e-12)


def test_conv_transpose_is_the_input_gradient_of_conv(rng):
    x = mg.tensor(rng.standard_normal((1, 2, 7, 6)), requires_grad=True)
    w = mg.tensor(rng.standard_normal((3, 2, 3, 3)))
    y = mg.conv2d(x, w, stride=2, padding=1)
    g = mg.tensor(rng.standard_normal(y.shape))
    y.backward(g)
    back = mg.conv_transpose2d(g, w, stride=2, padding=1, output_padding=(0, 1))
    np.testing.assert_allclose(back.numpy(), x.grad.numpy(), rtol=1e-10)


def test_conv_errors_name_the_op_and_shapes():
    x, w = mg.ones(1, 3, 8, 8), mg.ones(4, 3, 3, 3)
    with pytest.raises(ArgumentError, match="conv2d: stride must be >= 1"):
        mg.conv2d(x, w, stride=-1)
    with pytest.raises(ArgumentError, match="conv2d: padding must be >= 0"):
        mg.conv2d(x, w, padding=-2)
    with pytest.raises(ShapeError, match=r"conv2d: input has 2 channels.*\(4, 3, 3, 3\)"):
        mg.conv2d(mg.ones(1, 2, 8, 8), w)
    with pytest.raises(ShapeError, match=r"too small for kernel \(9, 9\)"):
        mg.conv2d(x, mg.ones(1, 3, 9, 9))
    with pytest.raises(ShapeError, match="conv2d: input must be"):
        mg.conv2d(mg.ones(8, 8), w)
    with pytest.raises(ShapeError, match="divisible by groups"):
        mg.conv2d(mg.ones(1, 4, 8, 8), mg.ones(3, 2, 3, 3), groups=2)
    with pytest.raises(ArgumentError, match="same.*stride 1"):
        mg.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(DTypeError, match="dtype"):
        mg.conv2d(x, w.double())
    with pytest.raises(ArgumentError, match="kernel_size must be an int or a pair"):
        mg.unfold(x, (1, 2, 3))
    with pytest.raises(ArgumentError, match=r"conv2d: padding must be an int, a pair of ints, "
                                            r"'same' or 'valid', got 'full'"):
        mg.conv2d(x, w, padding="full")


def test_conv2d_accepts_padding_larger_than_the_kernel_like_torch(rng):
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 2, 2))
    y = mg.conv2d(mg.tensor(x), mg.tensor(w), padding=(3, 2))
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=(3, 2))
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool2d_splits_ties_evenly_unlike_torch():
    x = mg.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    mg.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 1, 2, 2), 0.25))


def test_pool_padding_larger_than_the_kernel_allows():
    with pytest.raises(ArgumentError, match="max_pool2d: padding .* larger than half the kernel"):
        mg.max_pool2d(mg.ones(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(ArgumentError, match="avg_pool2d"):
        mg.avg_pool2d(mg.ones(1, 1, 4, 4), 3, padding=2)
    with pytest.raises(ArgumentError, match="stride"):
        mg.max_pool2d(mg.ones(1, 1, 4, 4), 2, stride=0)


def test_conv_transpose_output_padding_must_be_below_stride():
    with pytest.raises(ArgumentError, match="output_padding"):
        mg.conv_transpose2d(mg.ones(1, 1, 3, 3), mg.ones(1, 1, 3, 3), stride=1,
                            output_padding=1)


def test_fold_checks_the_number_of_columns():
    with pytest.raises(ShapeError, match="kernel positions"):
        mg.fold(mg.ones(1, 4, 5), (3, 3), 2)
