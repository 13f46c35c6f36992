"""Perturbation rules: learning from how the loss changes when something is
jiggled at random. Forward passes only -- no backward pass, no
forward-mode tangent -- and nothing but the scalar loss (per batch or per
example) travels from the output to the weights.

``spsa`` -- simultaneous perturbation of the weights
-----------------------------------------------------
Spall 1992, "Multivariate Stochastic Approximation Using a Simultaneous
Perturbation Gradient Approximation" (IEEE Trans. Automatic Control); the
two-point zeroth-order estimator of Nesterov & Spokoiny 2017 ("Random
Gradient-Free Minimization of Convex Functions"), of Feng et al. 2023,
"Does Federated Learning Really Need Backpropagation?" (BAFFLE), and of
"Stepping Forward on the Last Mile" (2024); MeZO (Malladi et al. 2023)
is the same estimator with K = 1. Every parameter
moves at once along a random direction v ∈ ℝⁿ (n = all parameters of the
model), and the change of the batch loss f along it is measured by a
central difference:

    dₖ = (f(θ + ε vₖ) − f(θ − ε vₖ)) / 2ε          (≈ vₖᵀ ∇f, error O(ε²))
    ĝ  = (1/K) Σₖ dₖ vₖ

E[v vᵀ] = I makes ĝ an unbiased estimate of ∇f up to the O(ε²) error of
the central difference (exact when f is quadratic: f(θ + εv) − f(θ − εv)
= 2ε vᵀ∇f has no higher term). With Gaussian v it is moreover exactly
unbiased for the gradient of the smoothed loss f_ε(θ) = E f(θ + εv)
(Stein's lemma: E[f(θ + εv) v]/ε = ∇f_ε, and v → −v gives the other
half), which differs from ∇f by O(ε²) -- the same statement as for
``node_perturbation`` below, with the noise on the weights. The directions are Gaussian,
v ~ N(0, Iₙ), by default (the choice of the two papers above; every
direction of ℝⁿ is equally likely); ``distribution="rademacher"`` draws
v ∈ {−1, +1}ⁿ as Spall did (his ĝᵢ = Δf / (2ε vᵢ) equals Δf vᵢ / 2ε for
±1 entries). Variance: with a = ∇f and dₖ = vₖᵀa exactly,

    Gaussian    E‖ĝ − a‖² = (n + 1) ‖a‖² / K        (cov ‖a‖² I + a aᵀ)
    Rademacher  E‖ĝ − a‖² = (n − 1) ‖a‖² / K

so one direction carries about one n-th of the gradient: the price of
learning from a single number per direction, and why the rule is slow on
models with many parameters (learning rates must shrink ~1/n for SGD to
stay stable; ``lr_scale`` shrinks the training CLI's default).

Cost: 2K + 1 forward passes per batch -- the 2K perturbed ones and one at
θ, which gives ``last_loss`` and ``last_output`` (the unperturbed batch
loss and output, as every rule reports) and is the one pass that updates
batch-norm running statistics; the perturbed passes leave them as they
were. The parameters are never written to: each perturbed pass runs the
model with θ ± εv in fresh arrays put in the parameters' places (as
:func:`minigrad.functional.functional_call` does), and the very same
Parameter objects are put back, so the model is bit for bit what it
was. A dropout layer draws one mask per step, shared by all 2K + 1
passes (else f(θ+εv) and f(θ−εv) would differ by more than the
perturbation). No activation is kept between the passes (only the
scalar losses): the rule's extra memory is parameter-sized (v, θ ± εv).
The pieces are public: ``sample_direction()`` draws v, and
``directional_derivative(x, y, v)`` is dₖ for a given v.

ε: the central difference loses digits to rounding as ε shrinks (error
≈ u·|f|/ε, u the unit roundoff) and gains O(ε²) truncation as it grows.
Measured on the digits mlp([64, 32, 32, 10]) (relative to a typical
directional derivative): float64 -- ~1e-5 at ε = 1e-3, ~1e-8 at 1e-5;
float32 (u ≈ 6e-8) -- ~3e-4 at ε = 1e-3, ~2e-3 at 1e-4, ~2e-2 at 1e-5,
where rounding dominates. Both -- ~3e-2 at ε = 1e-2 and worse than 30 %
at 0.1 (truncation). Hence the default ε = 1e-3, which float32 needs;
float64 can go lower.

``node_perturbation`` -- the likelihood-ratio (score-function) rule
------------------------------------------------------------------
Williams 1992, "Simple Statistical Gradient-Following Algorithms for
Connectionist Reinforcement Learning" (REINFORCE; node perturbation:
Flower & Jabri 1993, analysed by Werfel, Xie & Seung 2005); Jiang et al.,
"One Forward is Enough for Neural Network Training via Likelihood Ratio
Method", ICLR 2024. Gaussian noise is added to every learnable
layer's pre-activation, independently for every example and unit:

    z̃ₗ = Wₗ h̃ₗ₋₁ + bₗ + σ ξₗ,     ξₗ ~ N(0, I),     h̃ₗ = fₗ(z̃ₗ)

(h̃ the activities of this noisy pass; the noise of layer ℓ reaches every
layer above it). The density of z̃ₗ given h̃ₗ₋₁ is N(Wₗh̃ₗ₋₁ + bₗ, σ²I),
whose score is ∇_{Wₗ} log p = (ξₗ / σ) h̃ₗ₋₁ᵀ; so for the *smoothed*
per-example loss Jᵢ = E_ξ[ℓᵢ(noisy)]

    ∇_{Wₗ} Jᵢ = E[ (ℓᵢ(noisy) − bᵢ) / σ · ξₗ,ᵢ h̃ₗ₋₁,ᵢᵀ ]

for any baseline bᵢ that does not depend on ξ. The rule takes bᵢ = ℓᵢ(clean),
the per-example loss of a pass without noise: the control variate that
removes the huge term ℓᵢ ξ / σ whose mean is zero (it does not change the
mean, since ξₗ is independent of h̃ₗ₋₁ and of the clean pass). Per example,
per layer, the activity-gradient estimate and the updates are

    ĝ_{zₗ,i} = ((ℓᵢ(noisy) − ℓᵢ(clean)) / σ) ξₗ,ᵢ
    ĝ_{Wₗ}  = (1/N) Σᵢ ĝ_{zₗ,i} h̃ₗ₋₁,ᵢᵀ      (h̃ₗ₋₁: the layer's input in the NOISY pass)
    ĝ_{bₗ}  = (1/N) Σᵢ ĝ_{zₗ,i}

averaged over K noise draws. The input is the noisy pass's because the
score-function identity is about that pass: with it ĝ is *exactly*
unbiased for the gradient of the smoothed loss (1/N) Σᵢ Jᵢ. The smoothed
loss is not the loss: J = ℓ + (σ²/2) tr ∇²_z ℓ + O(σ⁴), so as an estimate
of the true gradient (backprop's) ĝ is biased by O(σ²) at finite σ, and
its variance does not vanish as σ → 0 (the leading term is
(∇_zℓ · ξ) ξ h̃ᵀ, independent of σ): small σ is free of bias but pays in
floating-point cancellation, as ε does for spsa.

``antithetic=True`` runs each draw twice, with +ξ and −ξ; each noisy pass
contributes its score estimate (−ξ for the second), and the two average to

    ĝ_{zₗ,i} = ((ℓᵢ(+) − ℓᵢ(−)) / 2σ) ξₗ,ᵢ
    ĝ_{Wₗ}   = (1/2N) Σᵢ ((ℓᵢ(+) − ℓᵢ(clean)) ξₗ,ᵢ h̃⁺ₗ₋₁,ᵢᵀ − (ℓᵢ(−) − ℓᵢ(clean)) ξₗ,ᵢ h̃⁻ₗ₋₁,ᵢᵀ) / σ

(equal to ĝ_{zₗ,i} h̃ₗ₋₁,ᵢᵀ where the two inputs agree -- always for the
first layer). Still exactly unbiased for the smoothed loss; the even part
of ℓ(σξ) − ℓ(clean) (curvature, the mismatch of the baseline) cancels, so
the variance per draw is lower: for the activity gradient of one noisy
layer, Var(one-sided) − Var(antithetic) = E[f_even(ξ)² ‖ξ‖²] / σ² ≥ 0,
f_even the even part of f(ξ) = ℓ(σξ) − ℓ(clean) (the cross term is odd
in ξ). The gain grows with σ (f_even ≈ (σ²/2) ξᵀ∇²ℓ ξ) and vanishes as
σ → 0; it costs two noisy passes per draw, so at small σ two one-sided
draws are the better buy.

Per pass one scalar per *example* comes back (not one per batch, as for
spsa), and every example has its own noise: the weight update averages N
independent estimates, so its noise shrinks like 1/√N, and one example's
estimate of its activity gradient aᵢ (over all D noisy units, not the n
parameters) has variance ‖aᵢ‖²(D + 1), as spsa's has (n + 1)‖a‖².
Float32: the losses' rounding, ~1e-7·ℓ, divided by σ = 0.01 (the
default) is ~1e-5, far below the signal. ``last_signals`` holds ĝ_z / N per layer (the estimate of
∂L/∂zₗ for the batch-mean loss L, the quantity backprop's signals hold),
``last_noise`` the ξ of the last draw, ``last_loss`` / ``last_output``
the clean pass's. Cost: K + 1 forward passes (2K + 1 antithetic).
Defaults σ = 0.01, K = 8: on the digits mlp([64, 32, 32, 10]) one draw
per step gives the first layer an update ~20 times the gradient's norm
at ~90° to it, and the run ends below the shallow control; eight draws
beat it (0.95 after 5 epochs, shallow 0.86; see the tests).

Scope: the learnable layers are Linear and Conv2d (for a convolution
every output element gets its own noise, and ĝ_W is the correlation of
ĝ_z with the unfolded input, as for backprop's weight gradient); any
other module with parameters (batch or layer norm, a residual block with
its norms) is refused, naming the layer -- its parameters would need
noise of their own. Each learnable layer must run once per pass. A
dropout layer draws one mask per step, shared by all passes.
"""
from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

