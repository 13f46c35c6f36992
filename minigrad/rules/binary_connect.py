"""Binary networks trained through a straight-through estimator: binary
weights (BinaryConnect) and binary activations (straight-through neurons).

Both replace a function by a step -- w ↦ ±1, or a ↦ ±1 -- whose true
derivative is zero almost everywhere, and train through it anyway with the
*straight-through estimator* (STE): the backward pass treats the step as
the identity, or as the identity clipped to [−1, 1] (the derivative of
hardtanh). One custom op, :class:`Binarize`, does both:

    forward   y = +H where x ≥ 0, −H elsewhere            (deterministic)
              y = +H with probability p = hard_sigmoid(x/H), −H otherwise
                  (stochastic; hard_sigmoid(u) = clip((u + 1)/2, 0, 1))
    vjp       x̄ = ȳ ⊙ 1_{|x| ≤ H}    (clip_grad=True)  or  x̄ = ȳ
    jvp       ẏ = ẋ ⊙ 1_{|x| ≤ H}    (clip_grad=True)  or  ẏ = ẋ

H is 1 for activations; for weights it is the layer's scale (below). The
vjp and the jvp are the same linear map (a diagonal mask), so the
inner-product identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩ holds; but this J is the STE's,
*not* the derivative of the forward function, which is zero wherever it
exists: finite differences of the forward pass give 0 (or a spike where a
perturbation crosses the threshold), never J. The stochastic draws
(uniforms r, with +H where r < p, so P(+H) = p exactly and
E[y] = H(2p − 1) = clip(x, −H, H)) come from the rule's seeded NumPy
Generator and are moved to the input's backend, so runs are reproducible.

* ``binary_connect`` (Courbariaux, Bengio & David 2015, "BinaryConnect:
  Training Deep Neural Networks with binary weights during propagations"):
  every Linear and Conv2d layer computes with w_b = ±H instead of its
  real-valued *shadow* weight w (biases, and batch norm, stay real, as in
  the paper). The STE passes ∂L/∂w_b to w (Algorithm 1: unchanged;
  ``clip_grad=True`` zeroes it where |w| > H, the variant of Hubara et al.
  2016), so the update is backprop's gradient computed at the binary
  weights. After every optimizer step (``after_step``) the shadow weights
  are clipped to [−H, H]: beyond it they would stop flipping the sign.

  The scale H. The paper binarises to ±1 (H = 1) and keeps the activations
  in range with batch normalisation. A plain mlp with ±1 weights sums
  fan_in terms of size ~1 per unit (784 on MNIST) and saturates every tanh,
  so ``scale`` gives each layer an H of its own: ``"fan_in"`` (default)
  H = 1/√fan_in, ``"glorot"`` H = √(1.5/(fan_in + fan_out)), ``None`` H = 1
  (the paper; for networks with batch norm). The authors' released code
  (github.com/MatthieuCourbariaux/BinaryConnect, ``H="Glorot"``) does
  exactly this with the glorot value: binary weights ±H, the binarisation
  of w/H, shadow weights clipped to [−H, H], and ∂L/∂w_b given to w
  unchanged -- the same algorithm in units of H; with H = 1 it is the
  paper's. ``"fan_in"`` is our deviation: it makes PyTorch's default
  initialisation, U(−1/√fan_in, 1/√fan_in), exactly the authors' U(−H, H).
  The authors' per-layer learning-rate scaling (W_LR_scale = 1/H, applied
  to the optimizer's step) is not built in: give the optimizer per-layer
  parameter groups for it.

  Evaluation (``predict``) follows the paper's section 2.6: deterministic
  BinaryConnect evaluates the binary network (w_b = H·sign(w)); stochastic
  BinaryConnect evaluates the real-valued weights, clip(w, −H, H) = E[w_b]
  -- after the first step, the shadow weights themselves. ``model(x)``
  alone runs the shadow weights: the stochastic form's test network, not
  the deterministic form's.

* ``straight_through`` (Bengio, Léonard & Courville 2013, "Estimating or
  Propagating Gradients Through Stochastic Neurons for Conditional
  Computation"; Hubara, Courbariaux, Soudry, El-Yaniv & Bengio 2016,
  "Binarized Neural Networks"): binary *activations*, real weights. In a
  Sequential chain, the activation module after each hidden Linear/Conv2d
  (the first of its followers that is an activation: Tanh, ReLU, ...) is
  replaced by the binarisation of its input, h = sign(a) -- or a
  stochastic binary neuron, h = +1 with probability hard_sigmoid(a) -- and
  the backward pass sends δ = ∂L/∂h ⊙ 1_{|a| ≤ 1} (the hardtanh derivative,
  Hubara et al.'s STE; ``clip_grad=False``: the identity, Bengio et al.'s).
  The activation is *replaced*, not composed with: sign(relu(a)) would be
  +1 everywhere. Batch norm between the layer and the activation stays (it
  normalises a, as in Hubara et al.); the output layer's scores stay real.
  ``predict`` runs the binary network (sign, also after stochastic
  training: the deployed binary net, as Hubara et al. run it);
  ``model(x)`` alone runs the real activations.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend as _backend
from .. import nn, ops
from ..autodiff import Op, apply
from ..backend import get_array_module
from ..errors import ArgumentError
from ..nn.module import check_input
from ..tensor import Tensor
from .base import Rule, chain_blocks, layer_functions, register

# ==========================================================================
# The op: binarise forward, straight-through backward
# ==========================================================================


class Binarize(Op):
    """y = ±H: +H where x ≥ 0 (or, given uniform draws r, where
    r < hard_sigmoid(x/H)), −H elsewhere.

    vjp: ȳ ⊙ 1_{|x| ≤ H} (``clip_grad``) or ȳ.   jvp: ẋ ⊙ 1_{|x| ≤ H} or ẋ.
    Both are the straight-through estimator's map, not the derivative of
    the step (zero almost everywhere)."""

    name = "binarize"
    saves_inputs = False      # the vjp needs only the mask, computed forward

    def __init__(self, scale=1.0, clip_grad=True, noise=None):
        self.scale = float(scale)
        self.clip_grad = bool(clip_grad)
        self.noise = noise        # uniforms in [0, 1) of x's shape, or None
        self.mask = None

    def forward(self, x):
        xp = get_array_module(x)
        h = self.scale
        if self.noise is None:
            plus = x >= 0
        else:                     # P(r < p) = p for r ~ U[0, 1)
            plus = self.noise < xp.clip((x / h + 1) / 2, 0, 1)
            self.noise = None     # not needed backward: the graph need not keep it
        if self.clip_grad:
            self.mask = xp.abs(x) <= h
        return xp.where(plus, h, -h).astype(x.dtype)

    def vjp(self, g):
        return g * Tensor(self.mask) if self.clip_grad else g

    def jvp(self, dx):
        return dx * Tensor(self.mask) if self.clip_grad else dx


def binarize(x, scale=1.0, clip_grad=True, generator=None):
    """±``scale`` of ``x`` with the straight-through estimator backward.

    Deterministic (x ≥ 0 → +scale) without ``generator``; with a NumPy
    Generator, stochastic: +scale with probability hard_sigmoid(x/scale),
    so that E[y] = clip(x, −scale, scale). The uniforms are drawn in NumPy
    (float64) and moved to ``x``'s backend."""
    noise = None
    if generator is not None:
        noise = _backend.to_backend(generator.random(x.shape), x.backend)
    return apply(Binarize(scale, clip_grad, noise), x)


