"""A CPU stand-in for CuPy, as strict as CuPy about the host/device line.

CI has no GPU, so the ``cupy`` half of every backend-parametrised test is
skipped there. Most of what breaks on a GPU is not arithmetic but plumbing:
a ``np.asarray`` on a device array, a host array mixed into a device op, a
random Generator method that CuPy does not have, a NumPy-only function. This
module fakes exactly that boundary so the suite can check it on a laptop:

* ``ndarray`` wraps a NumPy array and is *not* one: ``np.asarray(x)`` and
  every other implicit conversion raise ``TypeError`` as CuPy's do;
  ``x.get()`` / ``cupy.asnumpy(x)`` are the explicit way back.
* NumPy ufuncs and functions called on it dispatch here (NEP 13/18, as on
  CuPy); a raw ``numpy.ndarray`` operand raises ``TypeError`` as CuPy does,
  while NumPy scalars and Python numbers are fine. Reductions and scalar
  indexing return 0-d arrays, not NumPy scalars (as CuPy does).
* Names that NumPy has and CuPy 14.2 does not (``NUMPY_ONLY``) are missing,
  on the module, on ``ndarray`` and through ``__array_function__``.
* ``random.default_rng`` returns a Generator with CuPy 14.2's methods only
  (no ``normal``, ``permutation``, ``choice``, no ``bit_generator``).

The numbers are NumPy's, so it says nothing about GPU numerics or speed;
those need a real GPU (the ``cupy`` parameter). The name lists were read from
CuPy 14.2 (``dir(cupy)`` minus ``dir(numpy)`` etc.); ``tests/test_fake_cupy.py``
compares them with a real CuPy where one imports.
"""
from __future__ import annotations

import copy as _copy
import sys
import types

import numpy as np

#: Public names of ``numpy`` that ``cupy`` 14.2 lacks.
NUMPY_ONLY = frozenset("""
False_ ScalarType True_ asmatrix block bmat busday_count busday_offset busdaycalendar
bytes_ char character clongdouble complex256 core ctypeslib datetime64
datetime_as_string datetime_data dtypes einsum_path emath errstate f2py flexible
float128 frompyfunc fromregex geomspace get_include getbufsize geterr geterrcall
histogram_bin_edges info insert is_busday isnat little_endian longdouble ma matrix
matvec memmap nanpercentile nanquantile ndenumerate nditer nested_iters object_
polyder polydiv polyint rec recarray record sctypeDict setbufsize seterr seterrcall
show_runtime spacing str_ strings test timedelta64 typecodes unstack vecdot vecmat void
""".split())

#: Public attributes of ``numpy.ndarray`` that ``cupy.ndarray`` 14.2 lacks.
NDARRAY_NUMPY_ONLY = frozenset(
    "ctypes getfield resize setfield setflags to_device".split())

#: Public names of ``numpy.linalg`` that ``cupy.linalg`` 14.2 lacks.
LINALG_NUMPY_ONLY = frozenset(
    "diagonal matrix_norm multi_dot outer svdvals tensordot trace vecdot vector_norm".split())

#: The methods of ``cupy.random.Generator`` (14.2).
GENERATOR_METHODS = frozenset("""
beta binomial chisquare dirichlet exponential f gamma geometric hypergeometric integers
logseries poisson power random standard_exponential standard_gamma standard_normal uniform
""".split())

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")


# --------------------------------------------------------------------------
# wrapping and unwrapping
# --------------------------------------------------------------------------
def _wrap(out):
    """NumPy results -> device results (arrays and NumPy scalars become arrays)."""
    if isinstance(out, np.ndarray):
        return ndarray._from_host(out)
    if isinstance(out, np.generic) and not isinstance(out, (np.str_, np.bytes_, np.void)):
        return ndarray._from_host(np.asarray(out))
    if isinstance(out, tuple):
        items = (_wrap(o) for o in out)
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    if isinstance(out, list):
        return [_wrap(o) for o in out]
    return out


