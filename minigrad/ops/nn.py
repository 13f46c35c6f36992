"""Neural-network functions: softmax, losses, dropout, normalisation, linear.

``nll`` and ``mse`` are aliases of ``nll_loss`` and ``mse_loss`` (the same
function objects).

``softmax``, ``log_softmax`` and ``bce_with_logits`` are primitives with
their own derivative rules (they are the classic formulas, and writing them
out keeps them exact where a composition would hit a kink, e.g. at logit 0).
The others are compositions of primitives, so their derivatives follow from
the chain rule; the docstrings give the resulting formula.
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..autodiff import ZERO, Op, apply, no_grad
from ..backend import get_array_module
from ..errors import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor
from ._util import as_tensor, binary_args, const, normalize_axis, tensor_args
from .elementwise import exp, sigmoid, softplus, sqrt
from .reduction import mean, sum, var
from .shape import getitem, permute, reshape

_REDUCTIONS = ("mean", "sum", "none")


class Softmax(Op):
    """yᵢ = exp(xᵢ) / Σⱼ exp(xⱼ) along ``axis``.

    vjp: y ⊙ (ḡ − Σⱼ ḡⱼyⱼ).   jvp: y ⊙ (ẋ − Σⱼ ẋⱼyⱼ)."""

    name = "softmax"
    saves_inputs = False
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        if x.size == 0:        # nothing to normalise (max over an empty axis fails)
            return xp.zeros_like(x)
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        return e / xp.sum(e, axis=self.axis, keepdims=True)

    def vjp(self, g):
        y = self.output
        return y * (g - sum(g * y, self.axis, keepdims=True))

    def jvp(self, dx):
        y = self.output
        return y * (dx - sum(dx * y, self.axis, keepdims=True))


class LogSoftmax(Op):
    """yᵢ = xᵢ − log Σⱼ exp(xⱼ) along ``axis``.

    vjp: ḡ − softmax(x)·Σⱼ ḡⱼ.   jvp: ẋ − Σⱼ softmax(x)ⱼ ẋⱼ."""

    name = "log_softmax"
    saves_inputs = False
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        if x.size == 0:        # nothing to normalise (max over an empty axis fails)
            return xp.zeros_like(x)
        shifted = x - xp.max(x, axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))

    def vjp(self, g):
        p = exp(self.output)
        return g - p * sum(g, self.axis, keepdims=True)

    def jvp(self, dx):
        p = exp(self.output)
        return dx - sum(p * dx, self.axis, keepdims=True)


class BCEWithLogits(Op):
    """Binary cross-entropy on logits x with targets t, per element, with
    positive-class weight w (PyTorch's ``pos_weight``):

        ℓ = (1 − t)·x + (1 + (w − 1)t)·softplus(−x)

    (for w = 1: ℓ = softplus(x) − t·x). Derivatives:
        ∂ℓ/∂x = (1 − t) − (1 + (w − 1)t)·σ(−x)     (w = 1: σ(x) − t)
        ∂ℓ/∂t = −x + (w − 1)·softplus(−x)
    vjp: ḡ times each; jvp: ẋ·∂ℓ/∂x + ṫ·∂ℓ/∂t."""

    name = "bce_with_logits"

    def __init__(self, pos_weight):
        self.pos_weight = pos_weight   # a constant array or None

    def forward(self, x, t):
        xp = get_array_module(x)
        sp_neg = xp.logaddexp(xp.zeros((), dtype=x.dtype), -x)    # softplus(−x)
        if self.pos_weight is None:
            return (1 - t) * x + sp_neg
        w = self.pos_weight
        return (1 - t) * x + (1 + (w - 1) * t) * sp_neg

    def _d_logits(self):
        x, t = self.inputs
        if self.pos_weight is None:
            return sigmoid(x) - t
        w = const(self.pos_weight)
        return (1 - t) - (1 + (w - 1) * t) * sigmoid(-x)

    def _d_targets(self):
        x, t = self.inputs
        if self.pos_weight is None:
            return -x
        w = const(self.pos_weight)
        return -x + (w - 1) * softplus(-x)

    def vjp(self, g):
        need_x, need_t = self.needs_input_grad
        return (g * self._d_logits() if need_x else None,
                g * self._d_targets() if need_t else None)

    def jvp(self, dx, dt):
        return dx * self._d_logits() + dt * self._d_targets()


class Linear(Op):
    """The fully connected layer: y = x Wᵀ + b, x (..., in), W (out, in), b (out,).

    vjp: (ḡ W,  ḡᵀ x,  Σ ḡ)   -- the last two summed over all batch axes;
    jvp: ẋ Wᵀ + x Ẇᵀ + ḃ.
    This is the op whose backward the feedback-alignment rules change: the
    error sent back to x is ḡ W, which needs the forward weights (the
    "weight transport" problem)."""

    name = "linear"

    def forward(self, x, w, b=None):
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def vjp(self, g):
        x, w = self.inputs[0], self.inputs[1]
        needs = self.needs_input_grad
        g2 = reshape(g, (-1, g.shape[-1]))             # batch axes flattened
        grad_x = g @ w if needs[0] else None
        grad_w = g2.mT @ reshape(x, (-1, x.shape[-1])) if needs[1] else None
        if len(needs) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, (sum(g2, 0) if needs[2] else None)

    def jvp(self, dx, dw, db=ZERO):
        x, w = self.inputs[0], self.inputs[1]
        out = ZERO
        if dx is not ZERO:
            out = out + dx @ w.mT
        if dw is not ZERO:
            out = out + x @ dw.mT
        return out + db


# ==========================================================================
# Functions
# ==========================================================================


def _float_input(x, name):
    tensor_args(name, x=x)
    if x.data.dtype.kind != "f":
        raise DTypeError(f"{name}: expects a floating-point tensor, got dtype {x.data.dtype}")
    return x


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis`` (computed stably)."""
    _float_input(x, "softmax")
    return apply(Softmax(normalize_axis(axis, x.ndim, "softmax", x.shape)), x)


def log_softmax(x, axis=-1):
    """x − logsumexp(x) along ``axis`` (computed stably)."""
    _float_input(x, "log_softmax")
    return apply(LogSoftmax(normalize_axis(axis, x.ndim, "log_softmax", x.shape)), x)


def _reduce_loss(loss, reduction, name, weight_sum=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return sum(loss)
    if reduction == "mean":
        return sum(loss) / weight_sum if weight_sum is not None else mean(loss)
    raise ArgumentError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ArgumentError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _classes_last(x):
    """(N, C, d1, ...) -> (N·d1·..., C); (N, C) and (C,) unchanged."""
    if x.ndim <= 2:
        return x
    axes = (0,) + tuple(range(2, x.ndim)) + (1,)
    return reshape(permute(x, axes), (-1, x.shape[1]))


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood: ℓₙ = −w[yₙ]·log_probs[n, yₙ].

    ``log_probs`` is (N, C) or (N, C, d1, ...) (class axis 1, as PyTorch) or
    (C,); ``target`` holds class indices of shape (N,) / (N, d1, ...) / ().
    ``reduction="mean"`` divides by the total weight of the non-ignored
    targets. The gradient is −w[yₙ] at [n, yₙ] and 0 elsewhere.
    ``minigrad.nll`` is the same function."""
    return _nll_loss(log_probs, target, weight, ignore_index, reduction, "nll_loss")


def _nll_loss(log_probs, target, weight, ignore_index, reduction, name):
    """nll_loss, with errors naming ``name`` (the function the user called)."""
    _check_reduction(reduction, name)
    loss, weight_sum, _ = _nll_terms(log_probs, target, weight, ignore_index, name)
    return _reduce_loss(loss, reduction, name, weight_sum)


def _nll_terms(log_probs, target, weight, ignore_index, name):
    """(ℓ shaped like the target, the total weight of the non-ignored
    targets that ``reduction="mean"`` divides by -- None when that is just
    their number --, the mask of the non-ignored targets or None when none is
    ignored)."""
    _float_input(log_probs, name)
    xp = get_array_module(log_probs.data)
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind not in "iu":
        hint = ("class probabilities must be floating-point" if name == "cross_entropy"
                else "for class probabilities use cross_entropy")
        raise DTypeError(f"{name}: target must hold integer class indices, got dtype "
                         f"{t.dtype} ({hint})")
    lp = log_probs
    if lp.ndim == 1:
        expected = ()
    else:
        expected = (lp.shape[0],) + lp.shape[2:]
    if tuple(t.shape) != expected:
        raise ShapeError(f"{name}: target has shape {tuple(t.shape)} but input of shape "
                         f"{lp.shape} needs a target of shape {expected}")
    n_classes = lp.shape[0] if lp.ndim == 1 else lp.shape[1]
    valid = _valid_targets(t, n_classes, ignore_index, lp.shape, name)
    flat = _classes_last(lp) if lp.ndim > 1 else reshape(lp, (1, -1))
    t_flat = (t if valid is None else xp.where(valid, t, 0)).reshape(-1)
    picked = getitem(flat, (xp.arange(t_flat.shape[0]), t_flat))    # (M,)
    wt = _weight_array(weight, n_classes, lp, name)
    if valid is None and wt is None:       # every weight is 1: the mean is the plain mean
        loss, weight_sum = -picked, None
    else:
        w = xp.ones(t_flat.shape, dtype=lp.data.dtype) if wt is None else wt[t_flat]
        if valid is not None:
            w = w * valid.reshape(-1)
        loss = -picked * const(w)
        weight_sum = const(xp.asarray(w.sum(), dtype=lp.data.dtype))
    return reshape(loss, tuple(t.shape)), weight_sum, valid


def _valid_targets(t, n_classes, ignore_index, shape, name):
    """The mask of the non-ignored targets, or None when every target is a
    class index in [0, C) and none equals ``ignore_index`` (the usual case,
    settled by one read of the targets' minimum and maximum: on a GPU, one
    wait for the device). An index out of range is an error."""
    if t.size == 0:
        return None
    xp = get_array_module(t)
    lo, hi = (int(v) for v in _backend.to_numpy(xp.stack([t.min(), t.max()])))
    if lo >= 0 and hi < n_classes and not lo <= ignore_index <= hi:
        return None
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= n_classes))
    if bool(bad.any()):
        first = int(t[bad].reshape(-1)[0])
        raise ArgumentError(f"{name}: target contains class index {first}, outside "
                            f"[0, {n_classes}) (input shape {shape})")
    return valid


def _weight_array(weight, n_classes, like, name):
    if weight is None:
        return None
    xp = get_array_module(like.data)
    w = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
    if tuple(w.shape) != (n_classes,):
        raise ShapeError(f"{name}: weight must have shape ({n_classes},), got {tuple(w.shape)}")
    return w.astype(like.data.dtype)


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy between ``logits`` (N, C, ...) and ``target``.

    ``target`` holds either class indices (N, ...), giving
    ℓₙ = −w[yₙ]·log softmax(xₙ)[yₙ], or class probabilities of the logits'
    shape, giving ℓₙ = −Σ_c w_c tₙc log softmax(xₙ)_c. Either way the
    gradient with respect to the logits is softmax(x) − t (for unit weights).
    ``label_smoothing`` ε mixes the target with the uniform distribution,
    t ← (1 − ε)t + ε/C. ``reduction="mean"`` divides by the number of
    samples, or -- for class indices -- by the total weight of the
    non-ignored targets (as PyTorch)."""
    _float_input(logits, "cross_entropy")
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                            f"{label_smoothing}")
    dtype = logits.data.dtype
    class_axis = 0 if logits.ndim == 1 else 1
    n_classes = logits.shape[class_axis]
    w = _weight_array(weight, n_classes, logits, "cross_entropy")
    w_bcast = None if w is None else const(
        w.reshape((n_classes,) + (1,) * (logits.ndim - class_axis - 1)))
    logp = log_softmax(logits, class_axis)
    weighted_logp = logp if w_bcast is None else logp * w_bcast

    t_dtype = target.data.dtype if isinstance(target, Tensor) else (
        target.dtype if hasattr(target, "dtype") else np.asarray(target).dtype)
    if t_dtype.kind == "f":                           # class probabilities
        target = as_tensor(target, logits, "cross_entropy")
        if target.shape != logits.shape:
            raise ShapeError(f"cross_entropy: probability targets must have the logits' "
                             f"shape {logits.shape}, got {target.shape}")
        if label_smoothing:
            target = (1 - label_smoothing) * target + label_smoothing / n_classes
        return _reduce_loss(-sum(target * weighted_logp, class_axis), reduction,
                            "cross_entropy")

    loss, weight_sum, valid = _nll_terms(logp, target, weight, ignore_index,  # class indices
                                         "cross_entropy")
    if label_smoothing:
        uniform = -sum(weighted_logp, class_axis) / n_classes
        if valid is not None:
            uniform = uniform * const(valid.astype(dtype))
        loss = (1 - label_smoothing) * loss + label_smoothing * uniform
    return _reduce_loss(loss, reduction, "cross_entropy", weight_sum)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: ℓ = (input − target)², reduced. Gradient 2(input − target)/n.
    ``minigrad.mse`` is the same function."""
    _check_reduction(reduction, "mse_loss")
    input, target = binary_args(input, target, "mse_loss")
    if input.shape != target.shape:
        raise ShapeError(f"mse_loss: input shape {input.shape} and target shape "
                         f"{target.shape} differ (broadcasting a loss is usually a bug)")
    d = input - target
    return _reduce_loss(d * d, reduction, "mse_loss")


# Short names (the vocabulary): the same function objects.
nll = nll_loss
mse = mse_loss


def bce_with_logits(logits, target, weight=None, pos_weight=None, reduction="mean"):
    """Binary cross-entropy on logits: −[t·log σ(x) + (1 − t)·log(1 − σ(x))],
    computed stably. ``weight`` rescales each element; ``pos_weight``
    (broadcast along the last axis) weights the positive term. Gradient with
    respect to the logits: σ(x) − t (for pos_weight = 1)."""
    _float_input(logits, "bce_with_logits")
    _check_reduction(reduction, "bce_with_logits")
    target = as_tensor(target, logits, "bce_with_logits")
    if target.shape != logits.shape:
        raise ShapeError(f"bce_with_logits: target shape {target.shape} differs from "
                         f"logits shape {logits.shape}")
    if target.data.dtype != logits.data.dtype:
        target = target.astype(logits.data.dtype)
    xp = get_array_module(logits.data)
    pw = None
    if pos_weight is not None:
        pw = (pos_weight.data if isinstance(pos_weight, Tensor) else xp.asarray(pos_weight))
        pw = pw.astype(logits.data.dtype)
        try:
            np.broadcast_shapes(tuple(pw.shape), logits.shape)
        except ValueError:
            raise ShapeError(f"bce_with_logits: pos_weight of shape {tuple(pw.shape)} does "
                             f"not broadcast to the logits' shape {logits.shape}") from None
    loss = apply(BCEWithLogits(pw), logits, target)
    if weight is not None:
        loss = loss * as_tensor(weight, logits, "bce_with_logits")
    return _reduce_loss(loss, reduction, "bce_with_logits")


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout (Srivastava et al. 2014): zero each element with
    probability p and scale the survivors by 1/(1 − p), so the expectation
    is unchanged. The mask is drawn from ``generator`` (default: the
    backend's seeded generator) and is a constant for differentiation."""
    tensor_args("dropout", x=x)
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    xp = get_array_module(x.data)
    if p == 1:
        return x * const(xp.zeros(x.shape, dtype=x.data.dtype))
    gen = generator if generator is not None else _backend.default_generator(x.backend)
    if _backend.generator_backend(gen) != x.backend:
        raise ArgumentError(f"dropout: the generator makes {_backend.generator_backend(gen)} "
                            f"arrays but x lives on {x.backend}")
    keep = gen.random(x.shape) >= p
    mask = keep.astype(x.data.dtype) * x.data.dtype.type(1.0 / (1.0 - p))
    return x * const(mask)


def linear(x, weight, bias=None):
    """y = x Wᵀ + b (W has shape (out_features, in_features), as PyTorch)."""
    tensor_args("linear", x=x, weight=weight)
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {x.shape} does not fit weight of shape "
                         f"{weight.shape}: the last axis must be {weight.shape[1]}")
    if bias is None:
        x, weight = binary_args(x, weight, "linear")
        return apply(Linear(), x, weight)
    tensor_args("linear", bias=bias)
    if bias.shape != (weight.shape[0],):
        raise ShapeError(f"linear: bias must have shape ({weight.shape[0]},), got "
                         f"{bias.shape}")
    x, weight = binary_args(x, weight, "linear")
    bias = bias.astype(x.data.dtype)
    return apply(Linear(), x, weight, bias)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation (Ba et al. 2016) over the last axes:
    y = (x − μ)/√(σ² + ε)·γ + β, μ and σ² (biased) over ``normalized_shape``."""
    _float_input(x, "layer_norm")
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or k > x.ndim or x.shape[x.ndim - k:] != normalized_shape:
        raise ShapeError(f"layer_norm: normalized_shape {normalized_shape} does not match "
                         f"the last axes of the input shape {x.shape}")
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = mean(x, axes, keepdims=True)
    v = var(x, axes, keepdims=True)
    y = (x - mu) / sqrt(v + eps)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != normalized_shape:
            raise ShapeError(f"layer_norm: {name} must have shape {normalized_shape}, got "
                             f"{p.shape}")
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
               training=True, momentum=0.1, eps=1e-5):
    """Batch normalisation (Ioffe & Szegedy 2015) for x of shape (N, C, ...).

    Training: normalise with the batch mean and (biased) variance per channel
    and update the running statistics in place:
    r ← (1 − momentum)·r + momentum·batch statistic (the unbiased variance for
    running_var, as PyTorch). Evaluation: normalise with the running
    statistics (constants). Then scale by γ (``weight``) and shift by β."""
    _float_input(x, "batch_norm")
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: input must be (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, c) + (1,) * (x.ndim - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"batch_norm: {name} must have shape ({c},) for an input with "
                             f"{c} channels, got {tuple(t.shape)}")
    if training:
        n = x.size // c
        if n <= 1:
            raise ShapeError(f"batch_norm: training needs more than one value per channel, "
                             f"got input shape {x.shape}")
        mu = mean(x, axes, keepdims=True)
        v = var(x, axes, keepdims=True)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    _update_running(running_mean, mu.data.reshape(c), momentum)
                if running_var is not None:
                    _update_running(running_var, v.data.reshape(c) * (n / (n - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ArgumentError("batch_norm: evaluation mode needs running_mean and "
                                "running_var")
        rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
        rv = running_var.data if isinstance(running_var, Tensor) else running_var
        mu = const(rm.reshape(bshape).astype(x.data.dtype))
        v = const(rv.reshape(bshape).astype(x.data.dtype))
    y = (x - mu) / sqrt(v + eps)
    if weight is not None:
        y = y * reshape(weight, bshape)
    if bias is not None:
        y = y + reshape(bias, bshape)
    return y


def _update_running(stat, batch_value, momentum):
    new = (1 - momentum) * (stat.data if isinstance(stat, Tensor) else stat) + momentum * batch_value
    if isinstance(stat, Tensor):
        stat.copy_(new.astype(stat.data.dtype))
    else:
        stat[...] = new
