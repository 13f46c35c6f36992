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


# the input arrays each kernel is launched with, and their ndim as CuPy sees
# them (raw arrays keep theirs; the others, C-contiguous, are flattened to 1-d
# by CuPy's reduce_dims); every other input is a scalar, every output an array
INPUT_ARRAYS = {"im2col": {"x": 4}, "col2im": {"cols": 3}, "sgd": {"g": 1},
                "sgd_momentum": {"g": 1}, "adam": {"g": 1}, "adam_amsgrad": {"g": 1}}


def test_every_kernel_is_listed():
    assert set(INPUT_ARRAYS) == set(cuda_kernels._SPECS)


def _source(name, dtype, operation=None):
    """The CUDA source CuPy generates for ``cuda_kernels``'s kernel ``name``
    launched as ``cuda_kernels`` launches it (``INPUT_ARRAYS``; C-contiguous
    arrays of ``dtype``; outputs flattened to 1-d by CuPy's reduce_dims)."""
    cupy, _kernel, _carray, _scalar, _ = _cupy_and_nvrtc()
    kernel = cuda_kernels._kernel(cupy, name)
    dtype = np.dtype(dtype)
    arrays = INPUT_ARRAYS[name]
    infos = []
    for param in kernel.in_params:
        if param.name in arrays:
            infos.append(_kernel._ArgInfo(_NDARRAY, cupy.ndarray, dtype, arrays[param.name],
                                          True, True))
        else:
            scalar_type = dtype if param.dtype is None else np.dtype(param.dtype)
            infos.append(_kernel._ArgInfo(_SCALAR, _scalar.CScalar, scalar_type, 0, True, True))
    infos += [_kernel._ArgInfo(_NDARRAY, cupy.ndarray, dtype, 1, True, True)
              for _ in kernel.out_params]
    infos.append(_kernel._ArgInfo(_INDEXER, _carray.Indexer, None, 1, True, True))
    types = _kernel._TypeMap((("T", dtype),))
    body = kernel.operation if operation is None else operation
    code = _kernel._get_elementwise_kernel_code(tuple(infos), types, kernel.params, body,
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
@pytest.mark.parametrize("name", sorted(INPUT_ARRAYS))
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