def _unwrap(arg, what, strict=True):
    """Device arguments -> NumPy; a host ``numpy.ndarray`` is refused like CuPy does."""
    if isinstance(arg, ndarray):
        return arg._a
    if isinstance(arg, np.ndarray):
        if strict:
            raise TypeError(f"{what}: unsupported type {type(arg)} (a NumPy array given to "
                            "a CuPy function; move it to the device with cupy.asarray)")
        return arg
    if isinstance(arg, (list, tuple)) and not hasattr(arg, "_fields"):
        return type(arg)(_unwrap(a, what, strict) for a in arg)
    if isinstance(arg, dict):
        return {k: _unwrap(v, what, strict) for k, v in arg.items()}
    return arg


def _index(key):
    """An index: device arrays, host arrays and lists are all accepted (as CuPy does)."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, ndarray):
        return key._a
    return key


# --------------------------------------------------------------------------
# the array
# --------------------------------------------------------------------------
def _binary(ufunc, reflected=False):
    def op(self, other):
        if isinstance(other, np.ndarray) or not _is_operand(other):
            return NotImplemented
        return _call_ufunc(ufunc, "__call__", (other, self) if reflected else (self, other), {})
    return op


def _inplace(ufunc):
    def op(self, other):
        if isinstance(other, np.ndarray):
            raise TypeError(f"{ufunc.__name__}: unsupported type {type(other)} "
                            "(a NumPy array in an in-place CuPy op)")
        _call_ufunc(ufunc, "__call__", (self, other), {"out": (self,)})
        return self
    return op


def _unary(ufunc):
    def op(self):
        return _call_ufunc(ufunc, "__call__", (self,), {})
    return op


def _is_operand(x):
    return isinstance(x, (ndarray, np.generic, int, float, complex, bool))


class ndarray:
    """A device array (in host memory): see the module docstring."""

    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, shape, dtype=float):
        self._a = np.empty(shape, dtype)

    @classmethod
    def _from_host(cls, a):
        obj = object.__new__(cls)
        obj._a = a
        return obj

    # the host/device line -----------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(_IMPLICIT)

    def get(self, stream=None, order="C", out=None):
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order)

    def set(self, arr, stream=None):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"set: expected numpy.ndarray, got {type(arr)}")
        if arr.shape != self._a.shape:
            raise ValueError("set: shape mismatch")
        self._a[...] = arr

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(x, np.ndarray) for x in inputs):
            return NotImplemented       # NumPy then raises TypeError, as with CuPy
        return _call_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        if func.__name__ in NUMPY_ONLY or func.__name__ in LINALG_NUMPY_ONLY and \
                func.__module__.endswith("linalg"):
            return NotImplemented
        return _wrap(func(*_unwrap(args, func.__name__), **_unwrap(kwargs, func.__name__)))

    # attributes -----------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T))
    mT = property(lambda self: _wrap(self._a.mT))
    real = property(lambda self: _wrap(self._a.real))
    imag = property(lambda self: _wrap(self._a.imag))
    base = property(lambda self: None if self._a.base is None else _wrap(self._a.base))
    device = property(lambda self: cuda.Device(0))

    def __getattr__(self, name):
        if name == "_a" or name.startswith("__") or name in NDARRAY_NUMPY_ONLY:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            return _wrap(attr(*_unwrap(args, f"ndarray.{name}"),
                              **_unwrap(kwargs, f"ndarray.{name}")))
        method.__name__ = name
        return method

    # Python protocols -------------------------------------------------------------------
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def __getitem__(self, key):
        return _wrap(self._a[_index(key)])

    def __setitem__(self, key, value):
        self._a[_index(key)] = value._a if isinstance(value, ndarray) else value

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec) if self._a.ndim == 0 else str(self)

    __hash__ = None

    def __reduce__(self):
        return (ndarray._from_host, (self._a,))

    def __copy__(self):
        return ndarray._from_host(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray._from_host(_copy.deepcopy(self._a, memo))

    __add__, __radd__ = _binary(np.add), _binary(np.add, True)
    __sub__, __rsub__ = _binary(np.subtract), _binary(np.subtract, True)
    __mul__, __rmul__ = _binary(np.multiply), _binary(np.multiply, True)
    __truediv__, __rtruediv__ = _binary(np.true_divide), _binary(np.true_divide, True)
    __floordiv__, __rfloordiv__ = _binary(np.floor_divide), _binary(np.floor_divide, True)
    __mod__, __rmod__ = _binary(np.remainder), _binary(np.remainder, True)
    __pow__, __rpow__ = _binary(np.power), _binary(np.power, True)
    __matmul__, __rmatmul__ = _binary(np.matmul), _binary(np.matmul, True)
    __and__, __rand__ = _binary(np.bitwise_and), _binary(np.bitwise_and, True)
    __or__, __ror__ = _binary(np.bitwise_or), _binary(np.bitwise_or, True)
    __xor__, __rxor__ = _binary(np.bitwise_xor), _binary(np.bitwise_xor, True)
    __lshift__, __rshift__ = _binary(np.left_shift), _binary(np.right_shift)
    __eq__, __ne__ = _binary(np.equal), _binary(np.not_equal)
    __lt__, __le__ = _binary(np.less), _binary(np.less_equal)
    __gt__, __ge__ = _binary(np.greater), _binary(np.greater_equal)
    __iadd__, __isub__ = _inplace(np.add), _inplace(np.subtract)
    __imul__, __itruediv__ = _inplace(np.multiply), _inplace(np.true_divide)
    __ifloordiv__, __ipow__ = _inplace(np.floor_divide), _inplace(np.power)
    __imod__ = _inplace(np.remainder)
    __iand__, __ior__, __ixor__ = (_inplace(np.bitwise_and), _inplace(np.bitwise_or),
                                   _inplace(np.bitwise_xor))
    __neg__, __pos__ = _unary(np.negative), _unary(np.positive)
    __abs__, __invert__ = _unary(np.absolute), _unary(np.invert)


def _call_ufunc(ufunc, method, inputs, kwargs):
    what = f"{ufunc.__name__}.{method}" if method != "__call__" else ufunc.__name__
    for x in inputs:
        if isinstance(x, np.ndarray):
            raise TypeError(f"{what}: unsupported type {type(x)} (a NumPy array in a CuPy "
                            "ufunc; move it to the device with cupy.asarray)")
    if "out" in kwargs:
        out = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
        kwargs = dict(kwargs, out=tuple(_unwrap(o, what) for o in out))
    return _wrap(getattr(ufunc, method)(*_unwrap(inputs, what), **kwargs))


# --------------------------------------------------------------------------
# the module: conversions, then NumPy's functions refusing host arrays
# --------------------------------------------------------------------------
def asarray(a, dtype=None, order=None, *, blocking=False):
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return ndarray._from_host(np.array(_unwrap(a, "asarray", strict=False), dtype=dtype,
                                       order=order or "K"))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    host = obj._a if isinstance(obj, ndarray) else _unwrap(obj, "array", strict=False)
    return ndarray._from_host(np.array(host, dtype=dtype, copy=copy or None, order=order,
                                       ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    return this if any(isinstance(a, ndarray) for a in args) else np


def _device_function(name, func):
    def wrapper(*args, **kwargs):
        return _wrap(func(*_unwrap(args, name), **_unwrap(kwargs, name)))
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = f"cupy.{name} (NumPy's, on the CPU stand-in)"
    return wrapper


def _forward(namespace, missing, modname):
    def __getattr__(name):
        if name in missing or name.startswith("__"):
            raise AttributeError(f"module {modname!r} has no attribute {name!r}")
        attr = getattr(namespace, name)
        if isinstance(attr, np.ufunc):
            return _Ufunc(attr)
        if callable(attr) and not isinstance(attr, type):
            return _device_function(name, attr)
        return attr                      # dtypes, constants (pi, inf, newaxis), finfo ...
    return __getattr__


class _Ufunc:
    """A NumPy ufunc with CuPy's rule: device arrays and scalars only."""

    def __init__(self, ufunc):
        self._u = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout

    def __call__(self, *args, **kwargs):
        return _call_ufunc(self._u, "__call__", args, kwargs)

    def __getattr__(self, name):
        if name in ("reduce", "accumulate", "reduceat", "outer", "at"):
            return lambda *args, **kwargs: _call_ufunc(self._u, name, args, kwargs)
        if name in ("identity", "types", "ntypes", "nargs"):
            return getattr(self._u, name)
        raise AttributeError(f"'cupy.ufunc' object has no attribute {name!r}")


