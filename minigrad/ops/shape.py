"""Shape ops: reshape, permute, broadcast, index, concatenate, pad, flip.

These ops move values around without changing them, so every one of them
is linear: its jvp is the same op applied to the tangent, and its vjp is the
op that moves values back (reshape ↔ reshape, broadcast ↔ sum, index ↔
scatter-add, concatenate ↔ slice, pad ↔ crop).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend as _backend
from ..autodiff import ZERO, Op, apply
from ..backend import get_array_module
from ..errors import ArgumentError, DTypeError, IndexingError, ShapeError
from ..tensor import Tensor
from ._util import const, normalize_axes, normalize_axis, tensor_args


class Reshape(Op):
    """y = x with a new shape.   vjp: ḡ reshaped back.   jvp: ẋ reshaped."""

    name = "reshape"
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def vjp(self, g):
        return reshape(g, self.in_shape)

    def jvp(self, dx):
        return reshape(dx, self.shape)


class Alias(Op):
    """y = x as a new Tensor over the same array (no copy).

    Gives a tensor that is part of a graph a second identity, e.g. to attach
    a forward-mode tangent without changing the original.   vjp: ḡ.   jvp: ẋ."""

    name = "alias"
    saves_inputs = False

    def forward(self, x):
        return x

    def vjp(self, g):
        return g

    def jvp(self, dx):
        return dx


class Permute(Op):
    """y = x with axes reordered: y.shape[i] = x.shape[axes[i]].

    vjp: ḡ permuted by the inverse permutation.   jvp: ẋ permuted."""

    name = "permute"
    saves_inputs = False

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return get_array_module(x).transpose(x, self.axes)

    def vjp(self, g):
        return permute(g, tuple(int(i) for i in np.argsort(self.axes)))

    def jvp(self, dx):
        return permute(dx, self.axes)


class BroadcastTo(Op):
    """y = x repeated along broadcast axes.   vjp: ḡ summed back (sum_to).
    jvp: ẋ broadcast."""

    name = "broadcast_to"
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return get_array_module(x).broadcast_to(x, self.shape)

    def vjp(self, g):
        return sum_to(g, self.in_shape)

    def jvp(self, dx):
        return broadcast_to(dx, self.shape)


class SumTo(Op):
    """y = x summed over the axes that broadcasting added or stretched, so
    that y.shape == shape. The adjoint of broadcast_to: it is how the engine
    undoes broadcasting.   vjp: ḡ broadcast back.   jvp: sum_to(ẋ)."""

    name = "sum_to"
    saves_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(self.shape) if s == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        return y.reshape(self.shape)

    def vjp(self, g):
        return broadcast_to(g, self.in_shape)

    def jvp(self, dx):
        return sum_to(dx, self.shape)


class GetItem(Op):
    """y = x[index] (basic slicing or integer / boolean advanced indexing).

    vjp: a zero tensor of x's shape with ḡ added at ``index`` (scatter-add,
    so an element picked twice gets both gradients).   jvp: ẋ[index]."""

    name = "getitem"
    saves_inputs = False

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x[self.index]
        except IndexError as exc:
            raise IndexingError(f"getitem: {exc} (tensor shape {x.shape})") from None

    def vjp(self, g):
        return scatter_add(g, self.in_shape, self.index)

    def jvp(self, dx):
        return apply(GetItem(self.index), dx)


class ScatterAdd(Op):
    """y = zeros(shape) with the values v added at ``index`` (repeated
    indices accumulate). The adjoint of getitem.
    vjp: ḡ[index].   jvp: scatter_add(v̇)."""

    name = "scatter_add"
    saves_inputs = False

    def __init__(self, shape, index):
        self.shape = shape
        self.index = index

    def forward(self, v):
        xp = get_array_module(v)
        out = xp.zeros(self.shape, dtype=v.dtype)
        if _is_basic(self.index):
            out[self.index] = v   # basic indexing never repeats an element
        else:
            _backend.scatter_add(out, self.index, v)
        return out

    def vjp(self, g):
        return apply(GetItem(self.index), g)

    def jvp(self, dv):
        return scatter_add(dv, self.shape, self.index)


class Concatenate(Op):
    """y = [x₁, x₂, ...] joined along ``axis``.
    vjp: ḡ cut back into the pieces.   jvp: the tangents joined."""

    name = "concatenate"
    saves_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.shapes = [x.shape for x in xs]
        self.dtypes = [x.dtype for x in xs]
        return get_array_module(*xs).concatenate(xs, axis=self.axis)

    def vjp(self, g):
        grads = []
        start = 0
        for shape in self.shapes:
            stop = start + shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, stop),)
            grads.append(apply(GetItem(index), g))
            start = stop
        return tuple(grads)

    def jvp(self, *dxs):
        xp = get_array_module(self.output.data)
        full = [const(xp.zeros(s, dtype=d)) if t is ZERO else t
                for t, s, d in zip(dxs, self.shapes, self.dtypes)]
        return concatenate(full, self.axis)


class Pad(Op):
    """y = x surrounded by ``value`` (pad_width[i] = (before, after) on axis i).
    vjp: ḡ cropped back.   jvp: ẋ padded with zeros."""

    name = "pad"
    saves_inputs = False

    def __init__(self, pad_width, value):
        self.pad_width = pad_width
        self.value = value

    def forward(self, x):
        self.in_shape = x.shape
        return get_array_module(x).pad(x, self.pad_width, mode="constant",
                                       constant_values=self.value)

    def vjp(self, g):
        index = tuple(slice(b, b + s) for (b, _), s in zip(self.pad_width, self.in_shape))
        return apply(GetItem(index), g)

    def jvp(self, dx):
        return apply(Pad(self.pad_width, 0), dx)


class Flip(Op):
    """y = x reversed along ``axes``.   vjp: ḡ flipped.   jvp: ẋ flipped."""

    name = "flip"
    saves_inputs = False

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return get_array_module(x).flip(x, axis=self.axes)

    def vjp(self, g):
        return apply(Flip(self.axes), g)

    def jvp(self, dx):
        return apply(Flip(self.axes), dx)


# ==========================================================================
# Index handling
# ==========================================================================


def _is_basic(index) -> bool:
    """True when ``index`` uses only ints, slices, None and Ellipsis."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items)


