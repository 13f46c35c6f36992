"""Linear algebra: matmul (vectors, matrices, batches with broadcasting),
einsum, outer."""
from __future__ import annotations

import string

import numpy as np

from ..autodiff import ZERO, Op, apply
from ..backend import get_array_module
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from ._util import binary_args, tensor_args
from .shape import broadcast_to, expand_dims, reshape, squeeze, sum_to


class MatMul(Op):
    """C = A @ B for A (..., n, k) and B (..., k, m); batch axes broadcast.

    vjp: (Ḡ Bᵀ, Aᵀ Ḡ).   jvp: Ȧ B + A Ḃ.
    (Vectors are handled by the ``matmul`` function, which turns them into
    one-row / one-column matrices first.)"""

    name = "matmul"

    def forward(self, a, b):
        return a @ b

    def vjp(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (g @ b.mT if need_a else None), (a.mT @ g if need_b else None)

    def jvp(self, da, db):
        a, b = self.inputs
        return da @ b + a @ db


def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading
    axes are batch axes and broadcast."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = binary_args(a, b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least one dimension, got "
                         f"shapes {a.shape} and {b.shape} (use * for scalars)")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not fit: the last "
                         f"axis of the first ({ka}) must equal the "
                         f"{'second-to-last' if b.ndim > 1 else 'only'} axis of the "
                         f"second ({kb})")
    if a.ndim > 2 or b.ndim > 2:
        batch_a, batch_b = a.shape[:-2], b.shape[:-2]
        try:
            np.broadcast_shapes(batch_a, batch_b)
        except ValueError:
            raise ShapeError(f"matmul: the batch axes of shapes {a.shape} and {b.shape} "
                             f"do not broadcast ({batch_a} vs {batch_b})") from None
    if a.data.dtype != b.data.dtype:
        a, b = binary_args(a, b, "matmul")
    vec_a, vec_b = a.ndim == 1, b.ndim == 1
    if vec_a:
        a = expand_dims(a, 0)
    if vec_b:
        b = expand_dims(b, -1)
    out = apply(MatMul(), a, b)
    if vec_a and vec_b:
        return reshape(out, ())
    if vec_a:
        return squeeze(out, -2)
    if vec_b:
        return squeeze(out, -1)
    return out


def outer(a, b):
    """Outer product of two vectors: out[i, j] = a[i]·b[j]."""
    tensor_args("outer", a=a, b=b)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expects two vectors, got shapes {a.shape} and {b.shape}")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


# ==========================================================================
# einsum
# ==========================================================================


class Einsum(Op):
    """y = einsum(spec, x₁, ..., xₙ), a sum of products over index letters.

    It is linear in each operand, so the vjp for operand i is another
    einsum: contract ḡ with every other operand and keep operand i's letters
    (letters only operand i has are summed out in the forward pass; their
    gradient is ḡ's contraction broadcast along them).
    jvp: Σᵢ einsum(spec, x₁, ..., ẋᵢ, ..., xₙ)."""

    name = "einsum"

    def __init__(self, in_subs, out_sub):
        self.in_subs = in_subs     # one letter string per operand
        self.out_sub = out_sub

    def spec(self, in_subs=None, out_sub=None):
        return ",".join(in_subs or self.in_subs) + "->" + (self.out_sub if out_sub is None else out_sub)

    def forward(self, *xs):
        self.shapes = [x.shape for x in xs]
        xp = get_array_module(*xs)
        if xp is np and len(xs) > 1:   # NumPy picks a contraction order (BLAS)
            return xp.einsum(self.spec(), *xs, optimize=True)
        return xp.einsum(self.spec(), *xs)

    def vjp(self, g):
        xs = self.inputs
        grads = []
        for i, sub in enumerate(self.in_subs):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(self.in_subs) if j != i]
            present = set(self.out_sub).union(*others) if others else set(self.out_sub)
            kept = "".join(c for c in sub if c in present)
            ops = [g] + [x for j, x in enumerate(xs) if j != i]
            gi = einsum(",".join([self.out_sub] + others) + "->" + kept, *ops)
            for axis, c in enumerate(sub):   # letters only operand i has: summed
                if c not in present:            # out in the forward pass, so its
                    gi = expand_dims(gi, axis)  # gradient is constant along them
            shape = self.shapes[i]
            if gi.shape != shape:   # size-1 axes broadcast one way or the other
                gi = sum_to(gi, tuple(1 if s == 1 else n for s, n in zip(shape, gi.shape)))
                gi = broadcast_to(gi, shape)
            grads.append(gi)
        return tuple(grads)

    def jvp(self, *dxs):
        xs = self.inputs
        out = ZERO
        for i, dx in enumerate(dxs):
            if dx is ZERO:
                continue
            ops = list(xs)
            ops[i] = dx
            out = out + einsum(self.spec(), *ops)
        return out