this = types.ModuleType("cupy", __doc__)
this.__getattr__ = _forward(np, NUMPY_ONLY, "cupy")
this.__version__ = "14.2.0+fake"
this.ndarray = ndarray
this.asarray, this.array, this.asnumpy = asarray, array, asnumpy
this.asanyarray = asarray
this.get_array_module = get_array_module
this.ascontiguousarray = _device_function("ascontiguousarray", np.ascontiguousarray)

linalg = types.ModuleType("cupy.linalg")
linalg.__getattr__ = _forward(np.linalg, LINALG_NUMPY_ONLY, "cupy.linalg")
this.linalg = linalg


# -- random: CuPy's Generator API only ----------------------------------------------------
class Generator:
    """``cupy.random.Generator``: CuPy 14.2's methods, signatures and dtypes."""

    def __init__(self, seed=None):
        self._g = np.random.default_rng(seed)

    def random(self, size=None, dtype=np.float64, out=None):
        return self._fill(self._g.random(size, dtype=_float(dtype, "random")), out)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._fill(self._g.standard_normal(size, dtype=_float(dtype, "standard_normal")),
                          out)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return _wrap(np.asarray(self._g.uniform(_unwrap(low, "uniform"),
                                                _unwrap(high, "uniform"), size), dtype))

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return _wrap(np.asarray(self._g.integers(low, high, size, dtype, endpoint)))

    def __getattr__(self, name):
        if name not in GENERATOR_METHODS:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r}")
        method = getattr(self._g, name)
        return lambda *a, **k: _wrap(np.asarray(method(*_unwrap(a, name), **_unwrap(k, name))))

    @staticmethod
    def _fill(values, out):
        if out is None:
            return _wrap(np.asarray(values))
        out._a[...] = values
        return out