def _index_arrays(index):
    """Replace Tensors and lists inside an index by arrays, and check kinds."""
    if isinstance(index, tuple):
        return tuple(_index_item(i) for i in index)
    return _index_item(index)


def _index_item(i):
    if isinstance(i, Tensor):
        i = i.data
    elif isinstance(i, list):
        i = np.asarray(i)
        if i.size == 0:
            i = i.astype(np.int64)
    if isinstance(i, bool):
        return i
    if hasattr(i, "dtype") and hasattr(i, "shape"):
        if i.dtype.kind not in "biu":
            raise IndexingError(f"getitem: index arrays must be integer or boolean, "
                                f"got dtype {i.dtype}")
    elif not (isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis):
        raise IndexingError(f"getitem: unsupported index of type {type(i).__name__}")
    return i


def _index_to_backend(index, xp):
    """Move index arrays to the data's backend (NumPy index into CuPy data)."""
    if xp is np:
        return index
    conv = lambda i: xp.asarray(i) if isinstance(i, np.ndarray) else i  # noqa: E731
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


# ==========================================================================
# The functions users call
# ==========================================================================


def reshape(x, shape):
    """``x`` with a new shape (one entry may be -1)."""
    tensor_args("reshape", x=x)
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    if shape == x.data.shape:
        return x
    n_unknown = shape.count(-1)
    if n_unknown > 1 or any(s < -1 for s in shape):
        raise ShapeError(f"reshape: invalid target shape {shape} (at most one -1, "
                         "no other negative sizes)")
    known = math.prod(s for s in shape if s != -1)
    if n_unknown:
        if known == 0 or x.size % known:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into {shape}")
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    elif known != x.size:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into {shape} ({known} elements)")
    return apply(Reshape(shape), x)


