"""Convolution and pooling, built on two linear primitives:

* ``unfold`` (im2col): every kernel-sized patch of an image batch
  (N, C, H, W) becomes a column: (N, C·kh·kw, L), L = number of patches;
* ``fold`` (col2im): the adjoint of unfold -- columns are added back into
  an image, overlapping patches summing.

Each is the other's vjp, and both are linear, so their jvp is themselves.
A convolution is then a matrix product with the unfolded input, a pooling
layer a reduction over the patch axis, and the transposed convolution a
matrix product followed by fold. Gradients (of any order) and tangents of
all four follow from the chain rule through these few ops.

Shapes follow PyTorch: input (N, C, H, W), conv weight (C_out, C_in/groups,
kh, kw), transposed-conv weight (C_in, C_out/groups, kh, kw).
"""
from __future__ import annotations

import math

import numpy as np

from ..autodiff import Op, apply
from ..backend import get_array_module
from ..errors import ArgumentError, DTypeError, ShapeError
from . import cuda_kernels
from ._util import const, tensor_args
from .linalg import matmul
from .reduction import max as _max
from .reduction import mean, sum
from .shape import expand_dims, pad, reshape, squeeze, swapaxes


def _out_size(size, k, d, p, s):
    """Number of kernel positions along one axis."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class Unfold(Op):
    """im2col. cols[n, (c, i, j), (h, w)] = x_padded[n, c, h·s + i·d, w·s + j·d].

    vjp: fold(ḡ).   jvp: unfold(ẋ)."""

    name = "unfold"
    saves_inputs = False

    def __init__(self, kernel, dilation, padding, stride):
        self.kernel, self.dilation, self.padding, self.stride = kernel, dilation, padding, stride

    def forward(self, x):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        self.in_hw = (h, w)
        (kh, kw), (dh, dw), (ph, pw), (sh, sw) = self.kernel, self.dilation, self.padding, self.stride
        ho, wo = _out_size(h, kh, dh, ph, sh), _out_size(w, kw, dw, pw, sw)
        if cuda_kernels.available(xp) and x.dtype.char in "fd":      # one kernel on a GPU
            return cuda_kernels.im2col(xp, x, self.kernel, self.dilation, self.padding,
                                       self.stride, (ho, wo))
        if ph or pw:
            x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        cols = xp.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
        for i in range(kh):
            top = i * dh
            for j in range(kw):
                left = j * dw
                cols[:, :, i, j] = x[:, :, top:top + sh * (ho - 1) + 1:sh,
                                     left:left + sw * (wo - 1) + 1:sw]
        return cols.reshape(n, c * kh * kw, ho * wo)

    def vjp(self, g):
        return fold(g, self.in_hw, self.kernel, self.dilation, self.padding, self.stride)

    def jvp(self, dx):
        return apply(Unfold(self.kernel, self.dilation, self.padding, self.stride), dx)


class Fold(Op):
    """col2im, the adjoint of unfold: x[n, c, h·s + i·d, w·s + j·d] += cols[n, (c, i, j), (h, w)]
    (then the padding is cropped).   vjp: unfold(ḡ).   jvp: fold(ċ)."""

    name = "fold"
    saves_inputs = False

    def __init__(self, output_size, kernel, dilation, padding, stride):
        self.output_size = output_size
        self.kernel, self.dilation, self.padding, self.stride = kernel, dilation, padding, stride

    def forward(self, cols):
        xp = get_array_module(cols)
        n = cols.shape[0]
        h, w = self.output_size
        (kh, kw), (dh, dw), (ph, pw), (sh, sw) = self.kernel, self.dilation, self.padding, self.stride
        ho, wo = _out_size(h, kh, dh, ph, sh), _out_size(w, kw, dw, pw, sw)
        c = cols.shape[1] // (kh * kw)
        if cuda_kernels.available(xp) and cols.dtype.char in "fd":   # one kernel on a GPU
            return cuda_kernels.col2im(xp, cols, n, c, self.output_size, self.kernel,
                                       self.dilation, self.padding, self.stride, (ho, wo))
        cols = cols.reshape(n, c, kh, kw, ho, wo)
        out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        for i in range(kh):
            top = i * dh
            for j in range(kw):
                left = j * dw
                out[:, :, top:top + sh * (ho - 1) + 1:sh,
                    left:left + sw * (wo - 1) + 1:sw] += cols[:, :, i, j]
        if ph or pw:
            out = xp.ascontiguousarray(out[:, :, ph:ph + h, pw:pw + w])
        return out

    def vjp(self, g):
        return apply(Unfold(self.kernel, self.dilation, self.padding, self.stride), g)

    def jvp(self, dcols):
        return apply(Fold(self.output_size, self.kernel, self.dilation, self.padding,
                          self.stride), dcols)


# ==========================================================================
# Argument checking
# ==========================================================================


def _pair(value, name, op, minimum, accepted="an int or a pair of ints"):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ArgumentError(f"{op}: {name} must be {accepted}, got {value!r}")
    if min(pair) < minimum:
        raise ArgumentError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return pair


def _image_batch(x, op):
    """Accept (N, C, H, W), or (C, H, W) as a batch of one."""
    tensor_args(op, x=x)
    if x.ndim == 3:
        return expand_dims(x, 0), True
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    return x, False


def _conv_args(op, x, weight, groups, weight_layout):
    """Checks shared by conv2d and conv_transpose2d."""
    x, unbatched = _image_batch(x, op)
    tensor_args(op, weight=weight)
    if weight.ndim != 4:
        raise ShapeError(f"{op}: weight must be {weight_layout}, got shape {weight.shape}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ArgumentError(f"{op}: groups must be a positive int, got {groups!r}")
    if x.data.dtype != weight.data.dtype:
        raise DTypeError(f"{op}: input dtype {x.data.dtype} and weight dtype "
                         f"{weight.data.dtype} differ")
    return x, unbatched


def _check_output(op, hw, kernel, dilation, padding, stride):
    sizes = tuple(_out_size(n, k, d, p, s)
                  for n, k, d, p, s in zip(hw, kernel, dilation, padding, stride))
    if min(sizes) < 1:
        raise ShapeError(
            f"{op}: the input's spatial size {tuple(hw)} is too small for kernel {kernel} "
            f"with dilation {dilation}, padding {padding} and stride {stride} "
            f"(the output would be {sizes})")
    return sizes


# ==========================================================================
# The functions users call
# ==========================================================================


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C·kh·kw, L), one column per kernel
    position (as ``torch.nn.functional.unfold``)."""
    tensor_args("unfold", x=x)
    if x.ndim != 4:
        raise ShapeError(f"unfold: input must be (N, C, H, W), got shape {x.shape}")
    k = _pair(kernel_size, "kernel_size", "unfold", 1)
    d = _pair(dilation, "dilation", "unfold", 1)
    p = _pair(padding, "padding", "unfold", 0)
    s = _pair(stride, "stride", "unfold", 1)
    _check_output("unfold", x.shape[2:], k, d, p, s)
    return apply(Unfold(k, d, p, s), x)


def fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: (N, C·kh·kw, L) -> (N, C, H, W), summing overlapping patches
    (as ``torch.nn.functional.fold``); the adjoint of :func:`unfold`."""
    tensor_args("fold", cols=cols)
    if cols.ndim != 3:
        raise ShapeError(f"fold: input must be (N, C·kh·kw, L), got shape {cols.shape}")
    size = _pair(tuple(output_size) if not isinstance(output_size, int) else output_size,
                 "output_size", "fold", 1)
    k = _pair(kernel_size, "kernel_size", "fold", 1)
    d = _pair(dilation, "dilation", "fold", 1)
    p = _pair(padding, "padding", "fold", 0)
    s = _pair(stride, "stride", "fold", 1)
    if cols.shape[1] % (k[0] * k[1]):
        raise ShapeError(f"fold: axis 1 of the input ({cols.shape[1]}) must be a multiple "
                         f"of the kernel size {k[0]}·{k[1]}")
    blocks = _check_output("fold", size, k, d, p, s)
    if cols.shape[2] != blocks[0] * blocks[1]:
        raise ShapeError(f"fold: input has {cols.shape[2]} columns but output_size {size} "
                         f"with kernel {k}, dilation {d}, padding {p}, stride {s} has "
                         f"{blocks[0]}·{blocks[1]} = {blocks[0] * blocks[1]} kernel positions")
    return apply(Fold(size, k, d, p, s), cols)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (what deep learning calls convolution):

        y[n, o, h, w] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x_pad[n, c, h·s + i·d, w·s + j·d]

    computed as W (C_out, C·kh·kw) @ unfold(x) per group. ``padding`` may be
    an int, a pair, "valid" (0) or "same" (stride 1 only). As in PyTorch,
    any non-negative padding is accepted, even more than the kernel size
    (the extra rows and columns only see zeros); only the pooling functions
    (at most ``kernel_size // 2``) and ``conv_transpose2d`` (the output must
    not be empty) limit it."""
    x, unbatched = _conv_args("conv2d", x, weight, groups, "(C_out, C_in/groups, kh, kw)")
    n, c, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    if c != c_per_group * groups:
        raise ShapeError(f"conv2d: input has {c} channels (shape {x.shape}) but weight of "
                         f"shape {weight.shape} with groups={groups} expects "
                         f"{c_per_group * groups}")
    if c_out % groups:
        raise ShapeError(f"conv2d: C_out ({c_out}) must be divisible by groups ({groups})")
    s = _pair(stride, "stride", "conv2d", 1)
    d = _pair(dilation, "dilation", "conv2d", 1)
    if padding == "valid":
        padding = 0
    if padding == "same":
        if s != (1, 1):
            raise ArgumentError("conv2d: padding='same' needs stride 1")
        total = (d[0] * (kh - 1), d[1] * (kw - 1))
        before = (total[0] // 2, total[1] // 2)
        if total[0] % 2 or total[1] % 2:   # odd total: one more row/column after
            x = pad(x, ((0, 0), (0, 0), (before[0], total[0] - before[0]),
                        (before[1], total[1] - before[1])))
            padding = 0
        else:
            padding = before
    p = _pair(padding, "padding", "conv2d", 0,
              accepted="an int, a pair of ints, 'same' or 'valid'")
    ho, wo = _check_output("conv2d", x.shape[2:], (kh, kw), d, p, s)
    cols = apply(Unfold((kh, kw), d, p, s), x)                   # (N, C·kh·kw, L)
    if groups == 1:
        out = matmul(reshape(weight, (c_out, c * kh * kw)), cols)  # (N, C_out, L)
    else:
        cols = reshape(cols, (n, groups, c_per_group * kh * kw, ho * wo))
        wg = reshape(weight, (groups, c_out // groups, c_per_group * kh * kw))
        out = matmul(wg, cols)                                    # (N, G, C_out/G, L)
    out = reshape(out, (n, c_out, ho, wo))
    if bias is not None:
        if bias.shape != (c_out,):
            raise ShapeError(f"conv2d: bias must have shape ({c_out},), got {bias.shape}")
        out = out + reshape(bias, (1, c_out, 1, 1))
    return squeeze(out, 0) if unbatched else out


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed convolution: the adjoint (vjp with respect to the input)
    of conv2d with the same weight, stride, padding and dilation.

    Computed as fold(Wᵀ @ x): every input pixel spreads a kernel-sized patch
    into the output. Output size: (H − 1)·s − 2p + d·(k − 1) + output_padding + 1.
    ``output_padding`` must be smaller than the stride."""
    x, unbatched = _conv_args("conv_transpose2d", x, weight, groups,
                              "(C_in, C_out/groups, kh, kw)")
    n, c_in, h, w = x.shape
    c_in_w, c_out_per_group, kh, kw = weight.shape
    if c_in != c_in_w:
        raise ShapeError(f"conv_transpose2d: input has {c_in} channels (shape {x.shape}) "
                         f"but weight of shape {weight.shape} expects {c_in_w}")
    if c_in % groups:
        raise ShapeError(f"conv_transpose2d: C_in ({c_in}) must be divisible by groups "
                         f"({groups})")
    s = _pair(stride, "stride", "conv_transpose2d", 1)
    p = _pair(padding, "padding", "conv_transpose2d", 0)
    d = _pair(dilation, "dilation", "conv_transpose2d", 1)
    op = _pair(output_padding, "output_padding", "conv_transpose2d", 0)
    if op[0] >= s[0] or op[1] >= s[1]:
        raise ArgumentError(f"conv_transpose2d: output_padding {op} must be smaller than "
                            f"the stride {s}")
    h_out = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    w_out = (w - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    if h_out < 1 or w_out < 1:
        raise ShapeError(f"conv_transpose2d: padding {p} is too large for input shape "
                         f"{x.shape} and kernel {(kh, kw)} (output would be "
                         f"{(h_out, w_out)})")
    kk = kh * kw
    wg = reshape(weight, (groups, c_in // groups, c_out_per_group * kk))
    xg = reshape(x, (n, groups, c_in // groups, h * w))
    cols = matmul(swapaxes(wg, -1, -2), xg)                  # (N, G, C_out/G·kh·kw, H·W)
    cols = reshape(cols, (n, groups * c_out_per_group * kk, h * w))
    out = apply(Fold((h_out, w_out), (kh, kw), d, p, s), cols)
    if bias is not None:
        c_out = groups * c_out_per_group
        if bias.shape != (c_out,):
            raise ShapeError(f"conv_transpose2d: bias must have shape ({c_out},), got "
                             f"{bias.shape}")
        out = out + reshape(bias, (1, c_out, 1, 1))
    return squeeze(out, 0) if unbatched else out


def _pool_args(op, x, kernel_size, stride, padding, dilation):
    x, unbatched = _image_batch(x, op)
    k = _pair(kernel_size, "kernel_size", op, 1)
    s = k if stride is None else _pair(stride, "stride", op, 1)
    p = _pair(padding, "padding", op, 0)
    d = _pair(dilation, "dilation", op, 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ArgumentError(f"{op}: padding {p} is larger than half the kernel size {k} "
                            "(padding must be at most kernel_size // 2)")
    return x, unbatched, k, s, p, d


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Maximum over each kernel window (stride defaults to the kernel size).
    Padding counts as −∞. Ties within a window share the gradient evenly --
    unlike ``torch.nn.functional.max_pool2d``, which routes the whole
    gradient to one element of the window (the one its index points to).
    Where each window's maximum is unique the two agree."""
    x, unbatched, k, s, p, d = _pool_args("max_pool2d", x, kernel_size, stride, padding,
                                          dilation)
    if x.data.dtype.kind != "f":
        raise DTypeError(f"max_pool2d: expects a floating-point input, got {x.data.dtype}")
    n, c = x.shape[:2]
    ho, wo = _check_output("max_pool2d", x.shape[2:], k, d, p, s)
    if p != (0, 0):
        x = pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), value=-math.inf)
    cols = apply(Unfold(k, d, (0, 0), s), x)                   # (N, C·kh·kw, L)
    cols = reshape(cols, (n, c, k[0] * k[1], ho * wo))
    out = reshape(_max(cols, axis=2), (n, c, ho, wo))
    return squeeze(out, 0) if unbatched else out


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean over each kernel window (stride defaults to the kernel size).
    With ``count_include_pad=False`` the padded zeros are left out of the count."""
    x, unbatched, k, s, p, d = _pool_args("avg_pool2d", x, kernel_size, stride, padding, 1)
    if x.data.dtype.kind != "f":
        raise DTypeError(f"avg_pool2d: expects a floating-point input, got {x.data.dtype}")
    n, c, h, w = x.shape
    ho, wo = _check_output("avg_pool2d", (h, w), k, d, p, s)
    cols = reshape(apply(Unfold(k, d, p, s), x), (n, c, k[0] * k[1], ho * wo))
    if count_include_pad or p == (0, 0):
        out = mean(cols, axis=2)
    else:
        xp = get_array_module(x.data)
        ones = Unfold(k, d, p, s).forward(xp.ones((1, 1, h, w), dtype=x.data.dtype))
        out = sum(cols, axis=2) / const(ones.sum(axis=1))      # valid pixels per window
    out = reshape(out, (n, c, ho, wo))
    return squeeze(out, 0) if unbatched else out