from .. import backend as _backend
from .. import nn, ops
from ..autodiff import no_grad
from ..backend import get_array_module
from ..errors import ArgumentError
from ..tensor import Tensor
from .base import (Rule, frozen_buffers, hold_arrays, layer_functions, register,
                   release_arrays)


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def _count(rule, key, value, what):
    """``value`` as an int >= 1, or an ArgumentError naming the rule and ``key``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ArgumentError(f"rule {rule!r}: {key} ({what}) must be an integer >= 1, got "
                            f"{value!r}")
    return int(value)


def _positive(rule, key, value, what):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise ArgumentError(f"rule {rule!r}: {key} ({what}) must be a finite number > 0, "
                            f"got {value!r}")
    return float(value)


def _flag(rule, key, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"rule {rule!r}: {key} must be true or false, got {value!r}")
    return bool(value)


def _check_loss(rule, loss):
    if loss not in ("cross_entropy", "mse"):
        raise ArgumentError(f"rule {rule!r}: loss must be 'cross_entropy' or 'mse', got "
                            f"{loss!r}")


def _dropout_mask(module, shape, dtype, backend):
    """One inverted-dropout mask, drawn as ``ops.dropout`` draws it."""
    xp = _backend.get_xp(backend)
    if module.p >= 1:
        return xp.zeros(shape, dtype=dtype)
    gen = (module.generator if module.generator is not None
           else _backend.default_generator(backend))
    keep = gen.random(shape) >= module.p
    return keep.astype(dtype) * np.dtype(dtype).type(1.0 / (1.0 - module.p))


def shared_dropout_functions(model):
    """``{Dropout module: forward}`` making every active dropout layer of
    ``model`` draw its mask once and reuse it for every later pass on an
    input of the same shape: the passes of one step see one network."""
    functions = {}
    for _, m in model.named_modules():
        if isinstance(m, nn.Dropout) and m.training and m.p > 0:
            masks = {}

            def forward(x, m=m, masks=masks):
                key = tuple(x.shape)
                if key not in masks:
                    masks[key] = _dropout_mask(m, key, x.data.dtype, x.backend)
                return x * Tensor(masks[key])

            functions[m] = forward
    return functions


# --------------------------------------------------------------------------
# spsa
# --------------------------------------------------------------------------


@register
class SimultaneousPerturbation(Rule):
    """dₖ = (f(θ + εvₖ) − f(θ − εvₖ)) / 2ε,  ĝ = (1/K) Σₖ dₖ vₖ,  v ~ N(0, I) over all θ."""

    name = "spsa"
    summary = ("SPSA / two-point zeroth-order: central differences of the loss along "
               "random directions of all the weights at once")
    paper = "Spall 1992; Feng et al. 2023; Nesterov & Spokoiny 2017"
    hparams = {"n_samples": 1, "epsilon": 1e-3, "distribution": "gaussian"}
    supported = (nn.Module,)       # every parameter is perturbed alike
    unsupported = ()
    # one direction carries ~1/n of the gradient and its update is ~√n times
    # longer than the gradient: SGD needs far smaller steps (measured on the
    # digits mlp, n ≈ 3.5k, K = 1: 5e-4 learns, 5e-3 does not)
    lr_scale = 0.01

    def setup(self):
        self.n_samples = _count(self.name, "n_samples", self.options["n_samples"],
                                "K, the random directions averaged per step")
        self.epsilon = _positive(self.name, "epsilon", self.options["epsilon"],
                                 "the finite-difference step; float32 wants >= 1e-3")
        self.distribution = self.options["distribution"]
        if self.distribution not in ("gaussian", "rademacher"):
            raise ArgumentError(f"rule 'spsa': distribution must be 'gaussian' or "
                                f"'rademacher', got {self.distribution!r}")
        _check_loss(self.name, self.loss_name)
        self.last_directional_derivatives = []

    # -- the pieces ---------------------------------------------------------------------
    def sample_direction(self):
        """``{parameter name: array}``: one direction v over all the model's
        parameters, from the rule's generator (one draw of n numbers, split in
        parameter order; Gaussian or ±1)."""
        named = list(self.model.named_parameters())
        n = sum(p.data.size for _, p in named)
        if self.distribution == "gaussian":
            flat = self.generator.standard_normal(n)
        else:
            flat = 2.0 * self.generator.integers(0, 2, size=n) - 1.0
        out, start = {}, 0
        for name, p in named:
            piece = flat[start:start + p.data.size].reshape(p.shape).astype(p.data.dtype)
            out[name] = _backend.to_backend(piece, p.backend)
            start += p.data.size
        return out

    def _batch_loss(self, x, y):
        out = self.model(x)
        return out, float(self.loss(out, y).item())

    def _difference(self, x, y, direction, slots):
        """(f(θ + εv) − f(θ − εv)) / 2ε, running the model on θ ± εv put in
        the parameters' places (``slots``), the originals put back after."""
        eps = self.epsilon
        values = []
        for sign in (1.0, -1.0):
            moved = [Tensor(p.data + p.data.dtype.type(sign * eps) * direction[name])
                     for name, p, _ in slots]
            with _substituted(slots, moved):
                values.append(self._batch_loss(x, y)[1])
        return (values[0] - values[1]) / (2.0 * eps)

    def directional_derivative(self, x, y, direction):
        """(f(θ + εv) − f(θ − εv)) / 2ε for ``direction`` v = ``{name: array}``
        (≈ vᵀ∇f, error O(ε²)); the model's parameters are not touched."""
        slots = parameter_slots(self.model)
        with layer_functions(shared_dropout_functions(self.model)), no_grad(), \
                frozen_buffers(self.model):
            return self._difference(x, y, direction, slots)

    def updates(self, x, y):
        """ĝ = (1/K) Σₖ dₖ vₖ for every parameter, after one unperturbed pass
        (``last_loss``, ``last_output``); ``last_directional_derivatives``
        keeps the dₖ. No layer receives a signal: ``last_signals`` is empty."""
        self.follow_model()
        self.last_signals = {}
        slots = parameter_slots(self.model)
        with layer_functions(shared_dropout_functions(self.model)), no_grad():
            out, loss = self._batch_loss(x, y)              # f(θ): the one clean pass
            self.last_output, self.last_loss = out, loss
            ups = {name: None for name, _, _ in slots}
            self.last_directional_derivatives = []
            with frozen_buffers(self.model):
                for _ in range(self.n_samples):
                    v = self.sample_direction()
                    d = self._difference(x, y, v, slots)
                    self.last_directional_derivatives.append(d)
                    for name, vk in v.items():
                        term = vk.dtype.type(d) * vk                  # dₖ vₖ
                        ups[name] = term if ups[name] is None else ups[name] + term
        k = self.n_samples
        return {name: (u / u.dtype.type(k) if k > 1 else u) for name, u in ups.items()}


