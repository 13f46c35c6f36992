"""The CuPy kernels compile, checked without a GPU.

``test_cuda_kernels.py`` runs the kernels against the NumPy reference, but
only where a GPU is. This file compiles them where CuPy and NVRTC (the
CUDA runtime compiler) are installed, GPU or not: it asks CuPy for the exact
source it would generate for each kernel, dtype and argument layout that
``cuda_kernels`` launches, and compiles that with NVRTC. On a CPU-only
machine::

    pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12

(CuPy imports without a GPU). It uses two private CuPy names,
``_core._kernel._get_elementwise_kernel_code`` and ``_ArgInfo``; where a CuPy
release changes them the tests skip and say so.
"""
import os

import numpy as np
import pytest

from minigrad.ops import cuda_kernels


def _cupy_and_nvrtc():
    """(cupy, its kernel module, nvrtc), or a skip with the reason."""
    try:
        import cupy
        from cupy._core import _carray, _kernel, _scalar
    except Exception as exc:                        # not installed, or a broken install
        pytest.skip(f"a real CuPy does not import here ({type(exc).__name__}: {exc})")
    if not hasattr(cupy, "ElementwiseKernel") or not hasattr(_kernel, "_ArgInfo"):
        pytest.skip("not a real CuPy")
    if not hasattr(_kernel, "_get_elementwise_kernel_code"):
        pytest.skip("this CuPy has no _get_elementwise_kernel_code to ask for the source")
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as exc:                        # libnvrtc not found
        pytest.skip(f"NVRTC does not load ({type(exc).__name__}: {' '.join(str(exc).split())})")
    return cupy, _kernel, _carray, _scalar, nvrtc


# CuPy's kinds of kernel argument (cupy/_core/_kernel.pxd, enum _ArgKind)
_NDARRAY, _INDEXER, _SCALAR = 1, 2, 3


def _source(name, dtype, operation=None):
    """The CUDA source CuPy generates for ``cuda_kernels``'s kernel ``name``
    launched as ``im2col``/``col2im`` launch it: a C-contiguous raw input
    (4-d for im2col, 3-d for col2im), twelve int32 scalars, and a C-contiguous
    output that CuPy's reduce_dims flattens to one dimension."""
    cupy, _kernel, _carray, _scalar, _ = _cupy_and_nvrtc()
    kernel = cuda_kernels._kernel(cupy, name)
    dtype = np.dtype(dtype)
    n_scalars = len(cuda_kernels._GEOMETRY.split(","))
    infos = ((_kernel._ArgInfo(_NDARRAY, cupy.ndarray, dtype, 4 if name == "im2col" else 3,
                               True, True),)
             + tuple(_kernel._ArgInfo(_SCALAR, _scalar.CScalar, np.dtype(np.int32), 0, True, True)
                     for _ in range(n_scalars))
             + (_kernel._ArgInfo(_NDARRAY, cupy.ndarray, dtype, 1, True, True),
                _kernel._ArgInfo(_INDEXER, _carray.Indexer, None, 1, True, True)))
    types = _kernel._TypeMap((("T", dtype),))
    body = kernel.operation if operation is None else operation
    code = _kernel._get_elementwise_kernel_code(infos, types, kernel.params, body,
                                                kernel.name, kernel.preamble)
    # the headers CuPy puts before every kernel it compiles
    return "#include <cupy/complex.cuh>\n#include <cupy/carray.cuh>\n" \
           "#include <cupy/atomics.cuh>\n" + code


def _compile(source):
    """(ok, NVRTC's log) for ``source`` compiled to PTX."""
    cupy, *_, nvrtc = _cupy_and_nvrtc()
    include = os.path.join(os.path.dirname(cupy.__file__), "_core", "include")
    cccl = os.path.join(include, "cupy", "_cccl")
    options = ["-I" + include] + [f"-I{os.path.join(cccl, d)}" for d in
                                  ("libcudacxx", "thrust", "cub")]
    options += ["--std=c++17", "-arch=compute_70"]
    program = nvrtc.createProgram(source, "minigrad_kernel.cu", (), ())
    try:
        nvrtc.compileProgram(program, options)
    except Exception:
        return False, nvrtc.getProgramLog(program)
    ptx = nvrtc.getPTX(program)
    return len(ptx) > 0, nvrtc.getProgramLog(program)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["im2col", "col2im"])
def test_the_kernel_compiles(name, dtype):
    source = _source(name, dtype)
    assert f"minigrad_{name}" in source and cuda_kernels._KERNELS[name].operation in source
    ok, log = _compile(source)
    assert ok, f"{name} ({np.dtype(dtype)}) does not compile:\n{log}"


def test_a_broken_kernel_does_not_compile():
    # the check can fail: an undefined name in the body is a compile error
    broken = cuda_kernels._IM2COL.replace("(T)0", "(T)undefined_name")
    ok, log = _compile(_source("im2col", np.float32, operation=broken))
    assert not ok and "undefined_name" in log
