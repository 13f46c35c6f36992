"""Array backends (NumPy, CuPy), the dtype policy and seeded random generators.

Every op asks for the array module of its inputs with
:func:`get_array_module` instead of naming ``numpy``, so the same line of
array code runs on the CPU (NumPy) and on an NVIDIA GPU (CuPy).

* The *default backend* is where factories (``zeros``, ``randn``, ...)
  put new tensors: NumPy unless :func:`set_backend` says ``"cupy"``.
* The *default dtype* is what floating-point data becomes when no dtype is
  given: float32 unless :func:`set_default_dtype` says float64.
* :func:`manual_seed` seeds one ``Generator`` per backend; every random
  function takes an optional ``generator=`` so randomness can stay local.
  The generators start from a fixed seed, so a fresh process is reproducible.
"""
from __future__ import annotations

import os
import platform

import numpy as np

from .errors import ArgumentError, BackendError, DTypeError

BACKENDS = ("numpy", "cupy")
DEFAULT_SEED = 20260101

_state = {
    "backend": "numpy",
    "dtype": np.dtype(np.float32),
}
_cupy = None          # the cupy module once imported successfully
_cupy_error = None    # why importing/using cupy failed, for error messages
_generators: dict = {}


# --------------------------------------------------------------------------
# CuPy, imported lazily (importing it is slow and fails without a GPU)
# --------------------------------------------------------------------------
def _import_cupy():
    global _cupy, _cupy_error
    if _cupy is not None:
        return _cupy
    if _cupy_error is not None:
        return None
    try:
        import cupy  # noqa: F401  (optional dependency)

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device found")
        cupy.zeros(1)  # touch the device so a broken driver fails here
    except Exception as exc:  # ImportError, CUDARuntimeError, ...
        _cupy_error = f"{type(exc).__name__}: {exc}"
        return None
    _cupy = cupy
    return cupy


def describe_machine():
    """"CPU name, N logical CPUs, OS release" (from /proc/cpuinfo where
    there is one): what benchmark and comparison reports say they ran on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3      # glibc's <malloc.h>
_MMAP_THRESHOLD_MAX = 32 << 20                     # the most glibc accepts on 64-bit


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Ask the C library's ``malloc`` to keep memory the process frees for
    reuse, instead of handing it back to the operating system after every
    training step. Linux with glibc only; returns whether it was done.

    A step allocates its activations, saved arrays and gradients afresh and
    frees them when the graph is released. With glibc's defaults, a free
    region at the top of the heap larger than twice the largest block freed
    so far goes back to the system, and the next step faults every page in
    again: on LeNet-5 at batch 64 up to ~3,500 page faults per step (how
    many depends on the heap's layout), 10-20 % of its time
    (``benchmarks/bench_allocator.py``).

    This sets, for the whole process, ``M_TRIM_THRESHOLD`` to ``limit``
    (free memory kept at the top of the heap) and ``M_MMAP_THRESHOLD`` to
    32 MiB (larger blocks still get a mapping of their own, returned when
    freed) -- what running with ``MALLOC_TRIM_THRESHOLD_`` and
    ``MALLOC_MMAP_THRESHOLD_`` set does. The price: the process holds on to
    up to ``limit`` bytes it has freed (at most 2 GiB, the largest value
    ``mallopt`` takes). ``python -m minigrad`` calls it; a library
    importing minigrad is left alone unless it calls this itself."""
    if not isinstance(limit, (int, np.integer)) or isinstance(limit, bool) or limit < 0:
        raise ArgumentError(f"keep_freed_memory: limit must be a number of bytes >= 0, "
                            f"got {limit!r}")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    limit = min(int(limit), 2 ** 31 - 1)               # mallopt takes an int
    return (mallopt(_M_TRIM_THRESHOLD, limit) == 1
            and mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1)


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _import_cupy() is not None


def _require_cupy():
    cp = _import_cupy()
    if cp is None:
        raise BackendError(
            "the 'cupy' backend is not available here "
            f"({_cupy_error}); install minigrad-engine[cuda] on a machine "
            "with an NVIDIA GPU, or use the 'numpy' backend")
    return cp


# --------------------------------------------------------------------------
# Array modules
# --------------------------------------------------------------------------
def get_array_module(*arrays):
    """The array module (``numpy`` or ``cupy``) of ``arrays``.

    Python scalars and ``None`` are ignored. Arrays from both backends in one
    call raise :class:`BackendError` naming both.
    """
    xp = None
    for a in arrays:
        if isinstance(a, (np.ndarray, np.generic)):
            mod = np
        elif _cupy is not None and isinstance(a, _cupy.ndarray):
            mod = _cupy
        else:
            continue
        if xp is None:
            xp = mod
        elif xp is not mod:
            raise BackendError(
                "cannot mix arrays from the 'numpy' and 'cupy' backends in one "
                "op; move one of them with Tensor.to('numpy') or .to('cupy')")
    return np if xp is None else xp


