"""The catalogue of every op: sample inputs, and the PyTorch twin.

Each :class:`OpInfo` names one public function, gives sample inputs that
exercise it (broadcasting, size-1 and empty axes, every option), and says
how PyTorch computes the same thing. The test suite runs gradcheck and the
torch comparison over every sample of every entry, and checks that every
primitive :class:`~minigrad.autodiff.Op` appears in the graph of some
sample -- so a new op cannot ship unchecked. ``python -m minigrad
gradcheck`` prints the same catalogue as a table.

Samples are plain NumPy float64 arrays so they can be given to minigrad
(as Tensors on any backend) and to PyTorch alike. Floating arrays are the
inputs to differentiate; integer/boolean arrays and :class:`Const` values
are passed as constant tensors; anything else is passed as it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import backend as _backend
from ..tensor import Tensor


@dataclass
class Const:
    """A sample argument passed as a constant tensor (never differentiated)."""

    value: np.ndarray


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""


@dataclass
class OpInfo:
    """One public function and how to check it.

    ``fn(*args, **kwargs)`` is the minigrad function (its args as Tensors),
    ``torch_fn`` the same function in PyTorch (args as torch tensors) or
    None where PyTorch has no twin (the reason is in ``notes``).
    ``samples(rng)`` returns the :class:`Sample` list. ``eps``, ``atol`` and
    ``rtol`` override gradcheck's defaults where an op needs it (``notes``
    says why)."""

    name: str
    fn: Callable
    samples: Callable
    torch_fn: Callable | None = None
    family: str = ""
    eps: float = 1e-6
    atol: float = 1e-5
    rtol: float = 1e-4
    notes: str = ""
    torch_atol: float = 1e-9
    torch_rtol: float = 1e-7
    no_gradcheck: str = ""     # the reason, where finite differences do not apply
    identity_rtol: float = 1e-8   # <u, J v> = <J^T u, v> holds to rounding

    # -- turning samples into arguments --------------------------------------
    def minigrad_args(self, sample, backend="numpy", requires_grad=True):
        """The sample's args as minigrad values; returns (args, kwargs, the
        indices of the args to differentiate: the floating-point arrays, which
        require grad when ``requires_grad``)."""
        args, diff = [], []
        for i, a in enumerate(sample.args):
            if isinstance(a, Const):
                args.append(Tensor(np.array(a.value), backend=backend))
            elif isinstance(a, np.ndarray):
                t = Tensor(a.copy(), backend=backend)
                if a.dtype.kind == "f":
                    diff.append(i)
                    if requires_grad:
                        t.requires_grad_(True)
                args.append(t)
            else:
                args.append(a)
        kwargs = {k: Tensor(np.array(v.value if isinstance(v, Const) else v), backend=backend)
                  if isinstance(v, (Const, np.ndarray)) else v
                  for k, v in sample.kwargs.items()}
        return args, kwargs, diff

    def torch_args(self, sample):
        import torch

        args = []
        for a in sample.args:
            if isinstance(a, Const):
                args.append(torch.tensor(np.array(a.value)))
            elif isinstance(a, np.ndarray):
                args.append(torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f"))
            else:
                args.append(a)
        kwargs = {k: torch.tensor(np.array(v.value if isinstance(v, Const) else v))
                  if isinstance(v, (Const, np.ndarray)) else v
                  for k, v in sample.kwargs.items()}
        return args, kwargs


REGISTRY: dict[str, OpInfo] = {}


def register(name, fn, samples, torch_fn=None, **options):
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is registered twice")
    REGISTRY[name] = OpInfo(name, fn, samples, torch_fn, **options)
    return REGISTRY[name]


def all_opinfos():
    return list(REGISTRY.values())


# ==========================================================================
# Sample helpers
# ==========================================================================


def _u(rng, shape, low=-1.0, high=1.0):
    return np.asarray(rng.uniform(low, high, size=shape))


def _pos(rng, shape, low=0.5, high=2.0):
    return np.asarray(rng.uniform(low, high, size=shape))


def _away(rng, shape, point=0.0, gap=0.15, scale=1.0):
    """Values at least ``gap`` away from ``point`` (for kinks)."""
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return np.asarray(point + sign * rng.uniform(gap, gap + scale, size=shape))


def _distinct(rng, shape):
    """Values that are pairwise well separated (no near-ties for max/min)."""
    n = math.prod(shape)
    if n == 0:
        return np.zeros(shape)
    vals = rng.permutation(n).astype(np.float64) * 0.2 + rng.uniform(0, 0.05, n)
    return (vals - vals.mean()).reshape(shape)


def _size1_pair(rng):
    """maximum/minimum operands with size-1 axes on both sides, (3, 1) and
    (1, 4), at least 0.3 apart everywhere (no ties after broadcasting)."""
    a = np.array([[0.0], [1.0], [2.0]]) + rng.uniform(0, 0.1, (3, 1))
    b = np.array([[0.5, 1.5, 2.5, -0.5]]) + rng.uniform(0, 0.1, (1, 4))
    return Sample((a, b), {}, "(3, 1) with (1, 4): size-1 axes")


def _softmax_edge_samples(rng):
    return [Sample((_u(rng, (3, 1)),), {"axis": -1}, "over a size-1 axis"),
            Sample((_u(rng, (0, 4)),), {"axis": -1}, "empty batch"),
            Sample((_u(rng, (3, 0)),), {"axis": -1}, "over an empty axis")]


def _empty_pair(rng):
    return Sample((_u(rng, (0, 3)), _u(rng, (3,))), {}, "(0, 3) with (3,): empty axis")


BROADCAST_SHAPES = [
    ((3, 4), (3, 4), "same shape"),
    ((3, 4), (4,), "row broadcast"),
    ((2, 1, 3), (4, 1), "both broadcast"),
    ((), (3,), "scalar tensor"),
    ((1,), (2, 3), "size-1 axis"),
    ((0, 3), (3,), "empty axis"),
]


def _unary_samples(gen, shapes=((3, 4), (5,), (), (2, 1, 3), (0, 2))):
    def samples(rng):
        return [Sample((gen(rng, s),), {}, f"shape {s}") for s in shapes]
    return samples


def _binary_samples(gen_a, gen_b):
    def samples(rng):
        return [Sample((gen_a(rng, sa), gen_b(rng, sb)), {}, f"{sa} with {sb}: {d}")
                for sa, sb, d in BROADCAST_SHAPES]
    return samples


def _torch():
    import torch
    return torch


def _F():
    import torch.nn.functional as F
    return F


# ==========================================================================
# The catalogue
# ==========================================================================


def _build():  # noqa: C901 - a long table, read from top to bottom
    from . import conv as C
    from . import elementwise as E
    from . import linalg as L
    from . import nn as N
    from . import reduction as R
    from . import shape as S

    T = _torch

    # -- elementwise, unary ---------------------------------------------------
    unary = [
        ("neg", E.neg, _u, lambda x: -x),
        ("exp", E.exp, _u, lambda x: T().exp(x)),
        ("log", E.log, _pos, lambda x: T().log(x)),
        ("log1p", E.log1p, lambda r, s: _u(r, s, -0.5, 2.0), lambda x: T().log1p(x)),
        ("sqrt", E.sqrt, _pos, lambda x: T().sqrt(x)),
        ("abs", E.abs, _away, lambda x: T().abs(x)),
        ("sign", E.sign, _away, lambda x: T().sign(x)),
        ("sin", E.sin, lambda r, s: _u(r, s, -3, 3), lambda x: T().sin(x)),
        ("cos", E.cos, lambda r, s: _u(r, s, -3, 3), lambda x: T().cos(x)),
        ("erf", E.erf, lambda r, s: _u(r, s, -2, 2), lambda x: T().erf(x)),
        ("tanh", E.tanh, lambda r, s: _u(r, s, -2, 2), lambda x: T().tanh(x)),
        ("sigmoid", E.sigmoid, lambda r, s: _u(r, s, -4, 4), lambda x: T().sigmoid(x)),
        ("relu", E.relu, _away, lambda x: T().relu(x)),
    ]
    for name, fn, gen, tfn in unary:
        register(name, fn, _unary_samples(gen), tfn, family="elementwise")

    register("leaky_relu", E.leaky_relu,
             lambda r: [Sample((_away(r, (3, 4)),), {"negative_slope": 0.2}, "slope 0.2"),
                        Sample((_away(r, (5,)),), {}, "default slope"),
                        Sample((_away(r, (2, 1, 3)),), {"negative_slope": 0.3}, "size-1 axis"),
                        Sample((_away(r, ()),), {}, "0-d"),
                        Sample((_away(r, (0, 3)),), {}, "empty axis")],
             lambda x, negative_slope=0.01: _F().leaky_relu(x, negative_slope),
             family="elementwise")
    register("elu", E.elu,
             lambda r: [Sample((_away(r, (3, 4)),), {"alpha": 0.7}, "alpha 0.7"),
                        Sample((_away(r, (5,)),), {}, "default alpha"),
                        Sample((_away(r, (2, 1, 3)),), {}, "size-1 axis"),
                        Sample((_away(r, ()),), {"alpha": 0.5}, "0-d"),
                        Sample((_away(r, (0, 3)),), {}, "empty axis")],
             lambda x, alpha=1.0: _F().elu(x, alpha), family="elementwise")
    register("gelu", E.gelu,
             lambda r: [Sample((_u(r, (3, 4), -3, 3),), {}, "exact (erf)"),
                        Sample((_u(r, (3, 4), -3, 3),), {"approximate": "tanh"}, "tanh"),
                        Sample((_u(r, (2, 1, 3), -3, 3),), {}, "size-1 axis"),
                        Sample((_u(r, (), -3, 3),), {"approximate": "tanh"}, "0-d, tanh"),
                        Sample((_u(r, (0, 3)),), {}, "empty axis")],
             lambda x, approximate="none": _F().gelu(x, approximate=approximate),
             family="elementwise")
    register("softplus", E.softplus,
             lambda r: [Sample((_u(r, (3, 4), -3, 3),), {}, "default"),
                        Sample((_u(r, (3, 4), -3, 3),), {"beta": 2.0, "threshold": 4.0},
                               "beta 2, threshold 4 (some entries above it)"),
                        Sample((_u(r, (2, 1, 3), -3, 3),), {}, "size-1 axis"),
                        Sample((_u(r, (), -3, 3),), {}, "0-d"),
                        Sample((_u(r, (0, 3)),), {"beta": 2.0}, "empty axis")],
             lambda x, beta=1.0, threshold=20.0: _F().softplus(x, beta, threshold),
             family="elementwise")
    register("clip", E.clip,
             lambda r: [Sample((_away(r, (3, 4), 0.3, 0.05),), {"min": -0.3, "max": 0.3}),
                        Sample((_away(r, (5,), -0.2, 0.05),), {"min": -0.2}, "min only"),
                        Sample((_away(r, (5,), 0.1, 0.05),), {"max": 0.1}, "max only"),
                        Sample((_away(r, (2, 1, 3), 0.3, 0.05),), {"min": -0.3, "max": 0.3},
                               "size-1 axis"),
                        Sample((_away(r, (), 0.1, 0.05),), {"max": 0.1}, "0-d"),
                        Sample((_away(r, (0, 3), 0.1, 0.05),), {"min": -0.1, "max": 0.1},
                               "empty axis")],
             lambda x, min=None, max=None: T().clamp(x, min, max), family="elementwise")
    register("pow_scalar", E.pow,
             lambda r: [Sample((_pos(r, (3, 4)), p), {}, f"p = {p}")
                        for p in (2, 3, 0.5, -1, -1.5, 0, 1)]
             + [Sample((_u(r, (5,)), 2), {}, "p = 2, negative base"),
                Sample((_away(r, (5,)), 3), {}, "p = 3, negative base"),
                Sample((_pos(r, ()), 1.5), {}, "0-d"),
                Sample((_pos(r, (2, 1, 3)), -0.5), {}, "size-1 axis"),
                Sample((_pos(r, (0, 3)), 2), {}, "empty axis")],
             lambda x, p: T().pow(x, p), family="elementwise")
    register("astype", lambda x: E.astype(E.astype(x, np.float32), np.float64),
             lambda r: [Sample((_u(r, (3, 4)),), {}, "float64 -> float32 -> float64"),
                        Sample((_u(r, (1, 3)),), {}, "size-1 axis"),
                        Sample((_u(r, (0, 3)),), {}, "empty axis")],
             lambda x: x.float().double(), family="elementwise", eps=1e-2,
             torch_atol=0, torch_rtol=0, identity_rtol=1e-6,
             notes="gradcheck with eps=1e-2: the float32 round trip is piecewise "
                   "constant at finer scales, but linear at this one; the two modes "
                   "agree to float32 rounding")
    register("clone", E.clone, _unary_samples(_u, ((3, 4), (), (1, 3), (0, 2))),
             lambda x: x.clone(),
             family="elementwise")

    # -- elementwise, binary ----------------------------------------------------
    register("add", E.add, _binary_samples(_u, _u), lambda a, b: a + b, family="elementwise")
    register("sub", E.sub, _binary_samples(_u, _u), lambda a, b: a - b, family="elementwise")
    register("mul", E.mul, _binary_samples(_u, _u), lambda a, b: a * b, family="elementwise")
    register("div", E.div, _binary_samples(_u, _away), lambda a, b: a / b,
             family="elementwise")
    register("pow", E.pow, _binary_samples(_pos, _u), lambda a, b: T().pow(a, b),
             family="elementwise")
    register("maximum", E.maximum,
             lambda r: [Sample((a, a + _away(r, a.shape)), {}, d)
                        for a, d in ((_u(r, (3, 4)), "same shape"), (_u(r, (5,)), "vector"))]
             + [Sample((_u(r, (3, 4)), _u(r, (4,)) + 3), {}, "broadcast, b always larger"),
                _size1_pair(r), _empty_pair(r)],
             lambda a, b: T().maximum(a, b), family="elementwise")
    register("minimum", E.minimum,
             lambda r: [Sample((a, a + _away(r, a.shape)), {}, d)
                        for a, d in ((_u(r, (3, 4)), "same shape"), (_u(r, (5,)), "vector"))]
             + [Sample((_u(r, (3, 4)), _u(r, (1, 4)) - 3), {}, "broadcast"),
                _size1_pair(r), _empty_pair(r)],
             lambda a, b: T().minimum(a, b), family="elementwise")
    register("where", E.where,
             lambda r: [Sample((r.random((3, 4)) < 0.5, _u(r, (3, 4)), _u(r, (3, 4))),
                               {}, "same shapes"),
                        Sample((r.random((3, 1)) < 0.5, _u(r, (4,)), _u(r, (3, 4))),
                               {}, "broadcast condition and operands"),
                        Sample((np.array([[True, False, True, False]]), _u(r, (3, 1)),
                                _u(r, (1, 4))), {}, "size-1 axes on all three"),
                        Sample((np.array(True), _u(r, ()), _u(r, (3,))), {},
                               "0-d condition and operand"),
                        Sample((np.zeros((0, 3), dtype=bool), _u(r, (0, 3)), _u(r, (3,))),
                               {}, "empty axis")],
             lambda c, a, b: T().where(c, a, b), family="elementwise")

    # -- reductions -----------------------------------------------------------
    def reduction_samples(gen, allow_empty=True):
        def samples(rng):
            out = [Sample((gen(rng, (3, 4, 2)),), {"axis": ax, "keepdims": kd},
                          f"axis={ax}, keepdims={kd}")
                   for ax in (None, 0, -1, (0, 2)) for kd in (False, True)]
            out.append(Sample((gen(rng, (1, 5)),), {"axis": 0}, "size-1 axis"))
            out.append(Sample((gen(rng, ()),), {}, "0-d input"))
            if allow_empty:
                out.append(Sample((gen(rng, (0, 3)),), {"axis": 0}, "empty axis"))
            # (else reducing an empty axis is invalid: a mean of nothing is 0/0, a
            # max of nothing does not exist; reducing the other axis still works)
            out.append(Sample((gen(rng, (0, 3)),), {"axis": 1}, "empty input, non-empty axis"))
            return out
        return samples

    def torch_reduce(fn_name):
        def f(x, axis=None, keepdims=False):
            torch = T()
            if axis is None:
                axis = tuple(range(x.ndim))
            if fn_name == "sum":
                return torch.sum(x, dim=axis, keepdim=keepdims)
            if fn_name == "mean":
                return torch.mean(x, dim=axis, keepdim=keepdims)
            if fn_name == "max":
                return torch.amax(x, dim=axis, keepdim=keepdims)
            if fn_name == "min":
                return torch.amin(x, dim=axis, keepdim=keepdims)
            if fn_name == "logsumexp":
                return torch.logsumexp(x, dim=axis, keepdim=keepdims)
            if fn_name == "prod":
                axes = sorted(a % max(x.ndim, 1) for a in ((axis,) if isinstance(axis, int) else axis))
                for a in reversed(axes):
                    x = torch.prod(x, dim=a, keepdim=keepdims)
                return x
            raise KeyError(fn_name)
        return f

    register("sum", R.sum, reduction_samples(_u), torch_reduce("sum"), family="reduction")
    register("mean", R.mean, reduction_samples(_u, allow_empty=False), torch_reduce("mean"),
             family="reduction")
    register("max", R.max, reduction_samples(_distinct, allow_empty=False),
             torch_reduce("max"), family="reduction")
    register("min", R.min, reduction_samples(_distinct, allow_empty=False),
             torch_reduce("min"), family="reduction")
    register("max_ties", R.max,
             lambda r: [Sample((np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),), {"axis": 1},
                               "ties share the gradient"),
                        Sample((np.array([0.5, 0.5, -1.0]),), {}, "tie over all axes")],
             torch_reduce("max"), family="reduction",
             no_gradcheck="at a tie max is not differentiable; the even split is the "
                          "convention, checked against torch.amax")
    register("min_ties", R.min,
             lambda r: [Sample((np.array([[1.0, -3.0, -3.0], [2.0, 2.0, 2.0]]),), {"axis": 1},
                               "ties share the gradient"),
                        Sample((np.array([[0.5, -1.0], [-1.0, 2.0]]),), {"axis": None,
                                                                         "keepdims": True},
                               "tie over all axes, keepdims")],
             torch_reduce("min"), family="reduction",
             no_gradcheck="at a tie min is not differentiable; the even split is the "
                          "convention, checked against torch.amin")

    def index_samples(rng):
        out = [Sample((_distinct(rng, (3, 4, 2)),), {"axis": ax, "keepdims": kd},
                      f"axis={ax}, keepdims={kd}")
               for ax in (None, 0, -1) for kd in (False, True)]
        return out + [
            Sample((np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),), {"axis": 1},
                   "ties: the first index"),
            Sample((_distinct(rng, (1, 5)),), {"axis": 0}, "size-1 axis"),
            Sample((_u(rng, ()),), {}, "0-d input"),
            # over an empty axis there is no index to return (an error in both)
            Sample((_u(rng, (0, 3)),), {"axis": 1}, "empty, reducing the non-empty axis"),
        ]

    for name, fn in (("argmax", R.argmax), ("argmin", R.argmin)):
        register(name, fn, index_samples,
                 (lambda tname: lambda x, axis=None, keepdims=False: getattr(T(), tname)(
                     x, dim=axis, keepdim=keepdims))(name),
                 family="reduction",
                 no_gradcheck=f"integer output: {name} has no derivative; its values "
                              f"(the first index at ties) are checked against torch.{name}")
    register("prod", R.prod,
             lambda r: [Sample((_pos(r, (3, 4, 2), 0.5, 1.5),), {"axis": ax, "keepdims": kd},
                               f"axis={ax}, keepdims={kd}")
                        for ax in (None, 1, (0, 2)) for kd in (False, True)]
             + [Sample((np.array([[0.0, 2.0, 3.0], [1.5, 0.0, 0.0]]),), {"axis": 1},
                       "one zero / two zeros in a row"),
                Sample((_u(r, (4,)),), {}, "signed factors"),
                Sample((_pos(r, (1, 5), 0.5, 1.5),), {"axis": 0}, "size-1 axis"),
                Sample((_pos(r, ()),), {}, "0-d input"),
                Sample((_u(r, (0, 3)),), {"axis": 0}, "empty axis: the empty product is 1"),
                Sample((_u(r, (0, 3)),), {"axis": 1}, "empty input, non-empty axis")],
             torch_reduce("prod"), family="reduction")
    register("logsumexp", R.logsumexp, reduction_samples(lambda r, s: _u(r, s, -3, 3),
                                                         allow_empty=False),
             torch_reduce("logsumexp"), family="reduction")

    def var_samples(rng, for_std=False):
        out = [Sample((_u(rng, (3, 4, 2)),), {"axis": ax, "ddof": dd, "keepdims": kd},
                      f"axis={ax}, ddof={dd}, keepdims={kd}")
               for ax in (None, 1, (0, 2)) for dd in (0, 1) for kd in (False, True)]
        out += [Sample((_u(rng, (3, 1, 4)),), {"axis": -1, "ddof": 1}, "a size-1 axis kept"),
                Sample((_u(rng, (0, 3)),), {"axis": 1},
                       "empty input, reducing the non-empty axis")]
        # Not sampled: the variance over an empty axis (0/0, NaN in torch too),
        # and with ddof=1 over a size-1 axis (n - ddof = 0, likewise).
        if not for_std:
            # the variance over a size-1 axis is 0, with gradient 0; std there is
            # √0, whose derivative is infinite (torch gives NaN): not sampled for std
            out.append(Sample((_u(rng, (1, 5)),), {"axis": 0}, "over a size-1 axis"))
        return out

    def torch_var(fn):
        def f(x, axis=None, ddof=0, keepdims=False):
            dim = tuple(range(x.ndim)) if axis is None else axis
            return fn(x, dim=dim, correction=ddof, keepdim=keepdims)
        return f

    register("var", R.var, var_samples, torch_var(lambda *a, **k: T().var(*a, **k)),
             family="reduction")
    register("std", R.std, lambda r: var_samples(r, for_std=True),
             torch_var(lambda *a, **k: T().std(*a, **k)), family="reduction")

    # -- shape ops ---------------------------------------------------------------
    register("reshape", S.reshape,
             lambda r: [Sample((_u(r, (3, 4)), (2, 6)), {}, "2-D to 2-D"),
                        Sample((_u(r, (3, 4)), (-1,)), {}, "flatten with -1"),
                        Sample((_u(r, (2, 3, 2)), (3, -1, 1)), {}, "-1 in the middle"),
                        Sample((_u(r, (1,)), ()), {}, "to 0-d"),
                        Sample((_u(r, (0, 4)), (2, 0)), {}, "empty")],
             lambda x, shape: x.reshape(shape), family="shape")
    register("alias", S.alias, _unary_samples(_u, ((3, 4), (), (1, 3), (0, 2))),
             lambda x: x.view_as(x), family="shape")
    register("permute", S.permute,
             lambda r: [Sample((_u(r, (2, 3, 4)), (2, 0, 1)), {}, "3-D"),
                        Sample((_u(r, (3, 4)), (1, 0)), {}, "matrix"),
                        Sample((_u(r, (2, 1, 3)), (-1, 0, 1)), {}, "negative axis, size-1 axis"),
                        Sample((_u(r, (0, 2, 3)), (1, 2, 0)), {}, "empty axis")],
             lambda x, axes: x.permute(*axes), family="shape")
    register("swapaxes", S.swapaxes,
             lambda r: [Sample((_u(r, (2, 3, 4)), 0, 2), {}, ""),
                        Sample((_u(r, (3, 4)), -1, -2), {}, "negative axes"),
                        Sample((_u(r, (1, 4)), 0, 1), {}, "size-1 axis"),
                        Sample((_u(r, (0, 3, 2)), 0, 2), {}, "empty axis")],
             lambda x, a, b: x.transpose(a, b), family="shape")
    register("transpose", S.transpose,
             lambda r: [Sample((_u(r, (2, 3, 4)),), {}, "reverse all axes"),
                        Sample((_u(r, (2, 3, 4)), 0, 1), {}, "swap two"),
                        Sample((_u(r, (1, 4)),), {}, "size-1 axis"),
                        Sample((_u(r, (0, 3)),), {}, "empty axis")],
             lambda x, a=None, b=None: x.permute(*reversed(range(x.ndim))) if a is None
             else x.transpose(a, b), family="shape")
    register("broadcast_to", S.broadcast_to,
             lambda r: [Sample((_u(r, (3, 1)), (2, 3, 4)), {}, ""),
                        Sample((_u(r, ()), (2, 2)), {}, "from 0-d"),
                        Sample((_u(r, (4,)), (0, 4)), {}, "to empty"),
                        Sample((_u(r, (0, 1)), (2, 0, 3)), {}, "from empty")],
             lambda x, shape: x.broadcast_to(shape), family="shape")
    register("sum_to", S.sum_to,
             lambda r: [Sample((_u(r, (2, 3, 4)), (3, 1)), {}, ""),
                        Sample((_u(r, (2, 3)), ()), {}, "to 0-d"),
                        Sample((_u(r, (2, 3)), (1, 3)), {}, "keep leading 1"),
                        Sample((_u(r, (2, 1, 3)), (1, 3)), {}, "size-1 axis"),
                        Sample((_u(r, (0, 3)), (1, 3)), {}, "sum over an empty axis: zeros")],
             lambda x, shape: _torch_sum_to(x, shape), family="shape")
    register("expand_dims", S.expand_dims,
             lambda r: [Sample((_u(r, (3, 4)), ax), {}, f"axis {ax}") for ax in (0, 2, -1)]
             + [Sample((_u(r, ()), 0), {}, "0-d input"),
                Sample((_u(r, (1, 3)), 0), {}, "size-1 axis"),
                Sample((_u(r, (0, 3)), 1), {}, "empty axis")],
             lambda x, ax: x.unsqueeze(ax), family="shape")
    register("squeeze", S.squeeze,
             lambda r: [Sample((_u(r, (3, 1, 4, 1)),), {}, "all size-1 axes"),
                        Sample((_u(r, (3, 1, 4, 1)), 1), {}, "one axis"),
                        Sample((_u(r, (1, 1)), (0, 1)), {}, "to 0-d"),
                        Sample((_u(r, (0, 1, 3)),), {}, "empty axis kept")],
             lambda x, ax=None: x.squeeze() if ax is None else x.squeeze(ax),
             family="shape")
    register("flatten", S.flatten,
             lambda r: [Sample((_u(r, (2, 3, 4)),), {}, "all"),
                        Sample((_u(r, (2, 3, 4)), 1), {}, "from axis 1"),
                        Sample((_u(r, (2, 1, 3)), 0, 1), {}, "size-1 axis"),
                        Sample((_u(r, ()),), {}, "0-d to (1,)"),
                        Sample((_u(r, (2, 0, 3)), 1), {}, "empty axis")],
             lambda x, s=0, e=-1: x.flatten(s, e), family="shape")

    def getitem_samples(rng):
        x = _u(rng, (4, 5, 3))
        return [
            Sample((x, (1,)), {}, "an int"),
            Sample((x, (slice(1, 3), slice(None), -1)), {}, "slices and a negative int"),
            Sample((x, (slice(None, None, -2),)), {}, "negative step"),
            Sample((x, (Ellipsis, None, 1)), {}, "ellipsis and new axis"),
            Sample((x, (np.array([0, 2, 2, 3]),)), {}, "integer array with repeats"),
            Sample((x, (np.array([1, 1]), slice(None), np.array([0, 2]))), {},
                   "two integer arrays around a slice"),
            Sample((x, (x[:, :, 0] > 0,)), {}, "boolean mask"),
            Sample((x, (slice(0, 0),)), {}, "empty slice"),
            Sample((_u(rng, (1, 3)), (0, np.array([2, 0]))), {}, "size-1 axis"),
            Sample((_u(rng, (0, 3)), (slice(None), 1)), {}, "empty input"),
        ]

    register("getitem", S.getitem, getitem_samples,
             _torch_getitem, family="shape")
    register("scatter_add", S.scatter_add,
             lambda r: [Sample((_u(r, (4, 3)), (5, 3), (np.array([0, 2, 2, 4]),)), {},
                               "repeated rows accumulate"),
                        Sample((_u(r, (2, 3)), (4, 3), (slice(1, 3),)), {}, "basic slice"),
                        Sample((_u(r, (1, 3)), (4, 3), (np.array([2]),)), {}, "one row"),
                        Sample((_u(r, (0, 3)), (4, 3), (np.zeros(0, dtype=np.int64),)), {},
                               "no values")],
             lambda v, shape, idx: T().zeros(shape, dtype=v.dtype).index_put(
                 tuple(T().as_tensor(i) for i in idx), v, accumulate=True)
             if isinstance(idx[0], np.ndarray) else
             _torch_slice_put(v, shape, idx), family="shape")
    register("concatenate", lambda *xs, axis=0: S.concatenate(xs, axis),
             lambda r: [Sample((_u(r, (2, 3)), _u(r, (1, 3)), _u(r, (4, 3))), {"axis": 0}),
                        Sample((_u(r, (2, 3)), _u(r, (2, 1))), {"axis": -1}, "last axis"),
                        Sample((_u(r, (0, 3)), _u(r, (2, 3))), {}, "with an empty piece")],
             lambda *xs, axis=0: T().cat(xs, dim=axis), family="shape")
    register("stack", lambda *xs, axis=0: S.stack(xs, axis),
             lambda r: [Sample((_u(r, (2, 3)), _u(r, (2, 3))), {"axis": 1}),
                        Sample((_u(r, ()), _u(r, ()), _u(r, ())), {}, "0-d pieces"),
                        Sample((_u(r, (1, 3)),), {"axis": -1}, "one piece, size-1 axis"),
                        Sample((_u(r, (0, 3)), _u(r, (0, 3))), {"axis": 1}, "empty pieces")],
             lambda *xs, axis=0: T().stack(xs, dim=axis), family="shape")
    register("split", lambda x, s, axis=0: tuple(S.split(x, s, axis)),
             lambda r: [Sample((_u(r, (6, 2)), 3), {}, "3 equal sections"),
                        Sample((_u(r, (2, 5)), [1, 3]), {"axis": 1}, "at indices"),
                        Sample((_u(r, (4, 2)), [0, 3]), {}, "an empty piece first"),
                        Sample((_u(r, (1, 3)), 1), {}, "size-1 axis, one section"),
                        Sample((_u(r, (0, 4)), 2), {"axis": 1}, "empty input")],
             lambda x, s, axis=0: T().split(
                 x, x.shape[axis] // s if isinstance(s, int) else
                 [b - a for a, b in zip([0] + list(s), list(s) + [x.shape[axis]])], dim=axis),
             family="shape")
    register("pad", S.pad,
             lambda r: [Sample((_u(r, (2, 3)), ((1, 0), (2, 1))), {}, "zeros"),
                        Sample((_u(r, (2, 3)), 1), {"value": 0.5}, "constant 0.5"),
                        Sample((_u(r, (2, 3, 2)), ((0, 0), (0, 0), (1, 2))), {}, "last axis"),
                        Sample((_u(r, (1, 3)), ((2, 1), (0, 0))), {}, "size-1 axis"),
                        Sample((_u(r, (0, 3)), ((1, 1), (0, 2))), {"value": -1.0},
                               "empty input")],
             lambda x, pw, value=0.0: _F().pad(x, _torch_pad(pw, x.ndim), value=value),
             family="shape")
    register("flip", S.flip,
             lambda r: [Sample((_u(r, (3, 4)),), {"axis": 0}),
                        Sample((_u(r, (2, 3, 2)),), {"axis": (0, 2)}, "two axes"),
                        Sample((_u(r, (3, 2)),), {}, "all axes"),
                        Sample((_u(r, (1, 4)),), {"axis": 0}, "size-1 axis"),
                        Sample((_u(r, (0, 3)),), {"axis": 1}, "empty axis")],
             lambda x, axis=None: T().flip(x, tuple(range(x.ndim)) if axis is None else
                                           ((axis,) if isinstance(axis, int) else axis)),
             family="shape")

    # -- linear algebra ----------------------------------------------------------
    register("matmul", L.matmul,
             lambda r: [Sample((_u(r, a), _u(r, b)), {}, d) for a, b, d in (
                 ((3, 4), (4, 2), "matrix @ matrix"),
                 ((4,), (4,), "vector @ vector"),
                 ((3, 4), (4,), "matrix @ vector"),
                 ((4,), (4, 2), "vector @ matrix"),
                 ((2, 3, 4), (2, 4, 5), "batched"),
                 ((2, 1, 3, 4), (3, 4, 2), "broadcast batch axes"),
                 ((3, 4), (2, 4, 2), "matrix @ batch"),
                 ((0, 4), (4, 2), "empty rows"))],
             lambda a, b: a @ b, family="linalg")
    register("outer", L.outer,
             lambda r: [Sample((_u(r, (3,)), _u(r, (4,))), {}),
                        Sample((_u(r, (1,)), _u(r, (3,))), {}, "size-1"),
                        Sample((_u(r, (0,)), _u(r, (3,))), {}, "empty")],
             lambda a, b: T().outer(a, b), family="linalg")
    register("einsum", lambda spec, *xs: L.einsum(spec, *xs),
             lambda r: [Sample((spec,) + tuple(_u(r, s) for s in shapes), {}, spec)
                        for spec, shapes in (
                            ("ij,jk->ik", ((3, 4), (4, 2))),
                            ("bij,bjk->bik", ((2, 3, 4), (2, 4, 2))),
                            ("i,i->", ((4,), (4,))),
                            ("ij->ji", ((3, 4),)),
                            ("ij->", ((3, 4),)),
                            ("ij->i", ((3, 4),)),
                            ("ij,jk", ((3, 4), (4, 2))),
                            ("...ij,...jk->...ik", ((2, 3, 4), (2, 4, 2))),
                            ("ij,j->i", ((3, 4), (4,))),
                            ("ij,jk,kl->il", ((2, 3), (3, 4), (4, 2))),
                            ("ij,kl->ijkl", ((2, 2), (2, 3))),
                            ("bi,bj->ij", ((1, 3), (4, 2))),
                            ("ij,jk->ik", ((3, 0), (0, 2))),
                            ("ij,jk->ik", ((0, 3), (3, 2))))],
             lambda spec, *xs: T().einsum(spec, *xs), family="linalg",
             notes="'bi,bj->ij' with b of size 1 and 4 exercises size-1 broadcasting")

    # -- neural-network functions ------------------------------------------------
    register("softmax", N.softmax,
             lambda r: [Sample((_u(r, (3, 4), -2, 2),), {"axis": ax}, f"axis {ax}")
                        for ax in (-1, 0)] + [Sample((_u(r, (5,)),), {}, "vector")]
             + _softmax_edge_samples(r),
             lambda x, axis=-1: T().softmax(x, dim=axis), family="nn")
    register("log_softmax", N.log_softmax,
             lambda r: [Sample((_u(r, (3, 4), -2, 2),), {"axis": ax}, f"axis {ax}")
                        for ax in (-1, 0)] + [Sample((_u(r, (2, 3, 2)),), {"axis": 1}, "3-D")]
             + _softmax_edge_samples(r),
             lambda x, axis=-1: T().log_softmax(x, dim=axis), family="nn")

    def ce_samples(rng):
        labels = np.array([0, 2, 1, 2])
        probs = rng.dirichlet(np.ones(3), size=4)
        return [
            Sample((_u(rng, (4, 3), -2, 2), labels), {}, "class indices"),
            Sample((_u(rng, (4, 3)), labels), {"reduction": "sum"}, "sum"),
            Sample((_u(rng, (4, 3)), labels), {"reduction": "none"}, "none"),
            Sample((_u(rng, (4, 3)), Const(probs)), {}, "class probabilities"),
            Sample((_u(rng, (4, 3)), labels), {"weight": Const(np.array([0.2, 1.0, 2.0]))},
                   "class weights"),
            Sample((_u(rng, (4, 3)), np.array([0, -100, 1, 2])), {}, "ignore_index"),
            Sample((_u(rng, (4, 3)), labels), {"label_smoothing": 0.1}, "label smoothing"),
            Sample((_u(rng, (4, 3)), labels), {"label_smoothing": 0.2, "weight":
                                               Const(np.array([0.5, 1.0, 2.0]))},
                   "label smoothing with weights"),
            Sample((_u(rng, (2, 3, 2)), np.array([[0, 2], [1, 1]])), {},
                   "(N, C, d) logits"),
            Sample((_u(rng, (3,)), np.array(1)), {}, "one sample, no batch axis"),
            Sample((_u(rng, (1, 3)), np.array([2])), {"label_smoothing": 0.1}, "batch of one"),
            Sample((_u(rng, (4, 1)), np.zeros(4, dtype=np.int64)), {}, "one class"),
            # an empty batch: "sum" and "none" only -- the mean over no samples
            # is 0/0 (NaN in torch too)
            Sample((_u(rng, (0, 3)), np.zeros(0, dtype=np.int64)), {"reduction": "sum"},
                   "empty batch, sum"),
            Sample((_u(rng, (0, 3)), np.zeros(0, dtype=np.int64)), {"reduction": "none"},
                   "empty batch, none"),
            Sample((_u(rng, (0, 3)), Const(np.zeros((0, 3)))), {"reduction": "sum"},
                   "empty batch, probabilities"),
        ]

    def torch_ce(x, t, weight=None, **kw):
        return _F().cross_entropy(x, t, weight=weight, **kw)

    register("cross_entropy", N.cross_entropy, ce_samples, torch_ce, family="nn")
    register("nll_loss", N.nll_loss,
             lambda r: [Sample((_u(r, (4, 3)), np.array([0, 2, 1, 1])), {}),
                        Sample((_u(r, (4, 3)), np.array([0, 2, -100, 1])),
                               {"weight": Const(np.array([1.0, 0.5, 3.0]))},
                               "weights and ignore_index"),
                        Sample((_u(r, (4, 3)), np.array([0, 2, 1, 1])), {"reduction": "none"},
                               "none"),
                        Sample((_u(r, (1, 3)), np.array([1])), {}, "batch of one"),
                        # empty batch: not "mean" (0/0, NaN in torch too)
                        Sample((_u(r, (0, 3)), np.zeros(0, dtype=np.int64)),
                               {"reduction": "sum"}, "empty batch, sum"),
                        Sample((_u(r, (0, 3)), np.zeros(0, dtype=np.int64)),
                               {"reduction": "none"}, "empty batch, none")],
             lambda x, t, weight=None, **kw: _F().nll_loss(x, t, weight=weight, **kw),
             family="nn")
    register("mse_loss", N.mse_loss,
             lambda r: [Sample((_u(r, (4, 3)), _u(r, (4, 3))), {}),
                        Sample((_u(r, (5,)), _u(r, (5,))), {"reduction": "sum"}, "sum"),
                        Sample((_u(r, (5,)), _u(r, (5,))), {"reduction": "none"}, "none"),
                        Sample((_u(r, (1, 3)), _u(r, (1, 3))), {}, "size-1 axis"),
                        Sample((_u(r, ()), _u(r, ())), {}, "0-d"),
                        # empty: not "mean" (0/0, NaN in torch too)
                        Sample((_u(r, (0, 3)), _u(r, (0, 3))), {"reduction": "sum"},
                               "empty, sum"),
                        Sample((_u(r, (0, 3)), _u(r, (0, 3))), {"reduction": "none"},
                               "empty, none")],
             lambda a, b, **kw: _F().mse_loss(a, b, **kw), family="nn")
    register("bce_with_logits", N.bce_with_logits,
             lambda r: [Sample((_u(r, (4, 3), -3, 3), r.random((4, 3))), {}, "soft targets"),
                        Sample((_u(r, (4, 3)), Const((r.random((4, 3)) < 0.5).astype(float))),
                               {"pos_weight": Const(np.array([0.5, 2.0, 1.5]))},
                               "pos_weight"),
                        Sample((_u(r, (4, 3)), r.random((4, 3))),
                               {"weight": Const(_pos(r, (4, 3))), "reduction": "sum"},
                               "element weights, sum"),
                        Sample((np.zeros((3,)), r.random((3,))), {"reduction": "none"},
                               "logits exactly 0 (the kink of |x|)"),
                        Sample((_u(r, (1, 3)), r.random((1, 3))),
                               {"pos_weight": Const(np.array([2.0]))},
                               "size-1 axes, size-1 pos_weight"),
                        # empty: not "mean" (0/0, NaN in torch too)
                        Sample((_u(r, (0, 3)), r.random((0, 3))),
                               {"pos_weight": Const(np.array([0.5, 2.0, 1.5])),
                                "reduction": "sum"}, "empty, sum"),
                        Sample((_u(r, (0, 3)), r.random((0, 3))), {"reduction": "none"},
                               "empty, none")],
             lambda x, t, **kw: _F().binary_cross_entropy_with_logits(x, t, **kw),
             family="nn")

    register("dropout", lambda x, p: N.dropout(
                 x, p, generator=_backend.get_xp(x.backend).random.default_rng(7)),
             lambda r: [Sample((_u(r, (4, 5)), 0.3), {}, "p = 0.3, fixed generator"),
                        Sample((_u(r, (4,)), 1.0), {}, "p = 1 (all dropped)"),
                        Sample((_u(r, (1, 3)), 0.5), {}, "size-1 axis"),
                        Sample((_u(r, (0, 3)), 0.3), {}, "empty")],
             None, family="nn",
             notes="no torch twin: the mask comes from a different random generator")
    register("linear", N.linear,
             lambda r: [Sample((_u(r, (4, 3)), _u(r, (2, 3)), _u(r, (2,))), {}),
                        Sample((_u(r, (2, 4, 3)), _u(r, (2, 3))), {}, "batched, no bias"),
                        Sample((_u(r, (1, 3)), _u(r, (1, 3)), _u(r, (1,))), {},
                               "one sample, one output"),
                        Sample((_u(r, (0, 3)), _u(r, (2, 3)), _u(r, (2,))), {}, "empty batch")],
             lambda x, w, b=None: _F().linear(x, w, b), family="nn")
    register("layer_norm", N.layer_norm,
             lambda r: [Sample((_u(r, (3, 4)), (4,), _pos(r, (4,)), _u(r, (4,))), {}),
                        Sample((_u(r, (2, 3, 2)), (3, 2)), {}, "two axes, no affine"),
                        Sample((_u(r, (3, 1, 4)), (4,), _pos(r, (4,))), {},
                               "size-1 axis, weight only"),
                        Sample((_u(r, (0, 4)), (4,), _pos(r, (4,)), _u(r, (4,))), {},
                               "empty batch")],
             lambda x, shape, w=None, b=None: _F().layer_norm(x, shape, w, b),
             family="nn")

    def bn_samples(rng):
        return [
            Sample((_u(rng, (4, 3)), Const(np.zeros(3)), Const(np.ones(3)), _pos(rng, (3,)),
                    _u(rng, (3,))), {"training": True}, "training, (N, C)"),
            Sample((_u(rng, (2, 3, 2, 2)), None, None, _pos(rng, (3,)), _u(rng, (3,))),
                   {"training": True}, "training, (N, C, H, W), no running stats"),
            Sample((_u(rng, (4, 3)), Const(_u(rng, (3,))), Const(_pos(rng, (3,))),
                    _pos(rng, (3,)), _u(rng, (3,))), {"training": False}, "evaluation"),
            Sample((_u(rng, (3, 2, 1, 2)), None, None, _pos(rng, (2,)), _u(rng, (2,))),
                   {"training": True}, "training, size-1 spatial axis"),
            # an empty batch only in evaluation: training needs more than one
            # value per channel (an error in torch too)
            Sample((_u(rng, (0, 3)), Const(_u(rng, (3,))), Const(_pos(rng, (3,))),
                    _pos(rng, (3,)), _u(rng, (3,))), {"training": False},
                   "evaluation, empty batch"),
        ]

    register("batch_norm", N.batch_norm, bn_samples,
             lambda x, rm, rv, w, b, training: _F().batch_norm(
                 x, rm, rv, w, b, training=training),
             family="nn")

    # -- convolution and pooling -------------------------------------------------
    register("unfold", C.unfold,
             lambda r: [Sample((_u(r, (2, 2, 5, 4)), (2, 3)), {"padding": 1, "stride": (2, 1),
                                                                 "dilation": (1, 2)}, "all options"),
                        Sample((_u(r, (1, 1, 3, 3)), 2), {}, "plain"),
                        Sample((_u(r, (0, 2, 4, 4)), 2), {}, "empty batch")],
             lambda x, k, **kw: _F().unfold(x, k, **kw), family="conv")
    register("fold", C.fold,
             lambda r: [Sample((_u(r, (2, 2 * 4, 9)), (4, 4), 2), {"stride": 1}, "overlapping"),
                        Sample((_u(r, (1, 6, 6)), (4, 3), (2, 3)),
                               {"padding": (1, 1), "stride": 2}, "padding and stride"),
                        Sample((_u(r, (0, 8, 9)), (4, 4), 2), {}, "empty batch")],
             lambda c, size, k, **kw: _F().fold(c, size, k, **kw), family="conv")

    def conv_samples(rng):
        return [
            Sample((_u(rng, (2, 3, 5, 5)), _u(rng, (4, 3, 3, 3)), _u(rng, (4,))), {}, "plain"),
            Sample((_u(rng, (1, 2, 6, 5)), _u(rng, (3, 2, 2, 3))),
                   {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)},
                   "stride, padding, dilation"),
            Sample((_u(rng, (2, 4, 4, 4)), _u(rng, (6, 2, 3, 3)), _u(rng, (6,))),
                   {"groups": 2, "padding": 1}, "groups"),
            Sample((_u(rng, (1, 1, 4, 4)), _u(rng, (2, 1, 2, 2))), {"padding": "same"},
                   "padding='same' with an even kernel"),
            Sample((_u(rng, (2, 4, 4)), _u(rng, (2, 2, 3, 3))), {}, "unbatched input"),
            Sample((_u(rng, (1, 1, 3, 1)), _u(rng, (2, 1, 2, 1)), _u(rng, (2,))), {},
                   "size-1 batch, channel and width"),
            Sample((_u(rng, (0, 2, 4, 4)), _u(rng, (3, 2, 3, 3)), _u(rng, (3,))),
                   {"padding": 1}, "empty batch"),
        ]

    register("conv2d", C.conv2d, conv_samples,
             lambda x, w, b=None, **kw: _F().conv2d(x, w, b, **kw), family="conv")

    def convt_samples(rng):
        return [
            Sample((_u(rng, (2, 3, 3, 3)), _u(rng, (3, 2, 3, 3)), _u(rng, (2,))), {}, "plain"),
            Sample((_u(rng, (1, 2, 3, 2)), _u(rng, (2, 3, 2, 3))),
                   {"stride": 2, "padding": 1, "output_padding": 1}, "stride, output_padding"),
            Sample((_u(rng, (1, 4, 3, 3)), _u(rng, (4, 1, 2, 2))),
                   {"groups": 2, "dilation": 2}, "groups, dilation"),
            Sample((_u(rng, (0, 2, 3, 3)), _u(rng, (2, 3, 2, 2)), _u(rng, (3,))),
                   {"stride": 2}, "empty batch"),
        ]

    register("conv_transpose2d", C.conv_transpose2d, convt_samples,
             lambda x, w, b=None, **kw: _F().conv_transpose2d(x, w, b, **kw), family="conv")
    register("max_pool2d", C.max_pool2d,
             lambda r: [Sample((_distinct(r, (2, 2, 4, 4)), 2), {}, "2x2"),
                        Sample((_distinct(r, (1, 2, 4, 6)), (2, 3)), {}, "2x3 windows tiling"),
                        Sample((_distinct(r, (1, 2, 5, 5)), 3),
                               {"stride": 2, "padding": 1}, "3x3, stride 2, padding"),
                        Sample((_distinct(r, (1, 1, 6, 6)), 2),
                               {"stride": 1, "dilation": 2}, "dilation"),
                        Sample((_u(r, (0, 2, 4, 4)), 2), {}, "empty batch")],
             lambda x, k, **kw: _F().max_pool2d(x, k, **kw), family="conv")
    register("avg_pool2d", C.avg_pool2d,
             lambda r: [Sample((_u(r, (2, 2, 4, 4)), 2), {}, "2x2"),
                        Sample((_u(r, (1, 2, 4, 6)), (2, 3)), {}, "2x3 windows tiling"),
                        Sample((_u(r, (1, 2, 5, 5)), 3), {"stride": 2, "padding": 1},
                               "padding counted"),
                        Sample((_u(r, (1, 2, 5, 5)), 3),
                               {"stride": 2, "padding": 1, "count_include_pad": False},
                               "padding not counted"),
                        Sample((_u(r, (0, 2, 4, 4)), 2), {"stride": 1}, "empty batch")],
             lambda x, k, **kw: _F().avg_pool2d(x, k, **kw), family="conv")


def _torch_getitem(x, idx):
    """x[idx] in torch, which has no negative slice steps: flip first."""
    import torch
    new = []
    for axis, i in enumerate(idx):
        if isinstance(i, slice) and i.step is not None and i.step < 0 and \
                i.start is None and i.stop is None:
            x = torch.flip(x, (axis,))
            i = slice(None, None, -i.step)
        new.append(torch.as_tensor(i) if isinstance(i, np.ndarray) else i)
    return x[tuple(new)]


def _torch_sum_to(x, shape):
    lead = x.ndim - len(shape)
    if lead:
        x = x.sum(dim=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and x.shape[i] != 1)
    if axes:
        x = x.sum(dim=axes, keepdim=True)
    return x.reshape(shape)


def _torch_slice_put(v, shape, idx):
    import torch
    out = torch.zeros(shape, dtype=v.dtype)
    out = out.clone()
    out[idx] = v
    return out


def _torch_pad(pad_width, ndim):
    """numpy.pad widths -> torch.nn.functional.pad's flat list (last axis first)."""
    pw = np.broadcast_to(np.asarray(pad_width), (ndim, 2)) if np.ndim(pad_width) <= 1 \
        else np.asarray(pad_width)
    flat = []
    for before, after in pw[::-1]:
        flat += [int(before), int(after)]
    return flat


_build()
