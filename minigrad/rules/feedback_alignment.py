"""Feedback alignment and its relatives: rules that send the error backward
through a matrix B in place of the forward weights' transpose.

Backprop sends a hidden layer the error δₗ = (Wₗ₊₁ᵀ δₗ₊₁) ⊙ f′(aₗ), which
needs the forward weights in the backward pass (the weight-transport
problem). These rules keep everything else and change only that matrix:

* ``fa`` (Lillicrap, Cownden, Tweed & Akerman 2016):
  δₗ = (Bₗ₊₁ᵀ δₗ₊₁) ⊙ f′(aₗ) with B fixed and random. The forward weights
  come to align with B, and the updates with backprop's.
* sign symmetry (Liao, Leibo & Poggio 2016; the variants of Sanfiz &
  Akrout 2021): B shares W's signs but not its magnitudes --
  ``usf``  B = sign(W)·s,          s = √(2 / (fan_in + fan_out));
  ``brsf`` B = |R| ⊙ sign(W), R redrawn at every step;
  ``frsf`` B = |R| ⊙ sign(W), R fixed.
* ``kp`` -- Kolen–Pollack (Kolen & Pollack 1994; Akrout et al. 2019):
  B receives the same update as W, and both decay:
  ΔW = −η(δxᵀ + λW), ΔB = −η(δxᵀ + λB), so B − W shrinks by (1 − ηλ)
  every step and B → W. (With momentum or Adam, B takes the step the
  optimizer gave W; see :class:`PlasticFeedbackRule`.)

B has the shape of W (out, in) -- for a convolution, a kernel of W's
shape -- and is used where backprop uses W: the layer sends ḡ B to its
input instead of ḡ W. Random matrices (B, and R for the sign-symmetry
magnitudes) are drawn from the rule's seeded Generator on the scale of the
layer's initial weights: U(−a, a) with a = √3·std(W₀), so that the error
sent back has about the size backprop's would (for PyTorch's default
initialisation this is U(−1/√fan_in, 1/√fan_in) itself). A larger B than
W makes the error grow layer by layer on its way back.
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from .. import nn
from ..autodiff import ZERO, Op, apply
from ..ops import conv as conv_ops
from ..ops.shape import reshape
from ..tensor import Tensor
from .base import Rule, angle, lr_for, register

# ==========================================================================
# The two ops whose backward uses a feedback matrix
# ==========================================================================


class FeedbackLinear(Op):
    """y = x Wᵀ + b, whose backward sends ḡ B to x where backprop sends ḡ W.

    vjp: (ḡ B,  ḡᵀ x,  Σ ḡ)  -- only the first differs from Linear.
    jvp: ẋ Wᵀ + x Ẇᵀ + ḃ  (the forward function is unchanged).
    ``feedback`` is B (shaped like W), or a tuple of factors (B₁, B₂, ...)
    whose product is B: ḡ B is then (ḡ B₁) B₂ ⋯, never forming B (product
    feedback alignment's B R, cheaper when the batch is smaller than the
    layer)."""

    name = "feedback_linear"

    def __init__(self, feedback):
        self.feedback = feedback          # an array shaped like W, or a tuple of factors

    def forward(self, x, w, b=None):
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def vjp(self, g):
        x = self.inputs[0]
        needs = self.needs_input_grad
        g2 = reshape(g, (-1, g.shape[-1]))
        grad_x = None
        if needs[0]:
            grad_x = g
            for factor in (self.feedback if isinstance(self.feedback, tuple)
                           else (self.feedback,)):
                grad_x = grad_x @ Tensor(factor)
        grad_w = g2.mT @ reshape(x, (-1, x.shape[-1])) if needs[1] else None
        if len(needs) == 2:
            return grad_x, grad_w
        from ..ops.reduction import sum as _sum
        return grad_x, grad_w, (_sum(g2, 0) if needs[2] else None)

    def jvp(self, dx, dw, db=ZERO):
        x, w = self.inputs[0], self.inputs[1]
        out = ZERO
        if dx is not ZERO:
            out = out + dx @ w.mT
        if dw is not ZERO:
            out = out + x @ dw.mT
        return out + db


class FeedbackConvMatmul(Op):
    """y = W @ cols for a convolution (W (G, O/G, C/G·kh·kw), cols the
    unfolded input (N, G, C/G·kh·kw, L)), whose backward sends Bᵀ ḡ to the
    columns where backprop sends Wᵀ ḡ.

    vjp: (Σₙ ḡ colsᵀ,  Bᵀ ḡ).   jvp: Ẇ cols + W ċols."""

    name = "feedback_conv_matmul"

    def __init__(self, feedback):
        self.feedback = feedback          # shaped like W: (G, O/G, C/G·kh·kw)

    def forward(self, w, cols):
        return w @ cols

    def vjp(self, g):
        w, cols = self.inputs
        need_w, need_cols = self.needs_input_grad
        grad_w = g @ cols.mT if need_w else None          # summed over N by the engine
        grad_cols = Tensor(self.feedback).mT @ g if need_cols else None
        return grad_w, grad_cols

    def jvp(self, dw, dcols):
        w, cols = self.inputs
        return dw @ cols + w @ dcols


def feedback_linear(x, weight, bias, feedback):
    """A Linear layer's computation whose backward uses ``feedback`` for W."""
    args = (x, weight) if bias is None else (x, weight, bias)
    return apply(FeedbackLinear(feedback), *args)