def run_layer(layer, x, weight):
    """``layer`` (a Linear or Conv2d) applied to ``x`` with ``weight`` in
    place of its own (the bias is the layer's)."""
    if isinstance(layer, nn.Linear):
        check_input(layer, x, range(1, 100), -1, layer.in_features)
        return ops.linear(x, weight, layer.bias)
    check_input(layer, x, (3, 4), -3, layer.in_channels)
    return ops.conv2d(x, weight, layer.bias, layer.stride, layer.padding, layer.dilation,
                      layer.groups)


def _check_flag(rule, key, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"rule {rule!r}: hyper-parameter {key} must be true or false, "
                            f"got {value!r}")


# ==========================================================================
# BinaryConnect: binary weights
# ==========================================================================


@register
class BinaryConnect(Rule):
    """Forward with w_b = ±H (sign of the shadow weight w, or stochastic
    with P(+H) = hard_sigmoid(w/H)); update = ∂L/∂w_b (STE), optionally
    zeroed where |w| > H; after the step, w ← clip(w, −H, H)."""

    name = "binary_connect"
    summary = "binary weights ±H forward, straight-through gradient to real weights in [-H, H]"
    paper = "Courbariaux, Bengio & David 2015"
    hparams = {"stochastic": False, "clip_grad": False, "scale": "fan_in"}
    unsupported = ()
    SCALES = ("fan_in", "glorot", None)

    def setup(self):
        o = self.options
        _check_flag(self.name, "stochastic", o["stochastic"])
        _check_flag(self.name, "clip_grad", o["clip_grad"])
        if isinstance(o["scale"], str) and o["scale"].lower() in ("none", "null"):
            o["scale"] = None                 # from the command line: scale=none
        if o["scale"] not in self.SCALES:
            raise ArgumentError(f"rule {self.name!r}: hyper-parameter scale must be 'fan_in', "
                                f"'glorot' or None (the paper's ±1), got {o['scale']!r}")
        #: {layer name: H}, the size of the layer's binary weights
        self.scales = {name: self.layer_scale(layer) for name, layer in self.layers}
        #: {layer name: the ±H array the last training forward pass used}
        self.last_binary_weights = {}

    def layer_scale(self, layer):
        shape = layer.weight.shape
        fan_in = int(np.prod(shape[1:]))
        fan_out = int(shape[0] * np.prod(shape[2:]))
        if self.options["scale"] == "fan_in":
            return 1.0 / math.sqrt(fan_in)
        if self.options["scale"] == "glorot":
            return math.sqrt(1.5 / (fan_in + fan_out))
        return 1.0

    def binary_weight(self, name, layer):
        """This step's ±H weights of ``layer`` (a fresh draw when stochastic)."""
        gen = self.generator if self.options["stochastic"] else None
        wb = binarize(layer.weight, self.scales[name], self.options["clip_grad"], gen)
        self.last_binary_weights[name] = wb.data
        return wb

    def layer_function(self, name, layer):
        return lambda x: run_layer(layer, x, self.binary_weight(name, layer))

    def forward(self, x):
        self.last_binary_weights = {}
        return super().forward(x)

    def test_weight(self, name, layer):
        """The weights ``predict`` uses: H·sign(w) (deterministic), or
        clip(w, −H, H) = E[w_b], the real-valued weights (stochastic)."""
        h = self.scales[name]
        if self.options["stochastic"]:
            return ops.clip(layer.weight, -h, h)
        return binarize(layer.weight, h, self.options["clip_grad"])

    def predict(self, x):
        self.follow_model()
        functions = {layer: (lambda x, name=name, layer=layer:
                             run_layer(layer, x, self.test_weight(name, layer)))
                     for name, layer in self.layers}
        with layer_functions(functions):
            return self.model(x)

    def after_step(self, ups, optimizer):
        for name, layer in self.layers:
            h = self.scales[name]
            w = layer.weight
            w.data = get_array_module(w.data).clip(w.data, -h, h)


