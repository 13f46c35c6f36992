"""The Tensor: an array, the node that made it, and its gradient.

A :class:`Tensor` wraps a NumPy or CuPy array (``.data``). When it was
computed by an op while gradients were being recorded it also points to
that op (``.grad_fn``), which points to the op's inputs: that chain is the
graph that :meth:`Tensor.backward` walks. Leaves -- tensors created by the
user with ``requires_grad=True`` -- receive their gradient in ``.grad``.

A tensor may also carry forward-mode tangents (one per active
:class:`minigrad.dual_level`); ops propagate them as they run.

Operators and methods (``a + b``, ``a @ b``, ``x.sum(axis=0)``) are thin
wrappers over the functions in :mod:`minigrad.ops`, where each op's forward,
vjp and jvp rules stand side by side.
"""
from __future__ import annotations

import numpy as np

from . import backend as _backend
from .errors import DTypeError, GradientError, ShapeError


def _as_array(data, dtype=None, backend=None):
    """Turn Python data / arrays into an array of the right backend and dtype.

    Python floats (and lists of them) get the default float dtype; arrays keep
    their dtype unless ``dtype`` is given.
    """
    if isinstance(data, Tensor):
        data = data.data
    is_array = isinstance(data, np.ndarray) or (
        _backend._cupy is not None and isinstance(data, _backend._cupy.ndarray))
    if is_array:
        xp = _backend.get_array_module(data)
        if backend is not None and _backend.backend_of(data) != backend:
            data = _backend.to_backend(data, backend)
            xp = _backend.get_xp(backend)
        if dtype is not None and data.dtype != np.dtype(dtype):
            data = data.astype(dtype)
        return data
    xp = _backend.get_xp(backend)
    if isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        try:
            arr = np.asarray(data)
        except ValueError:
            arr = np.empty(0, dtype=object)   # ragged nested lists
        if arr.dtype == object:
            raise DTypeError(
                f"tensor: cannot make a tensor from {type(data).__name__} data "
                "(ragged nested lists or non-numeric objects)")
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(_backend.get_default_dtype())
    if dtype is not None:
        arr = arr.astype(dtype)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"tensor: unsupported dtype {arr.dtype}; minigrad works with "
                         "bool, integer and floating-point data")
    return xp.asarray(arr) if xp is not np else arr


