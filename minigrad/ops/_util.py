"""Small helpers shared by the op families: turning Python numbers into
tensors with the right dtype, checking axes, constant tensors."""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..backend import get_array_module
from ..errors import AxisError, DTypeError
from ..tensor import Tensor


def const(array) -> Tensor:
    """Wrap an array as a Tensor that is a constant (no graph, no tangent)."""
    return Tensor._make(array)


def _scalar_dtype(value, like_dtype):
    """dtype of a Python scalar combined with a tensor of ``like_dtype``
    (as in PyTorch: a Python number never widens a tensor's float dtype)."""
    kind = np.dtype(like_dtype).kind
    if isinstance(value, (bool, np.bool_)):
        return like_dtype
    if isinstance(value, (int, np.integer)):
        return like_dtype if kind in "iuf" else np.dtype(np.int64)
    if isinstance(value, (float, np.floating)):
        return like_dtype if kind == "f" else _backend.get_default_dtype()
    raise DTypeError(f"cannot combine a {type(value).__name__} with a tensor")


def as_tensor(value, like: Tensor, op: str) -> Tensor:
    """``value`` as a Tensor on ``like``'s backend; Python numbers take
    ``like``'s dtype (promoted to float when needed)."""
    if isinstance(value, Tensor):
        return value
    xp = get_array_module(like.data)
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return Tensor._make(xp.asarray(value, dtype=_scalar_dtype(value, like.data.dtype)))
    try:
        return Tensor(value, backend=like.backend)
    except Exception as exc:
        raise TypeError(f"{op}: cannot use a {type(value).__name__} as an operand ({exc})") from None


def result_dtype(a, b):
    """Result dtype of a binary op on two dtypes (PyTorch-like: an integer
    tensor combined with a float tensor takes the float's dtype)."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    fa, fb = a.kind == "f", b.kind == "f"
    if fa and not fb:
        return a
    if fb and not fa:
        return b
    return np.promote_types(a, b)


def binary_args(a, b, op: str):
    """Two operands as Tensors of one dtype (casting the narrower one with a
    differentiable cast)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.dtype is b.data.dtype:
        return a, b   # the common case, kept fast
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected at least one Tensor operand, got "
                            f"{type(a).__name__} and {type(b).__name__}")
        a = as_tensor(a, b, op)
    elif not isinstance(b, Tensor):
        b = as_tensor(b, a, op)
    da, db = a.data.dtype, b.data.dtype
    if da != db:
        dt = result_dtype(da, db)
        # a boolean operand needs no cast: NumPy computes float · bool in the
        # float's dtype directly (a mask multiplies without a copy)
        if da != dt and da != np.bool_:
            a = a.astype(dt)
        if db != dt and db != np.bool_:
            b = b.astype(dt)
    return a, b


def normalize_axis(axis: int, ndim: int, op: str, shape=None) -> int:
    """One axis in ``[-ndim, ndim)`` as a non-negative int. ``shape`` (the
    tensor's shape) is named in the error; ``ndim`` may exceed its length
    where the axis indexes a result with more axes (``expand_dims``, ``stack``)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise AxisError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise AxisError(f"{op}: axis {axis} is out of range for {_describe(ndim, shape)}")
    return int(axis) % ndim if ndim else 0


def _describe(ndim, shape):
    """'a tensor of shape (3, 4) (2 dimensions; valid axes: -2 to 1)'."""
    if shape is None:
        what = f"a tensor with {ndim} dimension{'s' if ndim != 1 else ''}"
        return f"{what} (valid axes: {-ndim} to {ndim - 1})" if ndim else "a 0-d tensor"
    shape = tuple(shape)
    n = len(shape)
    what = f"a tensor of shape {shape} ({n} dimension{'s' if n != 1 else ''}"
    if not ndim:
        return what + "; it has no axes)"
    return what + f"; valid axes: {-ndim} to {ndim - 1})"


def normalize_axes(axis, ndim: int, op: str, shape=None):
    """``None`` (all axes), an int or a tuple of ints, as a sorted tuple of
    distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = tuple(normalize_axis(a, ndim, op, shape) for a in axis)
        if len(set(axes)) != len(axes):
            raise AxisError(f"{op}: repeated axis in {tuple(axis)}")
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim, op, shape),)


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (the keepdims shape)."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def tensor_args(op: str, **named):
    """Check that every named argument is a Tensor; a clear TypeError if not."""
    for name, value in named.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")


__all__ = ["const", "as_tensor", "binary_args", "result_dtype",
           "normalize_axis", "normalize_axes", "kept_shape", "tensor_args"]