def _parse_einsum(spec, ndims):
    """Split an einsum spec into one letter string per operand and the output,
    expanding '...' into fresh letters and filling in an implicit output."""
    spec = spec.replace(" ", "")
    if "->" in spec:
        lhs, out = spec.split("->")
        explicit = True
    else:
        lhs, out, explicit = spec, None, False
    in_subs = lhs.split(",")
    if len(in_subs) != len(ndims):
        raise ArgumentError(f"einsum: the spec {spec!r} names {len(in_subs)} operands "
                            f"but {len(ndims)} were given")
    used = set(spec) - set(".,->")
    free = [c for c in string.ascii_letters if c not in used]
    n_ell = 0
    for sub, nd in zip(in_subs, ndims):
        if "..." in sub:
            n_ell = max(n_ell, nd - (len(sub) - 3))
    ell = "".join(free[:n_ell])
    subs = []
    for sub, nd in zip(in_subs, ndims):
        if "..." in sub:
            k = nd - (len(sub) - 3)
            if k < 0:
                raise ShapeError(f"einsum: operand with {nd} axes does not fit {sub!r}")
            sub = sub.replace("...", ell[n_ell - k:] if k else "")
        if len(sub) != nd:
            raise ShapeError(f"einsum: subscripts {sub!r} name {len(sub)} axes but the "
                             f"operand has {nd}")
        if not sub.isalpha() and sub:
            raise ArgumentError(f"einsum: invalid subscripts {sub!r}")
        if len(set(sub)) != len(sub):
            raise ArgumentError(
                f"einsum: repeated index within one operand ({sub!r}, a diagonal) is "
                "not supported; take the diagonal explicitly")
        subs.append(sub)
    if explicit:
        out = out.replace("...", ell)
        if not set(out) <= set("".join(subs)):
            raise ArgumentError(f"einsum: output letters {out!r} do not all appear in "
                                "the inputs")
    else:
        counts = {}
        for c in "".join(subs):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    if len(set(out)) != len(out):
        raise ArgumentError(f"einsum: repeated letter in the output {out!r}")
    return subs, out


def einsum(spec, *operands):
    """Einstein summation, e.g. ``einsum("ij,jk->ik", a, b)``.

    Supported: any number of operands, explicit or implicit output,
    ``...`` for leading axes, broadcasting of size-1 axes. Not supported:
    a letter repeated within one operand (a diagonal)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(x).__name__}, not a Tensor")
    subs, out = _parse_einsum(spec, [x.ndim for x in operands])
    sizes = {}
    for x, sub in zip(operands, subs):
        for c, n in zip(sub, x.shape):
            if c in sizes and sizes[c] != n and n != 1 and sizes[c] != 1:
                raise ShapeError(f"einsum: index {c!r} has size {sizes[c]} in one operand "
                                 f"and {n} in another (spec {spec!r}, shapes "
                                 f"{[o.shape for o in operands]})")
            if n != 1 or c not in sizes:
                sizes[c] = n
    dt = operands[0].data.dtype
    for x in operands[1:]:
        if x.data.dtype != dt:
            dt = np.promote_types(dt, x.data.dtype)
    operands = [x.astype(dt) for x in operands]
    return apply(Einsum(subs, out), *operands)
