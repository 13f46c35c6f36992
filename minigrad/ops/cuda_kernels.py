"""CuPy kernels for im2col (unfold) and col2im (fold).

The readable reference is the NumPy code in :mod:`minigrad.ops.conv`: a
loop over the kh·kw kernel offsets, one strided copy (unfold) or strided add
(fold) each. On a GPU every one of those is a kernel launch, so a 5×5
convolution costs 25 launches forward and 25 backward; these kernels do each
in one launch with one thread per output element:

* im2col: cols[n, c, i, j, oh, ow] = x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]
  (0 where that falls in the padding);
* col2im: x[n, c, y, x] = Σ_{i, j} cols[n, c, i, j, oh, ow] over the (i, j)
  with y + ph − i·dh = oh·sh and x + pw − j·dw = ow·sw inside the output:
  each thread gathers its own sum (no atomics), adding in the same (i, j)
  order as the NumPy loop.

The optimizers' updates are fused the same way (torch's ``fused=True``):
the readable NumPy-style update in :mod:`minigrad.optim` is a chain of
elementwise array operations, each a kernel on a GPU (13 per parameter
for Adam), where these do each parameter's whole update in one:

* sgd: w ← w − η(g + λw);
* sgd_momentum: d = g + λw, b ← d at the first step, else μb + (1 − τ)d,
  w ← w − η(d + μb) with Nesterov, else w − ηb;
* adam / adam_amsgrad: d = g + λw (coupled decay) or w ← (1 − ηλ)w (AdamW),
  m ← β₁m + (1 − β₁)d, v ← β₂v + (1 − β₂)d², v̂ = v (or v_max ← max(v_max, v)),
  w ← w − (η / (1 − β₁ᵗ)) · m / (√v̂ / √(1 − β₂ᵗ) + ε).

Each line mirrors the reference's arithmetic in the same order; the GPU may
fuse a multiply and an add into one rounding (FMA), so float32 results agree
with the reference to a few ulps, not bit for bit.

``tests/ops/test_cuda_kernels.py`` checks them against the NumPy reference
on a GPU, and ``tests/ops/test_cuda_kernels_compile.py`` compiles them with
NVRTC wherever CuPy imports. They are used only on a real CuPy
(``available``).
"""
from __future__ import annotations

import math

_KERNELS = {}

_IM2COL = r"""
    long long t = i;
    const int ow = t % wo; t /= wo;
    const int oh = t % ho; t /= ho;
    const int jj = t % kw; t /= kw;
    const int ii = t % kh; t /= kh;             // t = n * C + c
    const int y = oh * sh - ph + ii * dh;
    const int xx = ow * sw - pw + jj * dw;
    cols = (y >= 0 && y < h && xx >= 0 && xx < w) ? x[(t * h + y) * w + xx] : (T)0;
"""

_COL2IM = r"""
    long long t = i;
    const int xx = t % w; t /= w;
    const int y = t % h; t /= h;                // t = n * C + c
    T acc = (T)0;
    for (int ii = 0; ii < kh; ++ii) {
        const int ys = y + ph - ii * dh;
        if (ys < 0 || ys % sh != 0 || ys / sh >= ho) continue;
        const int oh = ys / sh;
        for (int jj = 0; jj < kw; ++jj) {
            const int xs = xx + pw - jj * dw;
            if (xs < 0 || xs % sw != 0 || xs / sw >= wo) continue;
            acc += cols[(((t * kh + ii) * kw + jj) * ho + oh) * wo + xs / sw];
        }
    }
    x = acc;
"""

_GEOMETRY = "int32 h, int32 w, int32 kh, int32 kw, int32 dh, int32 dw, int32 ph, int32 pw, " \
            "int32 sh, int32 sw, int32 ho, int32 wo"


def available(xp) -> bool:
    """True for a real CuPy (the kernels need CUDA)."""
    return getattr(xp, "ElementwiseKernel", None) is not None and hasattr(xp, "cuda")


_SGD = r"""
    w = w - lr * (wd != (T)0 ? g + wd * w : g);
"""

_SGD_MOMENTUM = r"""
    const T d = wd != (T)0 ? g + wd * w : g;
    buf = first ? d : mu * buf + one_minus_damp * d;
    w = w - lr * (nesterov ? d + mu * buf : buf);
"""

