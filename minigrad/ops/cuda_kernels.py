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

``tests/ops/test_cuda_kernels.py`` checks them against the NumPy reference
on a GPU. They are used only on a real CuPy (``available``).
"""
from __future__ import annotations

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


def _kernel(xp, name):
    if name not in _KERNELS:
        if name == "im2col":
            _KERNELS[name] = xp.ElementwiseKernel(
                f"raw T x, {_GEOMETRY}", "T cols", _IM2COL, "minigrad_im2col")
        else:
            _KERNELS[name] = xp.ElementwiseKernel(
                f"raw T cols, {_GEOMETRY}", "T x", _COL2IM, "minigrad_col2im")
    return _KERNELS[name]


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
