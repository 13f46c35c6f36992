"""Reductions over axes: sum, mean, var, std, max, min, prod, logsumexp.

Every reduction takes ``axis`` (None = all axes, an int, or a tuple) and
``keepdims``. In a vjp the output gradient ḡ is first reshaped to the
"kept" shape (reduced axes of size 1) so it broadcasts against the input.

Ties in ``max``/``min``: the gradient is split evenly among all elements
that attain the extreme value (as PyTorch's ``amax``), so the vjp is the
average of the one-sided choices and the jvp is the mean of their tangents.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import backend as _backend
from ..autodiff import Op, apply
from ..backend import get_array_module
from ..errors import ShapeError
from ._util import const, kept_shape, normalize_axes, tensor_args
from .elementwise import exp, sqrt, where
from .shape import broadcast_to, permute, reshape


class _Reduction(Op):
    """Shared bookkeeping: which axes, the input shape, the kept shape."""

    def __init__(self, axes, keepdims):
        self.axes = axes
        self.keepdims = keepdims

    def _setup(self, x):
        self.in_shape = x.shape
        self.kept = kept_shape(x.shape, self.axes)
        self.count = math.prod(x.shape[a] for a in self.axes)

    def expand(self, g):
        """ḡ reshaped to the kept shape and broadcast to the input shape."""
        return broadcast_to(reshape(g, self.kept), self.in_shape)

    def reduce(self, t, fn):
        return fn(t, self.axes, self.keepdims)


class Sum(_Reduction):
    """y = Σᵢ xᵢ.   vjp: ḡ broadcast back.   jvp: Σᵢ ẋᵢ."""

    name = "sum"
    saves_inputs = False

    def forward(self, x):
        self._setup(x)
        return get_array_module(x).sum(x, axis=self.axes, keepdims=self.keepdims)

    def vjp(self, g):
        return self.expand(g)

    def jvp(self, dx):
        return sum(dx, self.axes, self.keepdims)


class Mean(_Reduction):
    """y = (1/n)Σᵢ xᵢ.   vjp: ḡ/n broadcast back.   jvp: mean of ẋ."""

    name = "mean"
    saves_inputs = False

    def forward(self, x):
        self._setup(x)
        return get_array_module(x).mean(x, axis=self.axes, keepdims=self.keepdims)

    def vjp(self, g):
        return self.expand(g) / self.count

    def jvp(self, dx):
        return mean(dx, self.axes, self.keepdims)


class Var(_Reduction):
    """y = Σᵢ (xᵢ − x̄)² / (n − ddof).

    vjp: ḡ·2(x − x̄)/(n − ddof).   jvp: Σᵢ 2(xᵢ − x̄)ẋᵢ/(n − ddof).
    (The x̄ term drops out because Σᵢ (xᵢ − x̄) = 0.)"""

    name = "var"

    def __init__(self, axes, ddof, keepdims):
        super().__init__(axes, keepdims)
        self.ddof = ddof

    def forward(self, x):
        self._setup(x)
        return get_array_module(x).var(x, axis=self.axes, ddof=self.ddof,
                                       keepdims=self.keepdims)

    def _scale(self):
        dof = self.count - self.ddof
        return 2 / dof if dof > 0 else math.inf

    def _centered(self):
        (x,) = self.inputs
        return x - mean(x, self.axes, keepdims=True)

    def vjp(self, g):
        return self.expand(g) * self._centered() * self._scale()

    def jvp(self, dx):
        return sum(self._centered() * dx, self.axes, self.keepdims) * self._scale()


class Max(_Reduction):
    """y = maxᵢ xᵢ.   vjp: ḡ·w.   jvp: Σᵢ wᵢẋᵢ, with w = [x = y] / #ties."""

    name = "max"
    saves_inputs = False
    pick = "max"

    def forward(self, x):
        self._setup(x)
        xp = get_array_module(x)
        y = getattr(xp, self.pick)(x, axis=self.axes, keepdims=True)
        self.mask = x == y                                         # [x = y]
        self.ties = self.mask.sum(axis=self.axes, keepdims=True).astype(x.dtype)  # #ties >= 1
        self.out_shape = y.shape if self.keepdims else tuple(
            s for i, s in enumerate(x.shape) if i not in self.axes)
        return y.reshape(self.out_shape)

    # w = [x = y] / #ties is applied in two steps, the division on the reduced shape
    def vjp(self, g):
        return reshape(g, self.kept) / const(self.ties) * const(self.mask)

    def jvp(self, dx):
        s = sum(dx * const(self.mask), self.axes, keepdims=True) / const(self.ties)
        return reshape(s, self.out_shape)


class Min(Max):
    """y = minᵢ xᵢ.   vjp: ḡ·w.   jvp: Σᵢ wᵢẋᵢ, with w = [x = y] / #ties."""

    name = "min"
    pick = "min"


