"""PEPITA -- "Present the Error to Perturb the Input To modulate Activity"
(Dellaferrera & Kreiman 2022, "Error-driven Input Modulation: Solving the
Credit Assignment Problem without a Backward Pass", ICML; analysed in
Srinivasan, Mignacco, Sorbaro, Refinetti, Cooper, Kreiman & Dellaferrera,
"Forward Learning with Top-Down Feedback: Empirical and Analytical
Characterization", arXiv:2302.05440, ICLR 2024).

No error travels backward. The network runs forward twice on each batch,
and every layer learns from how its own activity changed between the two
passes:

    standard pass     h₀ = x,              hₗ = σₗ(Wₗ hₗ₋₁ + bₗ),   ℓ = 1 … L
                      e = softmax(h_L) − onehot(y)                 (output error)
    modulated pass    h₀ᵉʳʳ = x + F e,     hₗᵉʳʳ = σₗ(Wₗ hₗ₋₁ᵉʳʳ + bₗ)
                      eᵉʳʳ = softmax(h_Lᵉʳʳ) − onehot(y)
    updates           ΔWₗ = −η (hₗ − hₗᵉʳʳ) ⊗ hₗ₋₁ᵉʳʳ      hidden layers ℓ < L
                      ΔW_L = −η  eᵉʳʳ      ⊗ h_{L−1}ᵉʳʳ      last layer

averaged over the batch. The first layer's input is the *modulated* input
h₀ᵉʳʳ = x + F e, every layer's input is its input in the modulated pass,
and the last layer learns from the error of the modulated pass (as in the
authors' code; Srinivasan et al.'s code uses the first-pass e, which
differs only at second order in F). ``updates`` returns −ΔWₗ / η,
the gradient sign convention of every minigrad rule. Here h_L is the last
Linear layer's output (the logits); the papers' softmax output layer is
the softmax inside e. With ``loss="mse"`` the output is linear and
e = h_L − t.

F is a fixed random (input size d) × (classes C) matrix,

    F = f_scale · U(−√(6/d), √(6/d)),   f_scale = 0.05,

i.e. the He-uniform scale of a layer with d inputs, shrunk 20 times (the
authors' ``he_uniform`` F and their tutorial; Srinivasan et al.'s code
uses √(6/C) instead, a larger F).

Why it learns: to first order in F, hₗ − hₗᵉʳʳ ≈ −σ′ₗ ⊙ Wₗ (hₗ₋₁ − hₗ₋₁ᵉʳʳ),
so the first hidden layer receives −σ′₁ ⊙ W₁ F e: direct feedback
alignment with the effective feedback matrix −W₁ F, and layer ℓ
receives −σ′ₗ ⊙ Wₗ⋯W₁ F e (Srinivasan et al.: an "adaptive" feedback
alignment whose feedback Bₗ = −Wₗ⋯W₁F changes as the weights learn).
With F = 0 the two passes coincide, the hidden layers receive nothing and
only the last layer learns (the delta rule on its random features).

Weight alignment (:meth:`Pepita.weight_alignment`):

* ``"F"`` -- the papers' measure, as the authors' code computes it: the
  angle between F and the product of the forward weights
  (W_L ⋯ W₁)ᵀ = W₁ᵀ ⋯ W_Lᵀ, both d × C, flattened
  (Dellaferrera & Kreiman's "angle between Ws and F"; Srinivasan et
  al.'s ``al_total``). The hidden updates carry −W F, so learning drives
  the network towards *anti*-alignment: the angle moves above 90°.
* one entry per hidden layer ℓ: the angle between the effective feedback
  −Wₗ⋯W₁F and the matrix backprop would use, (W_L⋯Wₗ₊₁)ᵀ (the FA sense
  of weight alignment; below 90° means the layer's signal helps).

The authors' hyper-parameters (the optimiser's and the model's, not this
rule's; from their README, ``functions.py`` and CIFAR-10 tutorial at
github.com/GiorgiaD/PEPITA): SGD with momentum 0.9, batch 64, 100 epochs,
learning rate divided by 10 at epochs 60 and 90; η = 0.1 for MNIST, 0.01
for CIFAR-10; inputs in [0, 1]; a 784-1024-10 (3072-1024-10) ReLU network
with He-uniform weights U(−√(6/fan_in), √(6/fan_in)), no biases, and
dropout 10 % on the hidden layer with the *same* mask in both passes (so
the mask multiplies hₗ − hₗᵉʳʳ too). Here biases, when a layer has them,
learn by the same rule as weights from a constant input 1
(Δbₗ = −η (hₗ − hₗᵉʳʳ), Δb_L = −η eᵉʳʳ), and an ``nn.Dropout`` draws one
mask per step, shared by the two passes. (In a quick Fashion-MNIST check
of this setting, η = 0.1 diverged within 3 epochs; η = 0.01 trained
steadily.)

Scope: a Sequential chain of Linear layers (after an optional Flatten)
with parameter-free modules (activations, dropout) between them, on flat
inputs. The papers' convolutional variant averages the update over the
output positions in a way specific to their code, and is not provided:
a Conv2d (or a normalisation layer) is refused, naming the layer.
Everything is plain array code: two forward passes, no graph recorded,
no call into the reverse-mode engine. Each layer's update is computed as
soon as the modulated pass reaches the layer, so what is kept between the
passes is the input (until x + Fe is formed), the standard pass's hidden
activities hₗ (each until the modulated pass reaches layer ℓ), the
modulated pass's current input and the dropout masks; these arrays are
reported to an active memory tracker (``minigrad.inspect.activation_memory``),
since no graph node holds them.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend as _backend
from .. import nn
from ..autodiff import no_grad
from ..backend import get_array_module
from ..errors import ArgumentError
from ..tensor import Tensor
from .base import (Rule, angle, chain_blocks, hold_arrays, register, release_arrays,
                   target_array)

_LINEAR_ONLY = ("pepita trains a chain of Linear layers with parameter-free modules "
                "(activations, dropout, an input Flatten) between them")


def _as_array(v):
    return v.data if isinstance(v, Tensor) else v


def projection_matrix(d, n_classes, f_scale, rng, dtype=np.float64):
    """F = f_scale · U(−√(6/d), √(6/d)), shape (d, n_classes): the fixed
    random matrix that carries the output error to the input."""
    limit = math.sqrt(6.0 / d)
    return (f_scale * rng.uniform(-limit, limit, size=(d, n_classes))).astype(dtype)


@register
class Pepita(Rule):
    """x′ = x + F e; ΔWₗ = −η (hₗ − hₗᵉʳʳ) ⊗ hₗ₋₁ᵉʳʳ, ΔW_L = −η eᵉʳʳ ⊗ h_{L−1}ᵉʳʳ."""

    name = "pepita"
    summary = ("PEPITA: a second forward pass on the error-modulated input x + Fe "
               "replaces the backward pass")
    paper = "Dellaferrera & Kreiman 2022; Srinivasan et al. 2024"
    hparams = {"f_scale": 0.05}
    supported = (nn.Linear,)
    unsupported = (nn.Conv2d, nn.ResidualBlock, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)

    # -- the model it can train -------------------------------------------------------
    def check_model(self):
        prefix, blocks = chain_blocks(self.name, self.model)
        names = {id(m): n for n, m in self.model.named_children()}
        for name, layer, _ in blocks:
            if not isinstance(layer, nn.Linear):
                raise ArgumentError(f"rule 'pepita' cannot train layer {name!r} "
                                    f"({type(layer).__name__}): {_LINEAR_ONLY}")
        for module in prefix + [m for _, _, followers in blocks for m in followers]:
            if next(iter(module.parameters()), None) is not None:
                raise ArgumentError(
                    f"rule 'pepita' cannot train layer {names[id(module)]!r} "
                    f"({type(module).__name__}), which has parameters: {_LINEAR_ONLY}")
        trailing = [m for m in blocks[-1][2] if not isinstance(m, nn.Identity)]
        if trailing:
            raise ArgumentError(
                f"rule 'pepita': the last Linear layer must give the model's output (the "
                f"logits), but {names[id(trailing[0])]!r} ({type(trailing[0]).__name__}) "
                "follows it; remove it (the softmax is part of pepita's error)")
        super().check_model()
        self.prefix, self.blocks = prefix, blocks

    def setup(self):
        f_scale = self.options["f_scale"]
        if (not isinstance(f_scale, numbers.Real) or isinstance(f_scale, bool)
                or not math.isfinite(f_scale) or f_scale < 0):
            raise ArgumentError(f"rule 'pepita': f_scale (the scale of the projection matrix "
                                f"F) must be a finite number >= 0, got {f_scale!r}; the "
                                "paper's value is 0.05")
        if self.loss_name not in ("cross_entropy", "mse"):
            raise ArgumentError(f"rule 'pepita': loss must be 'cross_entropy' or 'mse', got "
                                f"{self.loss_name!r}")
        first, last = self.blocks[0][1], self.blocks[-1][1]
        weight = first.weight
        f = projection_matrix(first.in_features, last.out_features, float(f_scale),
                              self.generator, weight.data.dtype)
        self.F = _backend.to_backend(f, weight.backend)

    # -- the two forward passes --------------------------------------------------------
    def _run(self, modules, h, masks, scope=None):
        """Apply parameter-free ``modules`` to the array ``h`` without
        recording a graph. A Dropout in training mode draws its mask once per
        step (on the first pass) and reuses it on the second; the mask is
        kept until the update (and counted under layer ``scope`` when memory
        is measured)."""
        for m in modules:
            if isinstance(m, nn.Dropout) and m.training and m.p > 0:
                if id(m) not in masks:
                    masks[id(m)] = self._dropout_mask(m, h)
                    hold_arrays((self, "mask", id(m)), [masks[id(m)]], scope)
                h = h * masks[id(m)]
            else:
                with no_grad():
                    h = _as_array(m(Tensor(h)))
        return h

    @staticmethod
    def _dropout_mask(module, h):
        xp = get_array_module(h)
        if module.p >= 1:
            return xp.zeros(h.shape, dtype=h.dtype)
        gen = (module.generator if module.generator is not None
               else _backend.default_generator(_backend.backend_of(h)))
        keep = gen.random(h.shape) >= module.p
        return keep.astype(h.dtype) * h.dtype.type(1.0 / (1.0 - module.p))

    def layer(self, i, h, masks):
        """hₗ = σₗ(Wₗ h + bₗ) (then dropout) for block ``i`` on the array ``h``."""
        name, layer, followers = self.blocks[i]
        a = h @ layer.weight.data.T                               # Wₗ hₗ₋₁ (+ bₗ)
        if layer.bias is not None:
            a = a + layer.bias.data
        return self._run(followers, a, masks, name)               # σₗ(·), dropout

    def forward_pass(self, h0, masks):
        """``[(input of layer ℓ, activity hₗ)]`` for ℓ = 1 … L, from the input
        ``h0`` of the first Linear layer (hₗ is taken after the layer's
        activation and dropout; h_L is the output)."""
        trace, h = [], h0
        for i in range(len(self.blocks)):
            out = self.layer(i, h, masks)
            trace.append((h, out))
            h = out
        return trace

    def targets(self, y, out, xp):
        """The target t of the output error (integer labels: one-hot rows)."""
        return target_array(self.name, y, out)

    def output_error(self, out, t, xp):
        """e = softmax(out) − t (cross-entropy) or out − t (mse)."""
        if self.loss_name == "mse":
            return out - t
        z = out - out.max(axis=1, keepdims=True)
        p = xp.exp(z)
        return p / p.sum(axis=1, keepdims=True) - t

    def _loss(self, out, t, xp):
        if self.loss_name == "mse":
            return float(((out - t) ** 2).mean())
        z = out - out.max(axis=1, keepdims=True)
        log_p = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))
        return float(-(t * log_p).sum(axis=1).mean())

    def modulated_input(self, x0, e):
        """x′ = x + F e for every example (rows of ``x0`` and ``e``)."""
        return x0 + e @ self.F.T

    def updates(self, x, y):
        """The two passes, each layer learning as soon as the modulated pass
        reaches it. What is kept between the passes -- the input until x + Fe
        is formed, every hidden activity hₗ of the standard pass until the
        modulated pass reaches layer ℓ, the modulated pass's input of the
        current layer, the dropout masks -- is reported to an active
        :class:`~minigrad.autodiff.track_saved_memory` (nothing else is done
        with it)."""
        self.follow_model()
        masks = {}
        first_layer = self.blocks[0][0]
        x0 = self._run(self.prefix, _as_array(x), masks, first_layer)
        if x0.ndim != 2:
            raise ArgumentError(
                f"rule 'pepita' needs flat inputs: the first Linear layer "
                f"{self.blocks[0][0]!r} receives shape {tuple(x0.shape)}; put an "
                "nn.Flatten() first")
        xp = get_array_module(x0)
        n = x0.shape[0]
        last = len(self.blocks) - 1
        # standard pass: h_l (kept for the update of layer l), and the output error e
        hold_arrays((self, "input"), [x0], first_layer)
        standard, h = [], x0
        for i, (name, _, _) in enumerate(self.blocks):
            h = self.layer(i, h, masks)
            if i < last:
                standard.append(h)
                hold_arrays((self, "standard", i), [h], name)
        out = h
        t = self.targets(y, out, xp)
        e = self.output_error(out, t, xp)
        self.last_output = Tensor(out)
        self.last_loss = self._loss(out, t, xp)
        # modulated pass on x + F e, with the same dropout masks
        x_mod = self.modulated_input(x0, e)
        self.last_modulated_input = x_mod
        release_arrays((self, "input"))
        hold_arrays((self, "input"), [x_mod], first_layer)
        self.last_signals, ups = {}, {}
        h_in = x_mod                                               # hₗ₋₁ᵉʳʳ
        for i, (name, layer, _) in enumerate(self.blocks):
            h_mod = self.layer(i, h_in, masks)                     # hₗᵉʳʳ
            if i == last:
                delta = self.output_error(h_mod, t, xp)            # eᵉʳʳ
            else:
                delta = standard[i] - h_mod                        # hₗ − hₗᵉʳʳ
                standard[i] = None
                release_arrays((self, "standard", i))
            signal = delta / n                                     # batch mean, as the paper
            self.last_signals[name] = signal
            dtype = layer.weight.data.dtype
            prefix = f"{name}." if name else ""
            ups[prefix + "weight"] = (signal.T @ h_in).astype(dtype)   # δ ⊗ hₗ₋₁ᵉʳʳ
            if layer.bias is not None:
                ups[prefix + "bias"] = signal.sum(axis=0).astype(dtype)
            release_arrays((self, "input"))
            if i < last:
                hold_arrays((self, "input"), [h_mod], name)         # hₗᵉʳʳ: the next layer's input
            h_in = h_mod
        for key in masks:
            release_arrays((self, "mask", key))
        return ups

    # -- alignment ---------------------------------------------------------------------
    def weight_alignment(self):
        """``{"F": angle(F, (W_L⋯W₁)ᵀ), hidden layer ℓ: angle(−Wₗ⋯W₁F, (W_L⋯Wₗ₊₁)ᵀ)}``
        in degrees (see the module docstring)."""
        weights = [layer.weight.data for _, layer, _ in self.blocks]
        total = weights[0]
        for w in weights[1:]:
            total = w @ total                                   # W_L ⋯ W₁ (C × d)
        out = {"F": angle(self.F, total.T)}
        above = [None] * len(weights)                           # W_L ⋯ W_{ℓ+1}
        acc = None
        for i in range(len(weights) - 1, 0, -1):
            acc = weights[i] if acc is None else acc @ weights[i]
            above[i - 1] = acc
        below = self.F
        for i, (name, _, _) in enumerate(self.blocks[:-1]):
            below = weights[i] @ below                          # Wₗ ⋯ W₁ F (nₗ × C)
            out[name] = angle(-below, above[i].T)
        return out

    # -- state -------------------------------------------------------------------------
    def state_dict(self):
        state = super().state_dict()
        state["feedback"] = {"F": Tensor(self.F)}
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        f = state["feedback"]["F"]
        self.F = _backend.to_backend(_as_array(f), self.blocks[0][1].weight.backend)