class Tensor:
    """A multi-dimensional array that records how it was computed.

    ``Tensor(data, requires_grad=False, dtype=None, backend=None)`` wraps
    ``data`` (an array is wrapped without a copy; use :func:`minigrad.tensor`
    for a copy). Only floating-point tensors can require gradients.
    """

    __slots__ = ("data", "requires_grad", "grad", "_node", "_version",
                 "_tangents", "_hooks", "__weakref__")

    # NumPy must hand `ndarray + Tensor` to Tensor.__radd__, not loop itself.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, backend=None):
        self.data = _as_array(data, dtype, backend)
        self.grad = None
        self._node = None
        self._version = 0
        self._tangents = None
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data):
        """Fast internal constructor: wrap an array (no checks, no copy)."""
        return _wrap(data)

    # -- properties ------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def backend(self) -> str:
        """"numpy" or "cupy": where the data lives."""
        return _backend.backend_of(self.data)

    device = backend

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than computed by an op
        that recorded its graph."""
        return self._node is None

    @property
    def grad_fn(self):
        """The op (graph node) that computed this tensor, or None for a leaf."""
        return self._node

    @property
    def T(self):
        """All axes reversed (for a matrix: the transpose)."""
        return _F.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):
        """The last two axes swapped (batched matrix transpose)."""
        return _F.swapaxes(self, -2, -1)

    # -- gradient bookkeeping ------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True):
        """Set ``requires_grad`` in place on a leaf and return self."""
        if self._node is not None:
            raise GradientError(
                "requires_grad_: only a leaf tensor's requires_grad can be changed; "
                "this tensor was computed by "
                f"'{self._node.name}'. Use .detach().requires_grad_() for a new leaf")
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(
                f"requires_grad: only floating-point tensors can require gradients, "
                f"this one has dtype {self.data.dtype}; convert it with "
                ".astype(minigrad.float32) or .double() first")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, grad=None, retain_graph=False, create_graph=False, inputs=None):
        """Compute the gradient of this tensor with respect to every leaf
        that requires grad, accumulating it into their ``.grad``.

        ``grad`` is the gradient of this tensor (needed unless it has one
        element). ``retain_graph=True`` keeps the graph for another backward;
        ``create_graph=True`` records the backward pass so gradients can be
        differentiated again.
        """
        _ad.backward(self, grad, retain_graph=retain_graph,
                     create_graph=create_graph, inputs=inputs)

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if not self.requires_grad:
            raise GradientError("retain_grad: the tensor does not require grad")
        _ad.retain_grad(self)
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a
        returned Tensor replaces the gradient. Returns a removable handle."""
        return _ad.register_hook(self, hook)

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph (and
        from forward-mode tangents)."""
        return Tensor._make(self.data)

    def clone(self):
        """A copy of the data that stays in the graph (the copy is differentiable)."""
        return _F.clone(self)

    def zero_grad(self):
        """Set ``.grad`` to None."""
        self.grad = None

    # -- conversion --------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared on the CPU, copied from a GPU)."""
        return _backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        arr = _backend.to_numpy(self.data)
        return arr if dtype is None else arr.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ShapeError(f"item: only one-element tensors can be converted to a "
                             f"Python number, this one has shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return _backend.to_numpy(self.data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is "
                "ambiguous; use .any() or .all()")
        return bool(self.data.reshape(()).item())

    def to(self, target):
        """Move to a backend ("numpy" / "cupy") or cast to a dtype.

        Both are differentiable: the gradient comes back to where the input was.
        """
        if isinstance(target, str) and target in _backend.BACKENDS:
            return _F.to_backend(self, target)
        try:
            dtype = np.dtype(target)
        except TypeError:
            raise DTypeError(f"to: expected 'numpy', 'cupy' or a dtype, got {target!r}") from None
        return _F.astype(self, dtype)

    def astype(self, dtype):
        return _F.astype(self, dtype)

    def float(self):
        return _F.astype(self, np.float32)

    def double(self):
        return _F.astype(self, np.float64)

    # -- in-place updates (used by optimizers; never recorded) --------------------
    def _check_inplace(self, name):
        if _ad.is_grad_enabled() and self.requires_grad:
            raise GradientError(
                f"{name}: a tensor that requires grad cannot be modified in place "
                "while gradients are recorded; do it inside `with minigrad.no_grad():`")

    def _inplace(self, name, values):
        self._check_inplace(name)
        values = values.data if isinstance(values, Tensor) else values
        try:
            self.data[...] = values
        except ValueError:
            shape = getattr(values, "shape", ())
            raise ShapeError(f"{name}: cannot write values of shape {tuple(shape)} "
                             f"into a tensor of shape {self.shape}") from None
        self._version += 1
        return self

    def copy_(self, src):
        """Copy ``src``'s values into this tensor (broadcasting)."""
        src = src.data if isinstance(src, Tensor) else src
        return self._inplace("copy_", src)

    def fill_(self, value):
        return self._inplace("fill_", value)

    def zero_(self):
        return self._inplace("zero_", 0)

    def add_(self, other, alpha=1):
        """``self += alpha * other`` in place."""
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace("add_", self.data + alpha * other if alpha != 1 else self.data + other)

    def sub_(self, other, alpha=1):
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace("sub_", self.data - alpha * other if alpha != 1 else self.data - other)

    def mul_(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace("mul_", self.data * other)

    def div_(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace("div_", self.data / other)

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        if isinstance(value, Tensor) and value.requires_grad and _ad.is_grad_enabled():
            raise GradientError(
                "__setitem__: assigning a tensor that requires grad is not "
                "differentiable in minigrad; build the result with minigrad.where "
                "or minigrad.concatenate instead")
        index = _F.shape._index_arrays(index)
        value = value.data if isinstance(value, Tensor) else value
        try:
            self.data[index] = value
        except (ValueError, IndexError) as exc:
            raise ShapeError(f"__setitem__: {exc} (tensor shape {self.shape})") from None
        self._version += 1

    # -- display -------------------------------------------------------------------
    def __repr__(self):
        body = np.array2string(_backend.to_numpy(self.data), separator=", ",
                               prefix="tensor(")
        extras = []
        if self.data.dtype != _backend.get_default_dtype() and self.data.dtype.kind == "f" \
                or self.data.dtype.kind not in "f":
            extras.append(f"dtype={self.data.dtype}")
        if self.backend != "numpy":
            extras.append(f"backend='{self.backend}'")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __hash__ = object.__hash__

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

    # -- arithmetic operators ------------------------------------------------
    def __add__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.add(self, other)

    def __radd__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.add(other, self)

    def __sub__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.sub(self, other)

    def __rsub__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.sub(other, self)

    def __mul__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.mul(self, other)

    def __rmul__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.mul(other, self)

    def __truediv__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.div(self, other)

    def __rtruediv__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.div(other, self)

    def __pow__(self, other):
        return _F.pow(self, other)

    def __rpow__(self, other):
        return _F.pow(other, self)

    def __matmul__(self, other):
        if other is _ZERO:
            return NotImplemented
        return _F.matmul(self, other)

    def __rmatmul__(self, other):
        return _F.matmul(other, self)

    def __neg__(self):
        return _F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _F.abs(self)

    # comparisons give bool tensors and are not differentiable
    def __eq__(self, other):
        return _F.eq(self, other)

    def __ne__(self, other):
        return _F.ne(self, other)

    def __lt__(self, other):
        return _F.lt(self, other)

    def __le__(self, other):
        return _F.le(self, other)

    def __gt__(self, other):
        return _F.gt(self, other)

    def __ge__(self, other):
        return _F.ge(self, other)

    def __invert__(self):
        return _F.logical_not(self)

    def __and__(self, other):
        return _F.logical_and(self, other)

    def __or__(self, other):
        return _F.logical_or(self, other)

    def __getitem__(self, index):
        return _F.getitem(self, index)

    # -- methods mirroring the functions in minigrad.ops ---------------------------
    def exp(self):
        return _F.exp(self)

    def log(self):
        return _F.log(self)

    def log1p(self):
        return _F.log1p(self)

    def sqrt(self):
        return _F.sqrt(self)

    def abs(self):
        return _F.abs(self)

    def sign(self):
        return _F.sign(self)

    def sin(self):
        return _F.sin(self)

    def cos(self):
        return _F.cos(self)

    def tanh(self):
        return _F.tanh(self)

    def sigmoid(self):
        return _F.sigmoid(self)

    def relu(self):
        return _F.relu(self)

    def pow(self, exponent):
        return _F.pow(self, exponent)

    def clip(self, min=None, max=None):
        return _F.clip(self, min, max)

    clamp = clip

    def maximum(self, other):
        return _F.maximum(self, other)

    def minimum(self, other):
        return _F.minimum(self, other)

    def sum(self, axis=None, keepdims=False):
        return _F.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _F.mean(self, axis, keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _F.var(self, axis, ddof, keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _F.std(self, axis, ddof, keepdims)

    def max(self, axis=None, keepdims=False):
        return _F.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _F.min(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return _F.prod(self, axis, keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return _F.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _F.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _F.argmin(self, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return _F.any(self, axis, keepdims)

    def all(self, axis=None, keepdims=False):
        return _F.all(self, axis, keepdims)

    def softmax(self, axis=-1):
        return _F.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _F.log_softmax(self, axis)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _F.reshape(self, shape)

    view = reshape

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _F.permute(self, axes)

    def transpose(self, *dims):
        """``transpose(dim0, dim1)`` swaps two axes (as in PyTorch);
        ``transpose()`` reverses all of them (as in NumPy)."""
        if not dims:
            return self.T
        if len(dims) != 2:
            raise ShapeError(
                f"transpose: takes two axes to swap (got {len(dims)}); use "
                "permute(...) for a general permutation")
        return _F.swapaxes(self, dims[0], dims[1])

    def swapaxes(self, axis1, axis2):
        return _F.swapaxes(self, axis1, axis2)

    def flatten(self, start_axis=0, end_axis=-1):
        return _F.flatten(self, start_axis, end_axis)

    def squeeze(self, axis=None):
        return _F.squeeze(self, axis)

    def expand_dims(self, axis):
        return _F.expand_dims(self, axis)

    unsqueeze = expand_dims

    def broadcast_to(self, shape):
        return _F.broadcast_to(self, tuple(shape))

    def expand(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _F.broadcast_to(self, shape)

    def flip(self, axis=None):
        return _F.flip(self, axis)

    def matmul(self, other):
        return _F.matmul(self, other)


def _wrap(data):
    """A new Tensor around ``data`` (an array, or a NumPy scalar that an op
    returned for a 0-d result), without copying or checking."""
    if type(data) is not np.ndarray and not (
            _backend._cupy is not None and type(data) is _backend._cupy.ndarray):
        data = _backend.get_array_module(data).asarray(data)
    t = _new_tensor(Tensor)
    t.data = data
    t.requires_grad = False
    t.grad = None
    t._node = None
    t._version = 0
    t._tangents = None
    t._hooks = None
    return t


_new_tensor = object.__new__

# Imported last: both modules use Tensor at call time (a deliberate cycle).
from . import autodiff as _ad  # noqa: E402
from . import ops as _F  # noqa: E402

_ZERO = _ad.ZERO