class Prod(_Reduction):
    """y = Πᵢ xᵢ.   vjp: ḡ·∂y/∂xᵢ.   jvp: Σᵢ (∂y/∂xᵢ)ẋᵢ,  ∂y/∂xᵢ = Πₖ≠ᵢ xₖ.

    Where no factor is zero, ∂y/∂xᵢ = y/xᵢ. Where a reduced slice holds a
    zero, y/xᵢ is 0/0, so the partials are computed as they are defined:
    row i of the n×n matrix Mᵢₖ = (xₖ if k ≠ i else 1) multiplied out. Both
    are built from differentiable ops, so derivatives of every order are
    exact, at zeros too (the second costs O(n²) per slice, only when needed).
    """

    name = "prod"
    saves_output = True

    def forward(self, x):
        self._setup(x)
        return get_array_module(x).prod(x, axis=self.axes, keepdims=self.keepdims)

    def _partials(self):
        (x,) = self.inputs
        if not (x.data == 0).any():
            return reshape(self.output, self.kept) / x
        xp = get_array_module(x.data)
        rest = tuple(i for i in range(x.ndim) if i not in self.axes)
        order = rest + self.axes                       # reduced axes last
        xr = permute(x, order)
        batch = xr.shape[:len(rest)]
        n = self.count
        flat = reshape(xr, batch + (1, n))             # (..., 1, n)
        eye = const(xp.eye(n, dtype=bool))             # (n, n)
        m = where(eye, 1, broadcast_to(flat, batch + (n, n)))
        p = prod(m, axis=-1)                           # (..., n): Πₖ≠ᵢ xₖ
        p = reshape(p, xr.shape)
        return permute(p, tuple(int(i) for i in np.argsort(order)))

    def vjp(self, g):
        return self.expand(g) * self._partials()

    def jvp(self, dx):
        return sum(self._partials() * dx, self.axes, self.keepdims)


class LogSumExp(_Reduction):
    """y = log Σᵢ exp(xᵢ), computed as m + log Σᵢ exp(xᵢ − m), m = max x.

    vjp: ḡ·softmax(x) = ḡ·exp(x − y).   jvp: Σᵢ exp(xᵢ − y)·ẋᵢ."""

    name = "logsumexp"
    saves_output = True

    def forward(self, x):
        self._setup(x)
        xp = get_array_module(x)
        m = xp.max(x, axis=self.axes, keepdims=True) if x.size else xp.zeros(self.kept, x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        y = m + xp.log(xp.sum(xp.exp(x - m), axis=self.axes, keepdims=True))
        return y if self.keepdims else y.reshape(
            tuple(s for i, s in enumerate(x.shape) if i not in self.axes))

    def _softmax(self):
        (x,) = self.inputs
        return exp(x - reshape(self.output, self.kept))

    def vjp(self, g):
        return self.expand(g) * self._softmax()

    def jvp(self, dx):
        return sum(self._softmax() * dx, self.axes, self.keepdims)


# ==========================================================================
# The functions users call
# ==========================================================================


def _reduce(op_cls, name, x, axis, keepdims, *extra):
    tensor_args(name, x=x)
    axes = normalize_axes(axis, x.ndim, name, x.shape)
    return apply(op_cls(axes, *extra, keepdims), x)


def _float(x):
    if x.data.dtype.kind != "f":
        return x.astype(_backend.get_default_dtype())
    return x


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (None: all axes)."""
    return _reduce(Sum, "sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (None: all axes)."""
    tensor_args("mean", x=x)
    return _reduce(Mean, "mean", _float(x), axis, keepdims)


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over ``axis`` with ``n − ddof`` in the denominator
    (NumPy's convention: ``ddof=0`` by default; PyTorch's default is 1)."""
    tensor_args("var", x=x)
    return _reduce(Var, "var", _float(x), axis, keepdims, ddof)


def std(x, axis=None, ddof=0, keepdims=False):
    """Standard deviation: ``sqrt(var(x, axis, ddof))`` (its gradient is
    infinite where the variance is 0)."""
    return sqrt(var(x, axis, ddof, keepdims))


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; ties share the gradient evenly."""
    tensor_args("max", x=x)
    _check_nonempty(x, axis, "max")
    return _reduce(Max, "max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; ties share the gradient evenly."""
    tensor_args("min", x=x)
    _check_nonempty(x, axis, "min")
    return _reduce(Min, "min", x, axis, keepdims)


def _check_nonempty(x, axis, name):
    axes = normalize_axes(axis, x.ndim, name, x.shape)
    if builtins.any(x.shape[a] == 0 for a in axes) or (x.ndim == 0 and x.size == 0):
        raise ShapeError(f"{name}: cannot reduce over an empty axis (shape {x.shape}, "
                         f"axis={axis})")


def prod(x, axis=None, keepdims=False):
    """Product over ``axis``."""
    return _reduce(Prod, "prod", x, axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x) over ``axis``, computed without overflow."""
    tensor_args("logsumexp", x=x)
    return _reduce(LogSumExp, "logsumexp", _float(x), axis, keepdims)


def _index_reduction(x, axis, keepdims, name):
    tensor_args(name, x=x)
    xp = get_array_module(x.data)
    _check_nonempty(x, axis, name)
    if axis is None:
        idx = getattr(xp, name)(x.data)
        if keepdims:
            idx = idx.reshape((1,) * x.ndim)
        return const(xp.asarray(idx))
    ax = normalize_axes(axis, x.ndim, name, x.shape)
    if len(ax) != 1:
        raise ShapeError(f"{name}: axis must be a single int or None, got {axis!r}")
    return const(xp.asarray(getattr(xp, name)(x.data, axis=ax[0], keepdims=keepdims)))


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (flattened when ``axis`` is None). Not differentiable."""
    return _index_reduction(x, axis, keepdims, "argmax")


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (flattened when ``axis`` is None). Not differentiable."""
    return _index_reduction(x, axis, keepdims, "argmin")


def any(x, axis=None, keepdims=False):
    tensor_args("any", x=x)
    axes = normalize_axes(axis, x.ndim, "any", x.shape)
    return const(get_array_module(x.data).any(x.data, axis=axes, keepdims=keepdims))


def all(x, axis=None, keepdims=False):
    tensor_args("all", x=x)
    axes = normalize_axes(axis, x.ndim, "all", x.shape)
    return const(get_array_module(x.data).all(x.data, axis=axes, keepdims=keepdims))

