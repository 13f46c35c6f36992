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


# --- the fused optimizer updates --------------------------------------------------------
OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.01, "betas": (0.8, 0.99)}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
]


def _run_optimizer(name, options, dtype, fused, monkeypatch):
    import cupy

    with monkeypatch.context() as m:
        if not fused:                  # the reference: the update's array code, on the GPU
            m.setattr(cuda_kernels, "fusable", lambda *a: False)
        rng = np.random.default_rng(0)
        params = [mg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True).to("cupy")
                  for s in ((7, 5), (5,), (3, 1, 2, 2))]
        opt = getattr(mg.optim, name)(params, **options)
        for step in range(4):
            for k, p in enumerate(params):
                g = np.random.default_rng(10 * step + k).standard_normal(p.shape).astype(dtype)
                p.grad = mg.tensor(g).to("cupy")
            opt.step()
        state = [{key: cupy.asnumpy(v) for key, v in opt.state[id(p)].items()
                  if hasattr(v, "shape")} for p in params]
        return [p.numpy() for p in params], state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=str)
def test_fused_optimizer_updates_match_the_reference(case, dtype, monkeypatch):
    name, options = case
    calls = []
    for kernel in ("sgd_update", "adam_update"):
        real = getattr(cuda_kernels, kernel)
        monkeypatch.setattr(cuda_kernels, kernel,
                            lambda *a, real=real, kernel=kernel: calls.append(kernel) or real(*a))
    fused = _run_optimizer(name, options, dtype, True, monkeypatch)
    assert calls, "the fused kernels were not used"
    reference = _run_optimizer(name, options, dtype, False, monkeypatch)
    tol = 1e-5 if dtype == np.float32 else 1e-12         # FMA contraction on the GPU
    for a, b in zip(fused[0], reference[0]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for sa, sb in zip(fused[1], reference[1]):
        assert sa.keys() == sb.keys()
        for key in sa:
            np.testing.assert_allclose(sa[key], sb[key], rtol=tol, atol=tol, err_msg=key)