def _float(dtype, what):
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"Generator.{what}: dtype must be float32 or float64, got {dt}")
    return dt


random = types.ModuleType("cupy.random")
random.Generator = Generator
random.default_rng = lambda seed=None: seed if isinstance(seed, Generator) else Generator(seed)
this.random = random


# -- cuda: just enough to say there is one device -----------------------------------------
class _Device:
    def __init__(self, device=0):
        self.id = int(device)

    def synchronize(self):
        pass

    @property
    def mem_info(self):
        """(free, total) bytes: a 16 GiB device with 12 GiB free."""
        return 12 * 2 ** 30, 16 * 2 ** 30

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Stream:
    def synchronize(self):
        pass


cuda = types.ModuleType("cupy.cuda")
cuda.Device = _Device
cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
cuda.Stream = types.SimpleNamespace(null=_Stream())
cuda.get_current_stream = lambda: cuda.Stream.null
cuda.is_available = lambda: True
this.cuda = cuda


# -- cupyx: scatter_add and scipy.special -------------------------------------------------
def scatter_add(a, slices, value):
    if not isinstance(a, ndarray):
        raise TypeError(f"scatter_add: expected cupy.ndarray, got {type(a)}")
    np.add.at(a._a, _index(slices), _unwrap(value, "scatter_add"))


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = scatter_add
cupyx_scipy = types.ModuleType("cupyx.scipy")
cupyx_special = types.ModuleType("cupyx.scipy.special")


def _special(name):
    from scipy import special as _sp

    if name.startswith("__"):
        raise AttributeError(f"module 'cupyx.scipy.special' has no attribute {name!r}")
    return _device_function(name, getattr(_sp, name))


cupyx_special.__getattr__ = _special
cupyx_scipy.special = cupyx_special
cupyx.scipy = cupyx_scipy

MODULES = {"cupy": this, "cupy.linalg": linalg, "cupy.random": random, "cupy.cuda": cuda,
           "cupyx": cupyx, "cupyx.scipy": cupyx_scipy, "cupyx.scipy.special": cupyx_special}


def install(monkeypatch):
    """Make minigrad's ``cupy`` backend this stand-in for one test (undone by
    ``monkeypatch``): ``import cupy`` finds it and ``minigrad.backend`` uses it."""
    from minigrad import backend

    for name, module in MODULES.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(backend, "_cupy", this)
    monkeypatch.setattr(backend, "_cupy_error", None)
    generators = dict(backend._generators)
    generators.pop("cupy", None)
    monkeypatch.setattr(backend, "_generators", generators)