def feedback_conv2d(x, layer, feedback):
    """``layer`` (a Conv2d) applied to ``x``, with ``feedback`` (a kernel of
    the weight's shape) in place of the weight in the backward pass."""
    unbatched = x.ndim == 3
    if unbatched:
        x = reshape(x, (1,) + x.shape)
    w = layer.weight
    n, c, h, wd = x.shape
    c_out, c_per_group, kh, kw = w.shape
    g = layer.groups
    s, p, d = (conv_ops._pair(v, n_, "conv2d", m) for v, n_, m in
               ((layer.stride, "stride", 1), (layer.padding, "padding", 0),
                (layer.dilation, "dilation", 1)))
    ho, wo = conv_ops._check_output("conv2d", (h, wd), (kh, kw), d, p, s)
    cols = apply(conv_ops.Unfold((kh, kw), d, p, s), x)
    cols = reshape(cols, (n, g, c_per_group * kh * kw, ho * wo))
    w3 = reshape(w, (g, c_out // g, c_per_group * kh * kw))
    fb = feedback.reshape(g, c_out // g, c_per_group * kh * kw)
    out = reshape(apply(FeedbackConvMatmul(fb), w3, cols), (n, c_out, ho, wo))
    if layer.bias is not None:
        out = out + reshape(layer.bias, (1, c_out, 1, 1))
    return reshape(out, out.shape[1:]) if unbatched else out


# ==========================================================================
# The rules
# ==========================================================================


def uniform_like(w, rng):
    """U(−a, a) with a = √3·std(w): random numbers on the scale of ``w``."""
    a = np.sqrt(3.0) * float(np.std(w))
    return rng.uniform(-a, a, size=w.shape).astype(w.dtype)


class FeedbackRule(Rule):
    """Shared machinery: one feedback matrix per layer (except the first,
    whose input needs no error), used by the layer's backward pass."""

    unsupported = ()

    def setup(self):
        self.feedback = {}
        for name, layer in self.layers[1:]:
            w = layer.weight.data
            self.feedback[name] = _backend.to_backend(
                self.init_feedback(name, _backend.to_numpy(w)), layer.weight.backend)

    def init_feedback(self, name, w):
        return uniform_like(w, self.generator)

    def current_feedback(self, name, layer):
        """The matrix the layer sends its error through on this step."""
        return self.feedback[name]

    def linear_feedback(self, name, layer):
        """What a Linear layer's backward multiplies its error by: the
        feedback matrix, or a tuple of factors whose product it is."""
        return self.current_feedback(name, layer)

    def layer_function(self, name, layer):
        if name not in self.feedback:
            return None
        if isinstance(layer, nn.Linear):
            return lambda x: feedback_linear(x, layer.weight, layer.bias,
                                             self.linear_feedback(name, layer))
        return lambda x: feedback_conv2d(x, layer, self.current_feedback(name, layer))

    def weight_alignment(self):
        return {name: angle(self.current_feedback(name, layer), layer.weight.data)
                for name, layer in self.layers[1:]}

    def state_dict(self):
        state = super().state_dict()
        state["feedback"] = {k: Tensor(v) for k, v in self.feedback.items()}
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        for k, v in state["feedback"].items():
            arr = v.data if isinstance(v, Tensor) else v
            self.feedback[k] = _backend.to_backend(arr, dict(self.layers)[k].weight.backend)


@register
class FeedbackAlignment(FeedbackRule):
    """δₗ = (Bₗ₊₁ᵀ δₗ₊₁) ⊙ f′(aₗ) with fixed random B on the scale of W₀."""

    name = "fa"
    summary = "feedback alignment: errors sent back through fixed random matrices"
    paper = "Lillicrap, Cownden, Tweed & Akerman 2016"


class _SignSymmetry(FeedbackRule):
    def sign(self, layer):
        xp = _backend.get_array_module(layer.weight.data)
        return xp.sign(layer.weight.data)


@register
class UniformSignSymmetry(_SignSymmetry):
    """B = sign(W)·s, s = √(2 / (fan_in + fan_out)): W's signs, uniform magnitude."""

    name = "usf"
    summary = "sign symmetry: B = sign(W), uniformly scaled"
    paper = "Liao, Leibo & Poggio 2016; Sanfiz & Akrout 2021"

    def init_feedback(self, name, w):
        return np.zeros_like(w)       # not used: B is computed from W every step

    def current_feedback(self, name, layer):
        shape = layer.weight.shape
        receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        scale = layer.weight.data.dtype.type(np.sqrt(2.0 / ((shape[0] + shape[1]) * receptive)))
        return self.sign(layer) * scale           # in W's dtype: no float64 detour


@register
class FixedRandomSignSymmetry(_SignSymmetry):
    """B = |R| ⊙ sign(W), R fixed (on the scale of W₀)."""

    name = "frsf"
    summary = "sign symmetry with fixed random magnitudes: B = |R| ⊙ sign(W)"
    paper = "Liao, Leibo & Poggio 2016; Sanfiz & Akrout 2021"

    def current_feedback(self, name, layer):
        xp = _backend.get_array_module(layer.weight.data)
        return xp.abs(self.feedback[name]) * self.sign(layer)


@register
class BatchRandomSignSymmetry(_SignSymmetry):
    """B = |R| ⊙ sign(W), R redrawn (on the scale of W₀) at every step."""

    name = "brsf"
    summary = "sign symmetry with magnitudes redrawn every batch: B = |R| ⊙ sign(W)"
    paper = "Liao, Leibo & Poggio 2016; Sanfiz & Akrout 2021"

    def current_feedback(self, name, layer):
        xp = _backend.get_array_module(layer.weight.data)
        return xp.abs(self.feedback[name]) * self.sign(layer)

    def setup(self):
        super().setup()                      # the first magnitudes, and their scale:
        self.scale = {name: _backend.to_numpy(b) for name, b in self.feedback.items()}

    def after_step(self, ups, optimizer):
        for name, layer in self.layers[1:]:     # new magnitudes for the next batch
            self.feedback[name] = _backend.to_backend(
                uniform_like(self.scale[name], self.generator), layer.weight.backend)


class PlasticFeedbackRule(FeedbackRule):
    """Shared by the rules whose feedback learns (``kp``, ``pfa``): W's
    update gets the weight decay λW, and the feedback matrix is moved by the
    step the optimizer actually gave W.

    With plain SGD that step is ΔW = −η(δxᵀ + λW), and the papers' rules
    follow exactly (see each subclass). With momentum or Adam the optimizer
    reshapes W's step; feeding the feedback the same reshaped step keeps the
    property the rules rely on -- the difference between feedback and
    forward weights shrinks by (1 − ηλ) every step -- where updating the
    feedback with the raw δxᵀ would let W run ahead of it."""

    hparams = {"weight_decay": 1e-3}

    def adjust(self, ups):
        lam = self.options["weight_decay"]
        for name, layer in self.layers:
            key = weight_key(name)
            if key in ups:
                ups[key] = ups[key] + lam * layer.weight.data
        return ups

    def step(self, x, y, optimizer):
        self.weights_before = {name: layer.weight.data.copy() for name, layer in self.layers[1:]}
        return super().step(x, y, optimizer)

    def applied_steps(self, optimizer):
        """``{layer name: (ΔW, W before the step, η)}`` for the layers the
        optimizer just moved."""
        out = {}
        for name, layer in self.layers[1:]:
            lr = lr_for(optimizer, layer.weight)
            if lr is not None:
                w_old = self.weights_before[name]
                out[name] = (layer.weight.data - w_old, w_old, lr)
        return out


@register
class KolenPollack(PlasticFeedbackRule):
    """ΔW = −η(δxᵀ + λW) and ΔB = −η(δxᵀ + λB): B − W decays to 0.

    In the code B takes W's actual step and decays toward W's old value,
    B ← B + ΔW − ηλ(B − W): with plain SGD this is ΔB = −η(δxᵀ + λB)
    exactly, and with any optimizer B − W ← (1 − ηλ)(B − W)."""

    name = "kp"
    summary = "Kolen-Pollack: B gets W's update, both decay, so B converges to W"
    paper = "Kolen & Pollack 1994; Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019"

    def after_step(self, ups, optimizer):
        """B ← B + ΔW − ηλ(B − W_old), computed as W_new + (1 − ηλ)(B − W_old):
        three passes over B, no ΔW formed."""
        lam = self.options["weight_decay"]
        for name, layer in self.layers[1:]:
            lr = lr_for(optimizer, layer.weight)
            if lr is None:
                continue
            b = self.feedback[name] - self.weights_before[name]      # B − W_old
            b *= b.dtype.type(1 - lr * lam)                            # decays by (1 − ηλ)
            b += layer.weight.data                                     # plus W_new
            self.feedback[name] = b


def weight_key(layer_name):
    """The parameter name of a layer's weight in ``named_parameters``."""
    return f"{layer_name}.weight" if layer_name else "weight"