_ADAM_STEP = r"""
    T d = g;
    if (decoupled) { if (wd != (T)0) w = w * decay; }
    else if (wd != (T)0) d = g + wd * w;
    m = b1 * m + one_minus_b1 * d;
    v = b2 * v + one_minus_b2 * d * d;
"""
_ADAM_UPDATE = r"""
    w = w - step_size * (m / (sqrt(vhat) / sqrt_bias2 + eps));
"""
_ADAM = _ADAM_STEP + "    const T vhat = v;\n" + _ADAM_UPDATE
_ADAM_AMSGRAD = _ADAM_STEP + "    vmax = max(vmax, v);\n    const T vhat = vmax;\n" + \
    _ADAM_UPDATE

_ADAM_IN = ("T g, T wd, T decay, int32 decoupled, T b1, T one_minus_b1, T b2, T one_minus_b2, "
            "T step_size, T sqrt_bias2, T eps")

# name -> (inputs, outputs, body); the kernel is named minigrad_<name>
_SPECS = {
    "im2col": (f"raw T x, {_GEOMETRY}", "T cols", _IM2COL),
    "col2im": (f"raw T cols, {_GEOMETRY}", "T x", _COL2IM),
    "sgd": ("T g, T lr, T wd", "T w", _SGD),
    "sgd_momentum": ("T g, T lr, T wd, T mu, T one_minus_damp, int32 nesterov, int32 first",
                     "T w, T buf", _SGD_MOMENTUM),
    "adam": (_ADAM_IN, "T w, T m, T v", _ADAM),
    "adam_amsgrad": (_ADAM_IN, "T w, T m, T v, T vmax", _ADAM_AMSGRAD),
}


def _kernel(xp, name):
    if name not in _KERNELS:
        inputs, outputs, body = _SPECS[name]
        _KERNELS[name] = xp.ElementwiseKernel(inputs, outputs, body, f"minigrad_{name}")
    return _KERNELS[name]


def fusable(xp, w, g):
    """True where the fused optimizer kernels apply: a real CuPy, and a
    float32/float64 parameter with a gradient of its shape and dtype."""
    return (available(xp) and w.dtype.char in "fd" and g.dtype == w.dtype
            and g.shape == w.shape)


def im2col(xp, x, kernel, dilation, padding, stride, out_hw):
    """(N, C, H, W) -> (N, C·kh·kw, Ho·Wo), as ``Unfold.forward``."""
    n, c, h, w = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw), (ho, wo) = kernel, dilation, padding, stride, out_hw
    cols = xp.empty((n, c * kh * kw, ho * wo), dtype=x.dtype)
    if cols.size:
        _kernel(xp, "im2col")(xp.ascontiguousarray(x), h, w, kh, kw, dh, dw, ph, pw, sh, sw,
                              ho, wo, cols)
    return cols


def col2im(xp, cols, n, c, output_size, kernel, dilation, padding, stride, out_hw):
    """(N, C·kh·kw, Ho·Wo) -> (N, C, H, W), as ``Fold.forward``."""
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw), (ho, wo) = \
        output_size, kernel, dilation, padding, stride, out_hw
    x = xp.empty((n, c, h, w), dtype=cols.dtype)
    if x.size:
        _kernel(xp, "col2im")(xp.ascontiguousarray(cols), h, w, kh, kw, dh, dw, ph, pw, sh, sw,
                              ho, wo, x)
    return x


def sgd_update(xp, w, g, state, group):
    """``SGD.update`` in one kernel per parameter (in place on w and the
    momentum buffer, which it creates at the first step as the reference does)."""
    lr, wd, mu = group["lr"], group["weight_decay"], group["momentum"]
    if not mu:
        _kernel(xp, "sgd")(g, lr, wd, w)
        return
    first = "momentum_buffer" not in state
    if first:
        state["momentum_buffer"] = xp.empty_like(w)
    _kernel(xp, "sgd_momentum")(g, lr, wd, mu, 1 - group["dampening"],
                                int(bool(group["nesterov"])), int(first),
                                w, state["momentum_buffer"])


def adam_update(xp, w, g, state, group, decoupled):
    """``Adam.update`` (and AdamW's, ``decoupled``) in one kernel per
    parameter, on the state ``Adam.update`` made and counted (``state["step"]``
    is this step's t)."""
    lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
    t = state["step"]
    args = (g, wd, 1 - lr * wd, int(bool(decoupled)), b1, 1 - b1, b2, 1 - b2,
            lr / (1 - b1 ** t), math.sqrt(1 - b2 ** t), eps,
            w, state["exp_avg"], state["exp_avg_sq"])
    if group["amsgrad"]:
        _kernel(xp, "adam_amsgrad")(*args, state["max_exp_avg_sq"])
    else:
        _kernel(xp, "adam")(*args)
