"""Forward gradients: learning from directional derivatives computed by
forward-mode differentiation, with no backward pass.

Weight perturbation -- ``forward_gradient``
-------------------------------------------
Baydin, Pearlmutter, Syme, Wood & Torr (2022), "Gradients without
Backpropagation" (arXiv:2202.08587). Draw one tangent v ~ N(0, I) over all
n parameters θ of the model, compute the loss f(θ) and its directional
derivative ∇f·v in one forward-mode pass (a jvp: every op propagates the
tangent as it runs), and use

    g = (∇f · v) v                                   (the forward gradient)

as the update. Averaging K independent tangents (``n_samples`` = K):

    g = (1/K) Σₖ (∇f · vₖ) vₖ.

It is unbiased: E[(∇f·v) v] = E[v vᵀ] ∇f = ∇f, since E[v vᵀ] = I. Its
second moment for K = 1 is

    E‖g‖² = E[(∇f·v)² ‖v‖²] = (n + 2) ‖∇f‖²

(rotate so that ∇f = ‖∇f‖e₁: (∇f·v)² ‖v‖² = ‖∇f‖² v₁²(v₁² + Σ_{j>1} vⱼ²),
with E v₁⁴ = 3 and E v₁² = 1, giving ‖∇f‖²(3 + (n − 1))). Its covariance
is ‖∇f‖² I + ∇f∇fᵀ, so E‖g − ∇f‖² = (n + 1)‖∇f‖²/K: the estimate's
variance grows with the number of parameters, and its expected angle to the
gradient is about atan(√((n + 1)/K)) -- close to 90° for a network of
thousands of parameters and one tangent. That is the price of never running
a backward pass: the cost is one forward pass carrying tangents (about 2-3
forward passes of arithmetic), and no activation is kept for later.

The directional derivative is exact (forward mode, not finite
differences): :meth:`ForwardGradient.directional_derivative` is ∇f·v to
rounding. The parameters are detached and the passes run under ``no_grad``,
so no reverse graph is recorded and the reverse-mode engine is never called;
``minigrad.inspect.activation_memory`` reports nothing kept. Any model whose
ops have jvp rules works (Linear, Conv2d, pooling, normalisation, residual
blocks): every parameter is perturbed. (With ``n_samples`` > 1 the model
runs K times per step: a Dropout draws a fresh mask per pass, and a
BatchNorm updates its running statistics per pass.)

Activity perturbation -- ``activity_forward_gradient``
------------------------------------------------------
Ren, Kornblith, Liao & Hinton (2023), "Scaling Forward Gradient with Local
Losses", ICLR (arXiv:2210.03310). Perturb the pre-activations

    zₗ = Wₗ hₗ₋₁ + bₗ

of each learnable layer (Linear; Conv2d, where zₗ is the convolution's
output) instead of the weights, with a tangent uₗ ~ N(0, I) drawn per
example. The directional derivative is taken of each example's own loss ℓᵢ
(the jvp of the vector of per-example losses, not of their mean, so that
example i's estimate carries only its own noise):

    dᵢ = Σₖ ∇_{zₖ}ℓᵢ · u_{k,i}                   (one jvp, every layer perturbed)
    ĝ_{zₗ,i} = dᵢ u_{ℓ,i}                          (activity-gradient estimate)

and each layer learns locally, from its own input, as backprop would from
the true activity gradient δ_{ℓ,i} = ∇_{zₗ}ℓᵢ:

    ĝ_{Wₗ} = (1/N) Σᵢ ĝ_{zₗ,i} h_{ℓ−1,i}ᵀ,       ĝ_{bₗ} = (1/N) Σᵢ ĝ_{zₗ,i}

(for a Conv2d, ĝ_{Wₗ} sums over the output positions too, with the
unfolded input patches in place of hₗ₋₁). ĝ_{zₗ,i} is unbiased:
E[dᵢ u_{ℓ,i}] = Σₖ E[u_{ℓ,i} u_{k,i}ᵀ] δ_{k,i} = δ_{ℓ,i}, because tangents of
different layers are independent. The noise is that of a forward gradient
over the activities of one example (M = Σₗ mₗ numbers, mₗ the width of zₗ)
rather than over all n weights, and it is averaged over the N examples of
the batch: far smaller than weight perturbation's when M ≪ n.

Two ways to perturb, the hyper-parameter ``per_layer``:

* ``per_layer=True`` (default): one jvp per layer, with only uₗ attached
  (dᵢ⁽ˡ⁾ = δ_{ℓ,i}·u_{ℓ,i}). No cross-layer noise (layer ℓ's variance is
  ∝ mₗ‖δₗ‖²), L times the cost.
* ``per_layer=False``: one jvp with every layer's tangent at once. One
  forward pass per sample, but layer ℓ's estimate also carries the other
  layers' noise Σ_{k≠ℓ} δₖ·uₖ (still unbiased; variance ∝ mₗ‖Δ‖², Δ all
  layers' δ). The output layer's δ is the largest, so the hidden layers
  suffer most: on a digits batch of a 64-32-32-10 tanh MLP, layer 1's
  relative variance per example is about 32·39.4/1.9 ≈ 660 jointly against
  33 per layer -- more than the L = 3 passes cost. With one tangent per
  step the per-layer mode beats the shallow control on the digits (0.933
  against 0.858) and the joint mode does not (0.58); the joint mode needs
  K = 8 (0.942). Hence the default.

``n_samples`` = K averages K draws (K jvps, or K·L with ``per_layer``).
Tangents are drawn in the order the passes run: for each sample, for each
pass, for each perturbed layer in the order the model runs it, one array of
zₗ's shape. The tangent is put on zₗ by the rule's function for the layer
(``layer_functions``): it computes zₗ as the layer does and returns
zₗ + make_dual(0, uₗ), so the engine's own add rule makes zₗ's tangent
żₗ + uₗ (the effect of the earlier layers' tangents plus this layer's).

Each layer's input and tangent are needed for its update after the pass
ends (when dᵢ is known); they are reported to an active memory tracker
(``activation_memory``), as PEPITA does; no graph is recorded, and the
reverse-mode engine is not called. ``last_signals`` holds the estimated
signal ĝ_{zₗ}/N (backprop's convention: the gradient of the batch-mean loss
at the layer's output). Scope: any model whose only parameters are those of
its Linear and Conv2d layers (activations, pooling, dropout, flattening,
residual additions between them). A BatchNorm is refused: its batch
statistics mix the examples, so one example's loss would see the others'
tangents; a module with parameters of its own (LayerNorm) is refused, since
activity perturbation gives it no update. Ren et al.'s local greedy losses
(one auxiliary loss per block) are not provided: here every layer's
directional derivative is that of the model's loss.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend as _backend
from .. import nn, ops
from ..autodiff import dual_level, no_grad
from ..backend import get_array_module
from ..errors import ArgumentError
from ..functional import functional_call, jvp, make_dual, unpack_dual
from ..tensor import Tensor
from .base import Rule, hold_arrays, layer_functions, register, release_arrays, rules_supporting

# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def check_n_samples(rule_name, value):
    """``value`` as an int >= 1, or an ArgumentError naming the rule."""
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or int(value) < 1):
        raise ArgumentError(f"rule {rule_name!r}: n_samples (the number of random tangents "
                            f"averaged per step) must be an integer >= 1, got {value!r}")
    return int(value)


def standard_normal(generator, shape, like):
    """N(0, 1) numbers of ``shape`` from ``generator``, drawn on NumPy in
    float64 (the same numbers on every backend), then cast to ``like``'s
    dtype and moved to its backend."""
    a = generator.standard_normal(shape).astype(like.dtype, copy=False)
    return _backend.to_backend(a, _backend.backend_of(like))


#: row b: the bits of the byte b as signs, most significant first (1 → +1, 0 → −1)
_SIGN_PATTERNS = 2 * np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1) \
    .astype(np.int8) - 1


def random_signs(generator, shape, like):
    """±1 entries of ``shape``, each sign one random bit of ``generator``
    (``generator.bytes``: ~30x cheaper than as many Gaussian numbers), in
    ``like``'s dtype and on its backend. Each random byte gives eight signs
    by picking its row of ``_SIGN_PATTERNS`` (one pass over the output)."""
    size = int(np.prod(shape))
    random_bytes = np.frombuffer(generator.bytes((size + 7) // 8), dtype=np.uint8)
    signs = _SIGN_PATTERNS.astype(like.dtype).take(random_bytes, axis=0)   # (bytes, 8)
    signs = signs.reshape(-1)[:size].reshape(shape)
    return _backend.to_backend(signs, _backend.backend_of(like))


# --------------------------------------------------------------------------
# Weight perturbation
# --------------------------------------------------------------------------


@register
class ForwardGradient(Rule):
    """g = (1/K) Σₖ (∇f·vₖ) vₖ, vₖ ~ N(0, I) over all parameters; ∇f·vₖ by one jvp."""

    name = "forward_gradient"
    summary = ("forward gradient by weight perturbation: the directional derivative "
               "along a random direction v of all the parameters, by one forward-mode "
               "pass; update (∇f·v) v")
    paper = ("Baydin, Pearlmutter, Syme, Wood & Torr 2022, Gradients without "
             "Backpropagation")
    hparams = {"n_samples": 1, "distribution": "gaussian"}
    unsupported = ()
    #: the step that suits g is about 1/(n + 2) of the gradient's (see the module
    #: docstring); on the CLI's default MLP for the digits (n ≈ 3,500), 0.05 × 0.02
    lr_scale = 0.02

    def check_model(self):
        # any model the engine's forward mode can run: every parameter is perturbed
        if next(iter(self.model.parameters()), None) is None:
            raise ArgumentError(f"rule {self.name!r}: the model has no parameters")

    def setup(self):
        self.n_samples = check_n_samples(self.name, self.options["n_samples"])
        self.distribution = self.options["distribution"]
        if self.distribution not in ("gaussian", "rademacher"):
            raise ArgumentError(f"rule {self.name!r}: distribution must be 'gaussian' "
                                f"(v ~ N(0, I), the paper's) or 'rademacher' (v ∈ {{−1, +1}}ⁿ), "
                                f"got {self.distribution!r}")
        #: ∇f·vₖ of the last call of :meth:`updates`, one per sample
        self.last_directional_derivatives = None

    def tangent(self):
        """One tangent v: ``{parameter name: array}``, drawn from the rule's
        generator in the order of ``model.named_parameters()`` -- v ~ N(0, I)
        (``distribution="gaussian"``, the paper's), or independent random
        signs (``"rademacher"``: E[v vᵀ] = I too, so the update is still
        unbiased; Cov = ‖a‖²I + aaᵀ − 2 diag(a²), tr = (n − 1)‖a‖², a bit
        less than the Gaussian's (n + 1)‖a‖²; and far cheaper to draw)."""
        draw = standard_normal if self.distribution == "gaussian" else random_signs
        return {name: draw(self.generator, p.shape, p.data)
                for name, p in self.model.named_parameters()}

    def directional_derivative(self, x, y, tangent):
        """``(loss, ∇f·v, output)`` for the batch: the loss f(θ), its
        directional derivative along ``tangent`` (``{parameter name: array}``)
        and the model's output, from one forward-mode pass. Exact to
        rounding; no reverse graph is recorded."""
        names, params = zip(*((n, p.detach()) for n, p in self.model.named_parameters()))
        tangents = tuple(Tensor(tangent[n]) for n in names)

        def loss_of(*ps):
            out = functional_call(self.model, dict(zip(names, ps)), x)
            return self.loss(out, y), out

        with no_grad():
            loss, d, out = jvp(loss_of, params, tangents, has_aux=True)
        return float(loss.item()), float(d.item()), Tensor(out.data)

    def updates(self, x, y):
        """g = (1/K) Σₖ (∇f·vₖ) vₖ: K forward-mode passes, no backward pass."""
        self.follow_model()
        self.last_signals = {}
        total, ds = None, []
        for k in range(self.n_samples):
            v = self.tangent()
            loss, d, out = self.directional_derivative(x, y, v)
            if k == 0:
                self.last_loss, self.last_output = loss, out
            ds.append(d)
            if total is None:
                total = {n: d * a for n, a in v.items()}
            else:
                for n, a in v.items():
                    total[n] += d * a
        self.last_directional_derivatives = np.array(ds)
        if self.n_samples > 1:
            scale = 1.0 / self.n_samples
            for a in total.values():
                a *= scale                    # in place: the arrays are this step's own
        return total


# --------------------------------------------------------------------------
# Activity perturbation
# --------------------------------------------------------------------------


def layer_weight_update(layer, h, g):
    """``{"weight": ĝ_W, "bias": ĝ_b}`` of ``layer`` (Linear or Conv2d) from
    its input ``h`` and an estimate ``g`` of the gradient of the batch's mean
    loss at its output z (arrays; the 1/N of the mean is in ``g``):
    ĝ_W = Σ g hᵀ summed over examples (and positions), ĝ_b = Σ g --
    what backprop computes from the true δ."""
    ups = {}
    if isinstance(layer, nn.Linear):
        g2 = g.reshape(-1, layer.out_features)
        h2 = h.reshape(-1, layer.in_features)
        ups["weight"] = g2.T @ h2
        if layer.bias is not None:
            ups["bias"] = g2.sum(axis=0)
        return ups
    # Conv2d: z[n, o, p] = Σ_k W[o, k] cols[n, k, p] with cols the unfolded input
    xp = get_array_module(h)
    if h.ndim != 4:
        raise ArgumentError("rule 'activity_forward_gradient' needs batched (N, C, H, W) "
                            f"inputs to a Conv2d; got shape {h.shape}")
    kh, kw = layer.kernel_size
    padding = 0 if layer.padding == "valid" else layer.padding
    if padding == "same":           # as ops.conv2d: an odd total pads one more after
        dh, dw = (layer.dilation, layer.dilation) if isinstance(layer.dilation, int) \
            else layer.dilation
        th, tw = dh * (kh - 1), dw * (kw - 1)
        h = xp.pad(h, ((0, 0), (0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2)))
        padding = 0
    with no_grad():
        cols = ops.unfold(Tensor(h), (kh, kw), layer.dilation, padding, layer.stride).data
    c_out, groups = layer.out_channels, layer.groups
    n_ex, width, positions = cols.shape
    g3 = g.reshape(n_ex, c_out, positions)
    if groups == 1:
        w = xp.einsum("nop,nkp->ok", g3, cols)
    else:
        cols = cols.reshape(n_ex, groups, width // groups, positions)
        g4 = g3.reshape(n_ex, groups, c_out // groups, positions)
        w = xp.einsum("ngop,ngkp->gok", g4, cols)
    ups["weight"] = w.reshape(layer.weight.shape)
    if layer.bias is not None:
        ups["bias"] = g3.sum(axis=(0, 2))
    return ups


_ACTIVITY_SCOPE = ("it perturbs the pre-activations of Linear and Conv2d layers and "
                   "learns their parameters only")


@register
class ActivityForwardGradient(Rule):
    """ĝ_{zₗ,i} = (Σₖ ∇_{zₖ}ℓᵢ·u_{k,i}) u_{ℓ,i}; ĝ_{Wₗ} = (1/N) Σᵢ ĝ_{zₗ,i} h_{ℓ−1,i}ᵀ."""

    name = "activity_forward_gradient"
    summary = ("forward gradient by activity perturbation: per-example tangents on "
               "each layer's pre-activations, one jvp of the per-example losses, "
               "local weight updates")
    paper = ("Ren, Kornblith, Liao & Hinton 2023, Scaling Forward Gradient with Local "
             "Losses (ICLR)")
    hparams = {"n_samples": 1, "per_layer": True}
    supported = (nn.Linear, nn.Conv2d)
    unsupported = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)
    lr_scale = 0.2

    def check_model(self):
        learnable = {id(m) for _, m in self.layers}
        for name, m in self.model.named_modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                raise ArgumentError(
                    f"rule {self.name!r} cannot train layer {name!r} ({type(m).__name__}): "
                    "its batch statistics mix the examples, so one example's loss would "
                    "see the other examples' tangents; rules that can: "
                    f"{', '.join(rules_supporting(m)) or 'none'}")
            own = next(iter(m.parameters(recurse=False)), None)
            if own is not None and id(m) not in learnable:
                raise ArgumentError(
                    f"rule {self.name!r} cannot train layer {name!r} ({type(m).__name__}), "
                    f"which has parameters: {_ACTIVITY_SCOPE}")
        super().check_model()

    def setup(self):
        self.n_samples = check_n_samples(self.name, self.options["n_samples"])
        per_layer = self.options["per_layer"]
        if not isinstance(per_layer, (bool, np.bool_)):
            raise ArgumentError(f"rule {self.name!r}: per_layer must be True (one jvp per "
                                f"layer) or False (one jvp for all layers), got {per_layer!r}")
        self.per_layer = bool(per_layer)
        #: the directional derivatives dᵢ of the last call of :meth:`updates`:
        #: shape (K, N), or (K, L, N) with ``per_layer`` (pass ℓ's in row ℓ)
        self.last_directional_derivatives = None

    # -- the loss of each example ---------------------------------------------------------
    def per_example_loss(self, out, y):
        """ℓᵢ for each example i (shape (N,)); their mean is the batch loss."""
        n = out.shape[0]
        if self.loss_name == "mse":                     # as Rule.loss, unreduced
            losses = ops.mse_loss(out, y.astype(out.dtype) if isinstance(y, Tensor) else y,
                                  reduction="none")
        else:
            losses = ops.cross_entropy(out, y, reduction="none")
        if losses.ndim != 1:
            losses = losses.reshape(n, -1).mean(axis=1)
        return losses

    # -- one forward-mode pass -------------------------------------------------------------
    def perturbed_pass(self, x, y, perturbed):
        """Run the model with a fresh tangent uₗ on the pre-activation of each
        layer named in ``perturbed``. Returns ``(losses, d, out, seen)``: the
        per-example losses ℓᵢ, their directional derivatives dᵢ, the model's
        output, and ``[(layer name, input hₗ₋₁, tangent uₗ)]`` for every
        perturbed layer call, in order (arrays)."""
        seen = []

        def perturb(h, name, layer):
            z = type(layer).forward(layer, h)                 # zₗ = Wₗ hₗ₋₁ + bₗ
            if name not in perturbed:
                return z
            u = standard_normal(self.generator, z.shape, z.data)
            owner = (self, "held", len(seen))
            seen.append((name, h.data, u))
            hold_arrays(owner, (h.data, u), name)
            zero = Tensor(get_array_module(z.data).zeros_like(z.data))
            return z + make_dual(zero, Tensor(u))             # zₗ + ε uₗ

        functions = {layer: (lambda h, name=name, layer=layer: perturb(h, name, layer))
                     for name, layer in self.layers}
        with no_grad(), dual_level() as level:
            with layer_functions(functions):
                out = self.model(x)
            losses, d = unpack_dual(self.per_example_loss(out, y), level)
        xp = get_array_module(losses.data)
        d = xp.zeros_like(losses.data) if d is None else d.data
        return losses.data, d, Tensor(out.data), seen

    def updates(self, x, y):
        """K draws (times L passes with ``per_layer``); each perturbed layer
        learns from its own input and ĝ_{zₗ} = d uₗ."""
        self.follow_model()
        names = [name for name, _ in self.layers]
        modules = dict(self.layers)
        passes = [{n} for n in names] if self.per_layer else [set(names)]
        ups, signals, ds = {}, {}, []
        for k in range(self.n_samples):
            row = []
            for perturbed in passes:
                losses, d, out, seen = self.perturbed_pass(x, y, perturbed)
                if k == 0 and not row:
                    self.last_loss, self.last_output = float(losses.mean()), out
                row.append(d)
                n = len(d)
                for i, (name, h, u) in enumerate(seen):
                    # ĝ_z = dᵢ uᵢ, each example's; divided by N, the batch mean's
                    g = (d / n).reshape((n,) + (1,) * (u.ndim - 1)) * u
                    signals[name] = signals.get(name, 0) + g
                    prefix = f"{name}." if name else ""
                    for key, a in layer_weight_update(modules[name], h, g).items():
                        key = prefix + key
                        ups[key] = a if key not in ups else ups[key] + a
                    release_arrays((self, "held", i))
            ds.append(row if self.per_layer else row[0])
        self.last_directional_derivatives = np.array(
            [[_backend.to_numpy(a) for a in r] if self.per_layer else _backend.to_numpy(r)
             for r in ds])
        scale = 1.0 / self.n_samples
        self.last_signals = {k: v * scale for k, v in signals.items()}
        if self.n_samples > 1:
            for a in ups.values():
                a *= scale                    # in place: the arrays are this step's own
        params = dict(self.model.named_parameters())
        return self.in_parameter_order(
            {k: a.astype(params[k].data.dtype, copy=False) for k, a in ups.items()})