def backend_of(array) -> str:
    """``"numpy"`` or ``"cupy"``: the backend an array lives on."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return "cupy"
    return "numpy"


def get_xp(name: str | None = None):
    """The array module for backend ``name`` (default: the default backend)."""
    name = _state["backend"] if name is None else _check_backend_name(name)
    if name == "numpy":
        return np
    return _require_cupy()


def _check_backend_name(name) -> str:
    if name not in BACKENDS:
        raise BackendError(
            f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def set_backend(name: str) -> None:
    """Make ``name`` ("numpy" or "cupy") the backend of new tensors."""
    name = _check_backend_name(name)
    if name == "cupy":
        _require_cupy()
    _state["backend"] = name


def get_backend() -> str:
    """The name of the default backend ("numpy" or "cupy")."""
    return _state["backend"]


def to_backend(array, name: str):
    """Copy ``array`` to backend ``name`` (no copy if it is already there)."""
    name = _check_backend_name(name)
    src = backend_of(array)
    if src == name:
        return array
    if name == "cupy":
        return _require_cupy().asarray(array)
    return array.get()  # cupy -> numpy


def to_numpy(array) -> np.ndarray:
    """A NumPy array holding ``array``'s values (copied from the GPU if needed)."""
    return to_backend(array, "numpy") if not isinstance(array, np.ndarray) else array


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def set_default_dtype(dtype) -> None:
    """Set the dtype that floating-point data gets by default (float32 or float64)."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(
            f"set_default_dtype: the default dtype must be float32 or float64, got {dt}")
    _state["dtype"] = dt


def get_default_dtype() -> np.dtype:
    """The dtype that floating-point data gets by default."""
    return _state["dtype"]


def is_floating(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


# --------------------------------------------------------------------------
# Random generators
# --------------------------------------------------------------------------
def manual_seed(seed: int) -> None:
    """Seed the default generator of every backend (NumPy, and CuPy if present)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ArgumentError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generators.clear()
    _generators["numpy"] = np.random.default_rng(int(seed))
    if _cupy is not None:
        _generators["cupy"] = _cupy.random.default_rng(int(seed))
    _state["seed"] = int(seed)


def default_generator(backend: str | None = None):
    """The default random Generator of ``backend`` (default: the default backend)."""
    name = _state["backend"] if backend is None else _check_backend_name(backend)
    gen = _generators.get(name)
    if gen is None:
        seed = _state.get("seed", DEFAULT_SEED)
        if name == "numpy":
            gen = np.random.default_rng(seed)
        else:
            gen = _require_cupy().random.default_rng(seed)
        _generators[name] = gen
    return gen


def get_rng_state(backend: str | None = None):
    """The state of a backend's default generator, to save in a checkpoint
    (a JSON-serialisable dict for NumPy's PCG64). CuPy's Generator has no
    state to read: :func:`reseed` it at known points instead."""
    return _bit_generator(backend).state


def set_rng_state(state, backend: str | None = None) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _bit_generator(backend).state = state


def _bit_generator(backend):
    gen = default_generator(backend)
    if not hasattr(gen, "bit_generator"):
        raise BackendError(
            "the state of CuPy's random Generator cannot be read or restored (it lives in "
            "cuRAND on the GPU); reseed it with minigrad.backend.reseed at known points "
            "instead, as training runs do at every epoch")
    return gen.bit_generator


def reseed(backend: str, seed) -> None:
    """Replace ``backend``'s default generator by a fresh one seeded with
    ``seed`` (an int or a list of ints, e.g. ``[run seed, epoch]``)."""
    name = _check_backend_name(backend)
    xp = np if name == "numpy" else _require_cupy()
    _generators[name] = xp.random.default_rng(seed)


def generator_backend(generator) -> str:
    """The backend a Generator produces arrays on."""
    if isinstance(generator, np.random.Generator):
        return "numpy"
    if _cupy is not None and isinstance(generator, _cupy.random.Generator):
        return "cupy"
    raise BackendError(
        f"expected a numpy.random.Generator or cupy.random.Generator, got "
        f"{type(generator).__name__}; create one with numpy.random.default_rng(seed)")


# --------------------------------------------------------------------------
# The few array functions that differ between NumPy and CuPy
# --------------------------------------------------------------------------
def scatter_add(target, index, values) -> None:
    """``target[index] += values`` with repeated indices accumulated (in place)."""
    xp = get_array_module(target)
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


def erf(x):
    """The error function on either backend (SciPy / cupyx.scipy)."""
    xp = get_array_module(x)
    if xp is np:
        from scipy import special

        return special.erf(x)
    from cupyx.scipy import special

    return special.erf(x)
