"""The CuPy im2col / col2im kernels against the NumPy reference (a GPU only).

The reference is the NumPy loop in ``Unfold.forward`` / ``Fold.forward``;
both sides sum in the same order, so float64 agrees to rounding and
float32 nearly bit for bit. The op registry's gradient checks on the cupy
backend go through the kernels too (conv2d, unfold, fold, max/avg pooling).
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import cupy_available
from minigrad.ops import conv, cuda_kernels

pytestmark = pytest.mark.skipif(not cupy_available(),
                                reason="the CUDA kernels need CuPy and a GPU")

# (N, C, H, W), kernel, dilation, padding, stride
GEOMETRIES = [
    ((2, 3, 8, 8), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((4, 1, 28, 28), (5, 5), (1, 1), (2, 2), (1, 1)),      # LeNet-5's first layer
    ((4, 6, 14, 14), (5, 5), (1, 1), (0, 0), (1, 1)),      # and its second
    ((2, 2, 9, 7), (3, 2), (2, 1), (1, 0), (2, 3)),        # everything uneven
    ((1, 2, 6, 6), (2, 2), (1, 1), (0, 0), (2, 2)),        # pooling's windows
    ((3, 2, 5, 5), (1, 1), (1, 1), (0, 0), (1, 1)),
    ((2, 1, 5, 6), (3, 3), (2, 2), (2, 3), (1, 2)),
    ((0, 2, 5, 5), (3, 3), (1, 1), (1, 1), (1, 1)),        # an empty batch
]


def _reference(op, array):
    return op.forward(array)          # NumPy input: the loop in conv.py


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_im2col_and_col2im_match_the_numpy_reference(geometry, dtype):
    import cupy

    shape, k, d, p, s = geometry
    assert cuda_kernels.available(cupy)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    cols_ref = _reference(conv.Unfold(k, d, p, s), x)
    cols = conv.Unfold(k, d, p, s).forward(cupy.asarray(x))
    assert cols.shape == cols_ref.shape and cols.dtype == dtype
    np.testing.assert_array_equal(cupy.asnumpy(cols), cols_ref)      # a copy: exact
    g = np.random.default_rng(1).standard_normal(cols_ref.shape).astype(dtype)
    x_ref = _reference(conv.Fold(shape[2:], k, d, p, s), g)
    back = conv.Fold(shape[2:], k, d, p, s).forward(cupy.asarray(g))
    assert back.shape == x_ref.shape and back.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(cupy.asnumpy(back), x_ref, rtol=tol, atol=tol)


def test_conv2d_on_the_gpu_uses_the_kernels(monkeypatch):
    calls = []
    for name in ("im2col", "col2im"):
        real = getattr(cuda_kernels, name)
        monkeypatch.setattr(cuda_kernels, name,
                            lambda *a, real=real, name=name: calls.append(name) or real(*a))
    layer = mg.nn.Conv2d(2, 3, 3, padding=1).to("cupy")
    x = mg.tensor(np.ones((2, 2, 5, 5), np.float32)).to("cupy").requires_grad_()
    layer(x).sum().backward()
    assert "im2col" in calls and "col2im" in calls