# ==========================================================================
# Straight-through: binary activations
# ==========================================================================

ACTIVATION_TYPES = tuple(dict.fromkeys(nn.ACTIVATIONS.values()))


@register
class StraightThrough(Rule):
    """Hidden activations h = sign(a) (or stochastic ±1 with
    P(+1) = hard_sigmoid(a)); backward δ = ∂L/∂h ⊙ 1_{|a| ≤ 1} (or ∂L/∂h)."""

    name = "straight_through"
    summary = "binary activations sign(a) forward, straight-through (hardtanh) gradient back"
    paper = ("Bengio, Léonard & Courville 2013; "
             "Hubara, Courbariaux, Soudry, El-Yaniv & Bengio 2016")
    hparams = {"stochastic": False, "clip_grad": True}
    unsupported = (nn.ResidualBlock,)

    def setup(self):
        o = self.options
        _check_flag(self.name, "stochastic", o["stochastic"])
        _check_flag(self.name, "clip_grad", o["clip_grad"])
        _, blocks = chain_blocks(self.name, self.model)
        #: [(hidden layer name, the activation module after it, now binarised)]
        self.activations = []
        for name, layer, followers in blocks[:-1]:
            act = next((m for m in followers if isinstance(m, ACTIVATION_TYPES)), None)
            if act is None:
                after = ", ".join(type(m).__name__ for m in followers) or "nothing"
                raise ArgumentError(
                    f"rule {self.name!r} binarises the activation after each hidden layer, "
                    f"but layer {name!r} ({type(layer).__name__}) is followed by {after}; "
                    f"put an activation ({', '.join(nn.ACTIVATIONS)}) after it")
            self.activations.append((name, act))
        if not self.activations:
            raise ArgumentError(f"rule {self.name!r} binarises hidden activations, but the "
                                f"model has no hidden layer (one layer, {blocks[0][0]!r})")

    def binary_activation(self, a):
        gen = self.generator if self.options["stochastic"] else None
        return binarize(a, 1.0, self.options["clip_grad"], gen)

    def forward(self, x):
        functions = {act: self.binary_activation for _, act in self.activations}
        with layer_functions(functions):
            return super().forward(x)

    def predict(self, x):
        """The binary network: h = sign(a) (no draws, even after stochastic
        training)."""
        self.follow_model()
        functions = {act: (lambda a: binarize(a, 1.0, self.options["clip_grad"]))
                     for _, act in self.activations}
        with layer_functions(functions):
            return self.model(x)


__all__ = ["Binarize", "binarize", "run_layer", "BinaryConnect", "StraightThrough"]