def alias(x):
    """A new Tensor over ``x``'s data, connected to ``x`` in the graph."""
    tensor_args("alias", x=x)
    return apply(Alias(), x)


def permute(x, axes):
    """Reorder the axes of ``x``: the result's axis i is ``x``'s axis ``axes[i]``."""
    tensor_args("permute", x=x)
    axes = tuple(axes)
    norm = tuple(normalize_axis(a, x.ndim, "permute", x.shape) for a in axes)
    if sorted(norm) != list(range(x.ndim)):
        raise ShapeError(f"permute: {axes} is not a permutation of the {x.ndim} axes "
                         f"of a tensor of shape {x.shape}")
    if norm == tuple(range(x.ndim)):
        return x
    return apply(Permute(norm), x)


def swapaxes(x, axis1, axis2):
    """``x`` with two axes exchanged."""
    tensor_args("swapaxes", x=x)
    a = normalize_axis(axis1, x.ndim, "swapaxes", x.shape)
    b = normalize_axis(axis2, x.ndim, "swapaxes", x.shape)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, axes)


def transpose(x, dim0=None, dim1=None):
    """Swap two axes (PyTorch's ``transpose(x, dim0, dim1)``); with no axes,
    reverse all of them (NumPy's ``transpose(x)``)."""
    tensor_args("transpose", x=x)
    if dim0 is None and dim1 is None:
        return permute(x, tuple(range(x.ndim - 1, -1, -1)))
    if dim0 is None or dim1 is None:
        raise ShapeError("transpose: give both axes to swap, or neither to reverse all")
    return swapaxes(x, dim0, dim1)


def broadcast_to(x, shape):
    """``x`` repeated to ``shape`` by the broadcasting rules."""
    tensor_args("broadcast_to", x=x)
    shape = tuple(int(s) for s in shape)
    if shape == x.data.shape:
        return x
    ok = len(shape) >= x.ndim and all(
        s == t or s == 1 for s, t in zip(x.shape[::-1], shape[::-1]))
    if not ok:
        raise ShapeError(f"broadcast_to: cannot broadcast a tensor of shape {x.shape} "
                         f"to shape {shape}")
    return apply(BroadcastTo(shape), x)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the reverse of broadcasting to x's shape)."""
    tensor_args("sum_to", x=x)
    shape = tuple(int(s) for s in shape)
    if shape == x.data.shape:
        return x
    ok = len(shape) <= x.ndim and all(
        s == t or s == 1 for s, t in zip(shape[::-1], x.shape[::-1]))
    if not ok:
        raise ShapeError(f"sum_to: a tensor of shape {x.shape} cannot be summed to "
                         f"shape {shape} (it is not broadcastable to {x.shape})")
    return apply(SumTo(shape), x)


def expand_dims(x, axis):
    """Insert a size-1 axis at position ``axis``."""
    tensor_args("expand_dims", x=x)
    ax = normalize_axis(axis, x.ndim + 1, "expand_dims", x.shape)
    shape = x.shape[:ax] + (1,) + x.shape[ax:]
    return apply(Reshape(shape), x)


unsqueeze = expand_dims


def squeeze(x, axis=None):
    """Remove size-1 axes (all of them, or the given ones, which must have size 1)."""
    tensor_args("squeeze", x=x)
    if axis is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze", x.shape)
        for a in axes:
            if x.shape[a] != 1:
                raise ShapeError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 "
                                 f"(tensor shape {x.shape})")
    shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return reshape(x, shape)


