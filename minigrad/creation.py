"""Functions that create tensors: from data, filled, ranges, random.

Every function takes ``dtype`` (default: the default float dtype for
floating data), ``backend`` (default: the default backend) and
``requires_grad``. Shapes may be given as separate ints or one tuple:
``zeros(2, 3)`` and ``zeros((2, 3))`` are the same. Random functions take an
optional ``generator`` (a ``numpy.random.Generator`` or CuPy's); without one
they use the backend's default generator, seeded by ``manual_seed``.
"""
from __future__ import annotations

import numpy as np

from . import backend as _backend
from .errors import ArgumentError, ShapeError
from .tensor import Tensor


def _shape(shape, name):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ShapeError(f"{name}: the shape must be ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ShapeError(f"{name}: negative dimension in shape {shape}")
    return shape


def _dtype(dtype):
    return _backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def _finish(array, requires_grad):
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad=False, backend=None):
    """A new tensor holding a copy of ``data`` (a number, nested lists, an
    array or a Tensor). Python floats get the default dtype; arrays keep
    theirs unless ``dtype`` is given."""
    if backend is None:
        backend = (data.backend if isinstance(data, Tensor)
                   else _backend.backend_of(data) if hasattr(data, "shape")
                   else _backend.get_backend())
    src = data.data if isinstance(data, Tensor) else data
    t = Tensor(src, dtype=dtype, backend=backend)
    if t.data is src:
        t.data = t.data.copy()
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, backend=None):
    """Like :func:`tensor` but without copying when ``data`` already is an
    array of the right dtype and backend (or a Tensor, returned as is)."""
    if isinstance(data, Tensor) and dtype is None and backend is None:
        return data
    return Tensor(data, dtype=dtype, backend=backend)


def zeros(*shape, dtype=None, backend=None, requires_grad=False):
    xp = _backend.get_xp(backend)
    return _finish(xp.zeros(_shape(shape, "zeros"), dtype=_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, backend=None, requires_grad=False):
    xp = _backend.get_xp(backend)
    return _finish(xp.ones(_shape(shape, "ones"), dtype=_dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, backend=None, requires_grad=False):
    xp = _backend.get_xp(backend)
    if dtype is None and isinstance(fill_value, (bool, int)) and not isinstance(fill_value, float):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    shape = _shape((shape,) if isinstance(shape, (tuple, list)) else (shape,), "full")
    return _finish(xp.full(shape, fill_value, dtype=_dtype(dtype)), requires_grad)


def empty(*shape, dtype=None, backend=None, requires_grad=False):
    xp = _backend.get_xp(backend)
    return _finish(xp.empty(_shape(shape, "empty"), dtype=_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, backend=None, requires_grad=False):
    xp = _backend.get_xp(backend)
    return _finish(xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def arange(start, stop=None, step=1, dtype=None, backend=None, requires_grad=False):
    """Evenly spaced values in [start, stop). Integer arguments give int64
    unless ``dtype`` says otherwise."""
    xp = _backend.get_xp(backend)
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ArgumentError("arange: step must not be zero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if ints else _backend.get_default_dtype()
    return _finish(xp.arange(start, stop, step, dtype=np.dtype(dtype)), requires_grad)


def linspace(start, stop, num, dtype=None, backend=None, requires_grad=False):
    xp = _backend.get_xp(backend)
    return _finish(xp.linspace(start, stop, num, dtype=_dtype(dtype)), requires_grad)


def _generator(generator, backend):
    if generator is None:
        return _backend.default_generator(backend), backend
    return generator, _backend.generator_backend(generator)


def randn(*shape, dtype=None, backend=None, generator=None, requires_grad=False):
    """Standard normal samples."""
    gen, _ = _generator(generator, backend)
    dt = _dtype(dtype)
    arr = gen.standard_normal(_shape(shape, "randn"), dtype=dt if dt.kind == "f" else None)
    return _finish(arr.astype(dt, copy=False), requires_grad)


def rand(*shape, dtype=None, backend=None, generator=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    gen, _ = _generator(generator, backend)
    dt = _dtype(dtype)
    arr = gen.random(_shape(shape, "rand"), dtype=dt if dt.kind == "f" else None)
    return _finish(arr.astype(dt, copy=False), requires_grad)


def randint(low, high, shape, dtype=np.int64, backend=None, generator=None):
    """Integers uniform in [low, high)."""
    gen, _ = _generator(generator, backend)
    shape = _shape((shape,) if isinstance(shape, (tuple, list)) else (shape,), "randint")
    return Tensor._make(gen.integers(low, high, size=shape).astype(dtype, copy=False))


def _like(x, dtype, backend):
    return (x.data.dtype if dtype is None else np.dtype(dtype)), (
        x.backend if backend is None else backend)


def zeros_like(x, dtype=None, backend=None, requires_grad=False):
    dt, be = _like(x, dtype, backend)
    return zeros(x.shape, dtype=dt, backend=be, requires_grad=requires_grad)


def ones_like(x, dtype=None, backend=None, requires_grad=False):
    dt, be = _like(x, dtype, backend)
    return ones(x.shape, dtype=dt, backend=be, requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, backend=None, requires_grad=False):
    dt, be = _like(x, dtype, backend)
    return full(x.shape, fill_value, dtype=dt, backend=be, requires_grad=requires_grad)


def randn_like(x, dtype=None, backend=None, generator=None, requires_grad=False):
    dt, be = _like(x, dtype, backend)
    return randn(x.shape, dtype=dt, backend=be, generator=generator, requires_grad=requires_grad)


def rand_like(x, dtype=None, backend=None, generator=None, requires_grad=False):
    dt, be = _like(x, dtype, backend)
    return rand(x.shape, dtype=dt, backend=be, generator=generator, requires_grad=requires_grad)