def parameter_slots(model):
    """``[(name, Parameter, [(module, attribute), ...])]`` in parameter order:
    every place a parameter is held (a tied weight is held in two)."""
    places = {}
    for _, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, nn.Parameter):
                places.setdefault(id(value), []).append((module, attr))
    return [(name, p, places[id(p)]) for name, p in model.named_parameters()]


@contextlib.contextmanager
def _substituted(slots, values):
    """Run with ``values`` (Tensors, in slot order) in the parameters' places;
    put the very same Parameter objects back afterwards, whatever happens
    (what :func:`minigrad.functional.functional_call` does, here for every
    place a tied parameter is held, and without looking the names up on
    every pass)."""
    done = []
    try:
        for (_, p, places), value in zip(slots, values):
            for module, attr in places:
                setattr(module, attr, value)
                done.append((module, attr, p))
        yield
    finally:
        for module, attr, p in reversed(done):
            setattr(module, attr, p)


# --------------------------------------------------------------------------
# node_perturbation
# --------------------------------------------------------------------------


def _conv_columns(layer, h):
    """unfold (im2col) of the array ``h`` as ``layer`` (a Conv2d) sees it:
    (N, C·kh·kw, L), with the layer's padding, stride and dilation."""
    xp = get_array_module(h)
    kh, kw = layer.kernel_size
    pair = (lambda v: (v, v) if isinstance(v, (int, np.integer)) else tuple(v))
    d = pair(layer.dilation)
    padding = layer.padding
    if padding == "valid":
        padding = 0
    if padding == "same":                      # as ops.conv2d does it
        total = (d[0] * (kh - 1), d[1] * (kw - 1))
        before = (total[0] // 2, total[1] // 2)
        if total[0] % 2 or total[1] % 2:
            h = xp.pad(h, ((0, 0), (0, 0), (before[0], total[0] - before[0]),
                           (before[1], total[1] - before[1])))
            padding = 0
        else:
            padding = before
    with no_grad():
        return ops.unfold(Tensor(h), (kh, kw), d, padding, layer.stride).data


def weight_update(layer, g_z, h_in):
    """Σ over examples (and positions) of g_z ⊗ h_in for ``layer``: the
    weight gradient that an activity gradient ``g_z`` at the layer's output
    gives, for input ``h_in`` (arrays). Linear: g_zᵀ h; Conv2d: the
    correlation of g_z with the unfolded input, group by group."""
    if isinstance(layer, nn.Linear):
        g = g_z.reshape(-1, g_z.shape[-1])
        return g.T @ h_in.reshape(-1, h_in.shape[-1])
    xp = get_array_module(g_z)
    cols = _conv_columns(layer, h_in)                          # (N, C·kh·kw, L)
    n, c_out = g_z.shape[:2]
    groups = layer.groups
    g = g_z.reshape(n, groups, c_out // groups, -1)            # (N, G, C_out/G, L)
    cols = cols.reshape(n, groups, cols.shape[1] // groups, cols.shape[2])
    w = xp.einsum("ngol,ngkl->gok", g, cols)                   # (G, C_out/G, C/G·kh·kw)
    return w.reshape(layer.weight.shape)


def bias_update(layer, g_z):
    if isinstance(layer, nn.Linear):
        return g_z.reshape(-1, g_z.shape[-1]).sum(axis=0)
    return g_z.sum(axis=(0, 2, 3))


@register
class NodePerturbation(Rule):
    """ĝ_{zₗ,i} = ((ℓᵢ(z + σξ) − ℓᵢ(z)) / σ) ξₗ,ᵢ,  ĝ_{Wₗ} = (1/N) Σᵢ ĝ_{zₗ,i} h̃ₗ₋₁,ᵢᵀ."""

    name = "node_perturbation"
    summary = ("node perturbation / likelihood ratio: Gaussian noise on every "
               "pre-activation, the change of each example's loss times the noise")
    paper = "Williams 1992; Jiang et al. 2024"
    hparams = {"sigma": 1e-2, "n_samples": 8, "antithetic": False}
    supported = (nn.Linear, nn.Conv2d)
    # measured on the digits mlp with K = 8: SGD at 0.02 learns best, 0.05 is too large
    lr_scale = 0.4
    unsupported = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.ResidualBlock)

    def check_model(self):
        learnable = {id(m) for _, m in self.layers}
        for name, m in self.model.named_modules():
            if id(m) in learnable or isinstance(m, self.unsupported):
                continue
            if next(iter(m.parameters(recurse=False)), None) is not None:
                raise ArgumentError(
                    f"rule {self.name!r} cannot train layer {name!r} ({type(m).__name__}): "
                    "it perturbs the pre-activations of Linear and Conv2d layers, and this "
                    "layer's parameters would need noise of their own")
        super().check_model()

    def setup(self):
        self.sigma = _positive(self.name, "sigma", self.options["sigma"],
                               "the standard deviation of the noise")
        self.n_samples = _count(self.name, "n_samples", self.options["n_samples"],
                                "K, the noise draws averaged per step")
        self.antithetic = _flag(self.name, "antithetic", self.options["antithetic"])
        _check_loss(self.name, self.loss_name)
        self.last_noise = {}

    def example_losses(self, out, y):
        """ℓᵢ for every example: the batch loss is their mean."""
        if self.loss_name == "mse":
            target = y.astype(out.dtype) if isinstance(y, Tensor) else y
            per = ops.mse_loss(out, target, reduction="none").data
        else:
            per = ops.cross_entropy(out, y, reduction="none").data
        return per.reshape(per.shape[0], -1).mean(axis=1) if per.ndim > 1 else per

    def _pass(self, x, noise=None, sign=1.0):
        """One forward pass. With ``noise`` (a dict, filled with fresh draws of
        ξ per layer as the pass reaches it) adds sign·σξ to every learnable
        layer's pre-activation. Returns the output and ``{layer: input}``."""
        inputs = {}
        functions = {}
        for name, layer in self.layers:
            def forward(h, name=name, layer=layer):
                if name in inputs:
                    raise ArgumentError(f"rule {self.name!r}: layer {name!r} ran twice in "
                                        "one pass; each learnable layer must run once")
                z = type(layer).forward(layer, h)
                inputs[name] = h.data
                if noise is None:
                    return z
                if z.ndim < 2 or (isinstance(layer, nn.Conv2d) and z.ndim != 4):
                    raise ArgumentError(f"rule {self.name!r} needs a batch: layer {name!r} "
                                        f"gives shape {tuple(z.shape)}")
                if name not in noise:
                    xi = self.generator.standard_normal(z.shape).astype(z.data.dtype)
                    noise[name] = _backend.to_backend(xi, z.backend)
                hold_arrays((self, "noisy", name), [h.data, noise[name]], name)
                return Tensor(z.data + z.data.dtype.type(sign * self.sigma) * noise[name])

            functions[layer] = forward
        with layer_functions(functions):
            out = self.model(x)
        return out, inputs

    def updates(self, x, y):
        """A clean pass (the baseline ℓᵢ(clean), ``last_loss``, ``last_output``),
        then K noisy passes (2K antithetic), each layer's update accumulated
        as soon as the pass's per-example losses are known; what a noisy pass
        keeps until then (every layer's input and noise) is reported to an
        active memory tracker."""
        self.follow_model()
        sigma, layers = self.sigma, self.layers
        dropout = shared_dropout_functions(self.model)
        with layer_functions(dropout), no_grad():
            out, _ = self._pass(x)                                  # the clean pass
            self.last_output = out
            self.last_loss = float(self.loss(out, y).item())
            base = self.example_losses(out, y)                      # ℓᵢ(clean): the baseline
            n = base.shape[0]
            weights = {name: 0 for name, _ in layers}
            biases = {name: 0 for name, _ in layers}
            signals = {name: 0 for name, _ in layers}
            signs = (1.0, -1.0) if self.antithetic else (1.0,)
            for _ in range(self.n_samples):
                noise = {}
                for sign in signs:
                    out, inputs = self._pass(x, noise, sign)
                    missing = [name for name, _ in layers if name not in inputs]
                    if missing:
                        raise ArgumentError(f"rule {self.name!r}: layer(s) {missing} did "
                                            "not run in the forward pass")
                    # (ℓᵢ(noisy) − ℓᵢ(clean)) / σ, times the sign of this pass's noise
                    c = sign * (self.example_losses(out, y) - base) / sigma
                    for name, layer in layers:
                        xi = noise[name]
                        if xi.shape[0] != n:
                            raise ArgumentError(
                                f"rule {self.name!r}: layer {name!r} gives shape "
                                f"{tuple(xi.shape)}, whose first axis is not the batch of "
                                f"{n} examples; the noise is per example")
                        g_z = c.reshape((n,) + (1,) * (xi.ndim - 1)).astype(xi.dtype) * xi
                        weights[name] = weights[name] + weight_update(layer, g_z,
                                                                      inputs[name])
                        if layer.bias is not None:
                            biases[name] = biases[name] + bias_update(layer, g_z)
                        signals[name] = signals[name] + g_z
                    for name, _ in layers:
                        release_arrays((self, "noisy", name))
                self.last_noise = noise
        scale = 1.0 / (n * self.n_samples * len(signs))             # mean over examples, draws
        ups, self.last_signals = {}, {}
        for name, layer in layers:
            dtype = layer.weight.data.dtype
            prefix = f"{name}." if name else ""
            ups[prefix + "weight"] = (weights[name] * scale).astype(dtype)
            if layer.bias is not None:
                ups[prefix + "bias"] = (biases[name] * scale).astype(dtype)
            self.last_signals[name] = (signals[name] * scale).astype(dtype)
        return self.in_parameter_order(ups)