def flatten(x, start_axis=0, end_axis=-1):
    """Merge axes ``start_axis`` ... ``end_axis`` into one."""
    tensor_args("flatten", x=x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_axis(start_axis, x.ndim, "flatten", x.shape)
    e = normalize_axis(end_axis, x.ndim, "flatten", x.shape)
    if s > e:
        raise ShapeError(f"flatten: start_axis ({start_axis}) comes after end_axis "
                         f"({end_axis}) for a tensor of shape {x.shape}")
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return reshape(x, shape)


def getitem(x, index):
    """``x[index]``: ints, slices, None, Ellipsis, and integer or boolean
    index arrays (Tensors, arrays or lists)."""
    tensor_args("getitem", x=x)
    index = _index_to_backend(_index_arrays(index), get_array_module(x.data))
    return apply(GetItem(index), x)


def scatter_add(values, shape, index):
    """A zero tensor of ``shape`` with ``values`` added at ``index`` (repeated
    positions accumulate): the adjoint of ``getitem``."""
    tensor_args("scatter_add", values=values)
    index = _index_to_backend(_index_arrays(index), get_array_module(values.data))
    return apply(ScatterAdd(tuple(shape), index), values)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("concatenate: needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"concatenate: item {i} is a {type(t).__name__}, not a Tensor")
    first = tensors[0]
    if first.ndim == 0:
        raise ShapeError("concatenate: 0-d tensors cannot be concatenated; use stack")
    ax = normalize_axis(axis, first.ndim, "concatenate", first.shape)
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or any(
                a != b for j, (a, b) in enumerate(zip(t.shape, first.shape)) if j != ax):
            raise ShapeError(
                f"concatenate: tensor {i} has shape {t.shape}, which does not match "
                f"tensor 0's shape {first.shape} except along axis {ax}")
    dt = first.data.dtype
    for t in tensors[1:]:
        if t.data.dtype != dt:
            dt = np.promote_types(dt, t.data.dtype)
    tensors = [t.astype(dt) for t in tensors]
    return apply(Concatenate(ax), *tensors)


cat = concatenate


def stack(tensors, axis=0):
    """Join tensors of the same shape along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"stack: item {i} is a {type(t).__name__}, not a Tensor")
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: tensor {i} has shape {t.shape}, tensor 0 has "
                             f"shape {tensors[0].shape}; all must match")
    ax = normalize_axis(axis, tensors[0].ndim + 1, "stack", tensors[0].shape)
    return concatenate([expand_dims(t, ax) for t in tensors], ax)


def split(x, indices_or_sections, axis=0):
    """Split ``x`` along ``axis`` into equal sections (an int) or at the
    given indices (a list), as ``numpy.split``. Returns a list of tensors."""
    tensor_args("split", x=x)
    ax = normalize_axis(axis, x.ndim, "split", x.shape)
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ShapeError(f"split: axis {ax} of size {n} cannot be split into "
                             f"{k} equal sections")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        index = (slice(None),) * ax + (slice(start, stop),)
        pieces.append(apply(GetItem(index), x))
    return pieces


def pad(x, pad_width, value=0.0):
    """Pad with a constant. ``pad_width`` as in ``numpy.pad``: an int, a
    (before, after) pair for every axis, or one pair per axis."""
    tensor_args("pad", x=x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2)) \
        if np.ndim(pad_width) <= 1 else np.asarray(pad_width, dtype=np.int64)
    if pw.shape != (x.ndim, 2):
        raise ShapeError(f"pad: pad_width must give (before, after) for each of the "
                         f"{x.ndim} axes, got shape {pw.shape}")
    if (pw < 0).any():
        raise ArgumentError(f"pad: pad widths must be non-negative, got {pw.tolist()}")
    pw = tuple((int(b), int(a)) for b, a in pw)
    if x.data.dtype.kind != "f" and isinstance(value, float) and not float(value).is_integer():
        raise DTypeError(f"pad: cannot pad an integer tensor with {value}")
    return apply(Pad(pw, value), x)


def flip(x, axis=None):
    """Reverse the order of elements along ``axis`` (all axes if None)."""
    tensor_args("flip", x=x)
    axes = normalize_axes(axis, x.ndim, "flip", x.shape)
    return apply(Flip(axes), x)
