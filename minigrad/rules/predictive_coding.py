"""Predictive coding trained by inference learning (Whittington & Bogacz
2017, "An Approximation of the Error Backpropagation Algorithm in a
Predictive Coding Network with Local Hebbian Synaptic Plasticity", Neural
Computation 29(5); Alonso, Millidge, Krichmar & Neftci 2022, "A Theoretical
Framework for Inference Learning", NeurIPS).

Every layer ℓ = 1 … L of a chain of Linear layers has *value nodes* xₗ
(its activity) and *error nodes* εₗ. Layer ℓ predicts the activity of the
layer above it from its own:

    zₗ = Wₗ xₗ₋₁ + bₗ,      μₗ = σₗ(zₗ),      εₗ = xₗ − μₗ       (ℓ < L)

(σₗ the activation after Linear layer ℓ: relu, tanh, sigmoid or the
identity). The input is clamped, x₀ = x; the output is clamped to the
target through the output energy β·ℓ(μ_L, y), where ℓ is the per-example
task loss, so the network's energy is

    F = Σ_{ℓ<L} ½‖εₗ‖² + β ℓ(μ_L, y),     ε_L = −β ∂ℓ/∂μ_L.

With ``loss="mse"`` (ℓ = (1/C)‖μ_L − y‖², minigrad's mean squared error
over the C outputs) ε_L = (2β/C)(y − μ_L): Whittington & Bogacz's clamped
output x_L = y, ε_L = y − μ_L, up to the factor 2β/C (β = C/2 gives it
exactly; the factor makes the rule's update comparable with backprop on
the loss minigrad trains with). With the cross-entropy loss (the trainer's
default) the output term is not a squared error, and ε_L = −β ∂ℓ/∂μ_L =
β (onehot(y) − softmax(μ_L)): the generalisation of the clamped output to
any output loss (Millidge, Tschantz & Buckley 2022, "Predictive Coding
Approximates Backprop along Arbitrary Computation Graphs", Neural
Computation 34(6); Alonso et al. 2022 treat the output the same way).
β (``nudge``) is the weight of the output term, the precision 1/Σ_L of
the output layer in Whittington & Bogacz; a small β is the *weak nudging*
regime, in which the relaxed state stays close to the feedforward pass.

One step of the rule on a batch:

1. **Feedforward pass.** x̄₀ = x, x̄ₗ = μₗ(x̄ₗ₋₁): the value nodes of the
   hidden layers start at their predictions, so every hidden εₗ = 0 and
   only ε_L is not.
2. **Inference** (relaxation): T steps of gradient descent on F with rate
   γ (``inference_rate``), all hidden layers at once (synchronously):

       xₗ ← xₗ − γ ∂F/∂xₗ = xₗ + γ (−εₗ + Wₗ₊₁ᵀ (εₗ₊₁ ⊙ σ′ₗ₊₁(zₗ₊₁))),   ℓ = 1 … L−1

   (each value node moves by its own error and the errors of the layer it
   predicts, sent back through Wₗ₊₁ᵀ: every term is local).
3. **Learning.** Each weight learns from its *local* prediction error and
   its presynaptic activity, at the relaxed state:

       ΔWₗ = η (εₗ ⊙ σ′ₗ(zₗ)) xₗ₋₁ᵀ = −η ∂F/∂Wₗ,      Δbₗ = η εₗ ⊙ σ′ₗ(zₗ),

   averaged over the batch. ``updates`` returns −ΔWₗ / (ηβ): the gradient
   sign convention of every minigrad rule, divided by β so that the size of
   the update does not depend on the nudge.

``fixed_prediction=True`` is the fixed-prediction assumption (Millidge,
Tschantz & Buckley 2022; Song, Lukasiewicz, Xu & Bogacz 2020, "Can the
Brain Do Backpropagation? -- Exact Implementation of Backpropagation in
Predictive Coding Networks", NeurIPS): the predictions μₗ, the derivatives
σ′ₗ(zₗ) and the presynaptic activities that enter them are held at their
feedforward values x̄ₗ₋₁, z̄ₗ during inference and learning, so ε_L is
fixed and the inference step reads

    εₗ ← (1 − γ) εₗ + γ Wₗ₊₁ᵀ (εₗ₊₁ ⊙ σ′ₗ₊₁(z̄ₗ₊₁)),     ΔWₗ = η (εₗ ⊙ σ′ₗ(z̄ₗ)) x̄ₗ₋₁ᵀ.

With γ = 1 an error moves down one layer per step: after k steps the top
k hidden layers hold −β ∂ℓ/∂xₗ exactly, so with γ = 1 and T ≥ L − 1
(L Linear layers) every εₗ ⊙ σ′ₗ = −β δₗ and the updates *are* backprop's
gradient (to rounding; the tests check it). Under this assumption the
energy trace holds the errors as they grow from 0 to δ, so it need not
decrease.

Special cases: T = 0 leaves every hidden value node at its prediction,
every hidden εₗ = 0, and only the last layer learns, from ε_L: the delta
rule on the last layer, the update of the ``shallow`` control. Without
the fixed-prediction assumption, many small inference steps (a small γ,
T large enough to reach equilibrium) and a small β give updates that
align with backprop (Whittington & Bogacz: the equilibrium errors tend to
δ as the output error becomes small).

What the rule keeps after ``updates``:

* ``last_signals[name]`` = −(εₗ ⊙ σ′ₗ(zₗ)) / (β N) for each layer, at the
  end of inference: the error at the pre-activation (the Linear layer's
  output) in the gradient sign convention and averaged over the batch of
  N, as backprop's recorded δ = ∂(mean loss)/∂zₗ (equal to it in the exact
  case above);
* ``last_errors[name]`` = εₗ itself, per example; ``last_values`` the
  value nodes [x₀, x₁, …, x_{L−1}] after inference (x₀ = the input);
* ``last_energies`` = [F at step 0, …, F at step T], F averaged over the
  batch (T + 1 entries; decreasing for a small γ);
* ``last_output`` / ``last_loss``: the feedforward output and its task
  loss (before inference), as every rule reports them.

Scope: a Sequential chain of Linear layers (after an optional Flatten),
each followed by at most one activation among ReLU, Tanh, Sigmoid and
Identity, on flat inputs. Conv2d, normalisation layers, residual blocks,
dropout and other activations are refused, naming the layer. Everything
is plain array code (σ′ written out for each activation); no graph is
recorded and the reverse-mode engine is never called.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import nn
from ..autodiff import no_grad
from ..backend import get_array_module
from ..errors import ArgumentError
from ..tensor import Tensor
from .base import (Rule, chain_blocks, hold_arrays, register, release_arrays,
                   target_array)

_SCOPE = ("predictive_coding trains a chain of Linear layers, each followed by at most one "
          "activation (ReLU, Tanh, Sigmoid, Identity), with an optional Flatten first")


def _as_array(v):
    return v.data if isinstance(v, Tensor) else v


# -- the activations and their derivatives: (σ(z), σ′(z)) ----------------------------


def _identity(z, xp):
    return z, xp.ones_like(z)


def _relu(z, xp):
    return xp.maximum(z, 0), (z > 0).astype(z.dtype)


def _tanh(z, xp):
    h = xp.tanh(z)
    return h, 1 - h * h


def _sigmoid(z, xp):
    s = 0.5 * (1 + xp.tanh(0.5 * z))          # as minigrad's sigmoid: never overflows
    return s, s * (1 - s)


_ACTIVATIONS = {nn.Identity: _identity, nn.ReLU: _relu, nn.Tanh: _tanh, nn.Sigmoid: _sigmoid}
_OTHER_ACTIVATIONS = (nn.LeakyReLU, nn.ELU, nn.GELU, nn.Softplus, nn.Softmax)


def _check_hparams(options):
    T = options["T"]
    if not isinstance(T, numbers.Integral) or isinstance(T, bool) or T < 0:
        raise ArgumentError(f"rule 'predictive_coding': T (the number of inference steps) "
                            f"must be an integer >= 0, got {T!r}")
    for key, what in (("inference_rate", "the inference rate γ"),
                      ("nudge", "the weight β of the output energy")):
        v = options[key]
        if (not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v)
                or v <= 0):
            raise ArgumentError(f"rule 'predictive_coding': {key} ({what}) must be a finite "
                                f"number > 0, got {v!r}")
    if not isinstance(options["fixed_prediction"], (bool, np.bool_)):
        raise ArgumentError(f"rule 'predictive_coding': fixed_prediction must be True or "
                            f"False, got {options['fixed_prediction']!r}")


@register
class PredictiveCoding(Rule):
    """Relax xₗ ← xₗ + γ(−εₗ + Wₗ₊₁ᵀ(εₗ₊₁ ⊙ σ′ₗ₊₁)) for T steps; ΔWₗ = η (εₗ ⊙ σ′ₗ) xₗ₋₁ᵀ."""

    name = "predictive_coding"
    summary = ("predictive coding (inference learning): relax the value nodes on the "
               "prediction-error energy, then each layer learns from its own error")
    paper = "Whittington & Bogacz 2017; Alonso et al. 2022"
    hparams = {"T": 20, "inference_rate": 0.1, "fixed_prediction": False, "nudge": 1.0}
    supported = (nn.Linear,)
    unsupported = (nn.Conv2d, nn.ResidualBlock, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)

    # -- the model it can train -------------------------------------------------------
    def check_model(self):
        super().check_model()                   # names Conv2d, BatchNorm, ResidualBlock
        prefix, blocks = chain_blocks(self.name, self.model)
        names = {id(m): n for n, m in self.model.named_children()}
        for module in prefix:
            if not isinstance(module, (nn.Flatten, nn.Identity)):
                raise ArgumentError(f"rule 'predictive_coding' cannot train layer "
                                    f"{names[id(module)]!r} ({type(module).__name__}) before "
                                    f"the first Linear layer: {_SCOPE}")
        self.prefix, self.chain = prefix, []    # chain: [(name, Linear, σ ↦ (σ, σ′))]
        for name, layer, followers in blocks:
            acts = []
            for module in followers:
                kind = type(module).__name__
                if isinstance(module, _OTHER_ACTIVATIONS):
                    raise ArgumentError(
                        f"rule 'predictive_coding' does not support the activation {kind} "
                        f"(layer {names[id(module)]!r}): it implements σ′ for ReLU, Tanh, "
                        "Sigmoid and Identity only" + (
                            "; the softmax of the cross-entropy is part of the output "
                            "energy, so remove it" if kind == "Softmax" else ""))
                if type(module) not in _ACTIVATIONS:
                    raise ArgumentError(f"rule 'predictive_coding' cannot train layer "
                                        f"{names[id(module)]!r} ({kind}): {_SCOPE}")
                if not isinstance(module, nn.Identity):
                    acts.append(module)
            if len(acts) > 1:
                raise ArgumentError(
                    f"rule 'predictive_coding': Linear layer {name!r} is followed by "
                    f"{len(acts)} activations ({', '.join(names[id(m)] for m in acts)}); "
                    f"{_SCOPE}")
            act = _ACTIVATIONS[type(acts[0])] if acts else _identity
            self.chain.append((name, layer, act))

    def setup(self):
        _check_hparams(self.options)
        if self.loss_name not in ("cross_entropy", "mse"):
            raise ArgumentError(f"rule 'predictive_coding': loss must be 'cross_entropy' or "
                                f"'mse', got {self.loss_name!r}")
        self.last_errors, self.last_values, self.last_energies = {}, [], []

    # -- the pieces of the energy --------------------------------------------------------
    def prediction(self, i, x_below, xp):
        """(μₗ, σ′ₗ(zₗ)) for layer i, zₗ = Wₗ xₗ₋₁ + bₗ (rows are examples)."""
        _, layer, act = self.chain[i]
        z = x_below @ layer.weight.data.T
        if layer.bias is not None:
            z = z + layer.bias.data
        return act(z, xp)

    def targets(self, y, out, xp):
        """The target t of the output error (integer labels: one-hot rows)."""
        return target_array(self.name, y, out, soft=self.loss_name != "cross_entropy")

    def output_loss(self, mu, t, xp):
        """ℓ(μ_L, y) per example: cross-entropy, or the mean of (μ − y)² over outputs."""
        if self.loss_name == "mse":
            return ((mu - t) ** 2).mean(axis=1)
        z = mu - mu.max(axis=1, keepdims=True)
        log_p = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))
        return -(t * log_p).sum(axis=1)

    def output_error(self, mu, t, xp):
        """ε_L = −β ∂ℓ/∂μ_L: β(onehot − softmax(μ_L)), or (2β/C)(y − μ_L)."""
        beta = self.options["nudge"]
        if self.loss_name == "mse":
            return (2.0 * beta / mu.shape[1]) * (t - mu)
        z = mu - mu.max(axis=1, keepdims=True)
        p = xp.exp(z)
        return beta * (t - p / p.sum(axis=1, keepdims=True))

    def energy(self, errors, mu_out, t, xp):
        """F = Σ_{ℓ<L} ½‖εₗ‖² + β ℓ(μ_L, y), averaged over the batch."""
        f = self.options["nudge"] * self.output_loss(mu_out, t, xp)
        for eps in errors[:-1]:
            f = f + 0.5 * (eps * eps).sum(axis=1)
        return float(f.mean())

    # -- inference, then learning ------------------------------------------------------
    def updates(self, x, y):
        self.follow_model()
        T, gamma = int(self.options["T"]), self.options["inference_rate"]
        fixed, beta = bool(self.options["fixed_prediction"]), self.options["nudge"]
        h = _as_array(x)
        with no_grad():
            for module in self.prefix:
                h = _as_array(module(Tensor(h)))                  # the Flatten
        if h.ndim != 2:
            raise ArgumentError(f"rule 'predictive_coding' needs flat inputs: the first "
                                f"Linear layer {self.chain[0][0]!r} receives shape "
                                f"{tuple(h.shape)}; put an nn.Flatten() first")
        xp = get_array_module(h)
        L, n = len(self.chain), h.shape[0]

        # 1. feedforward pass: x̄ₗ = μₗ(x̄ₗ₋₁); the hidden value nodes start there
        feedforward, derivs = [h], []                             # x̄₀ … x̄_L, σ′ₗ(z̄ₗ)
        for i in range(L):
            mu, d = self.prediction(i, feedforward[-1], xp)
            feedforward.append(mu)
            derivs.append(d)
        names = [name for name, _, _ in self.chain]
        if fixed:                     # layer i keeps x̄ᵢ, its prediction μ̄ᵢ₊₁ and σ′(z̄) to the end
            for i in range(L):
                hold_arrays((self, "feedforward", i),
                            [feedforward[i], feedforward[i + 1], derivs[i]], names[i])
        out = feedforward[-1]
        t = self.targets(y, out, xp)
        self.last_output = Tensor(out)
        self.last_loss = float(self.output_loss(out, t, xp).mean())
        values = list(feedforward[:L])                            # x₀ (clamped), x₁ … x_{L−1}

        # 2. inference: T synchronous steps of xₗ ← xₗ − γ ∂F/∂xₗ
        energies = []
        for step in range(T + 1):
            if fixed:                                             # μ̄ₗ, σ′(z̄ₗ) held
                mus, ds = feedforward[1:], derivs
            else:                                                 # μₗ(xₗ₋₁), σ′(zₗ) now
                mus, ds = zip(*(self.prediction(i, values[i], xp) for i in range(L)))
            errors = [values[i + 1] - mus[i] for i in range(L - 1)]     # εₗ = xₗ − μₗ
            errors.append(self.output_error(mus[-1], t, xp))            # ε_L = −β ∂ℓ/∂μ_L
            for i in range(L):        # this step's value nodes, errors and derivatives
                release_arrays((self, "inference", i))
                hold_arrays((self, "inference", i), [values[i], errors[i], ds[i]], names[i])
            energies.append(self.energy(errors, mus[-1], t, xp))
            if step == T:
                break
            values = [values[0]] + [
                values[i + 1] + gamma * (-errors[i]                      # −εₗ
                                         + (errors[i + 1] * ds[i + 1])   # + Wₗ₊₁ᵀ(εₗ₊₁ ⊙ σ′ₗ₊₁)
                                         @ self.chain[i + 1][1].weight.data)
                for i in range(L - 1)]

        # 3. learning: each layer from its own error and its presynaptic activity
        presynaptic = feedforward if fixed else values
        self.last_signals, self.last_errors, ups = {}, {}, {}
        for i, (name, layer, _) in enumerate(self.chain):
            signal = -(errors[i] * ds[i]) / (beta * n)            # −εₗ ⊙ σ′ₗ / (βN)
            self.last_signals[name] = signal
            self.last_errors[name] = errors[i]
            dtype = layer.weight.data.dtype
            prefix = f"{name}." if name else ""
            ups[prefix + "weight"] = (signal.T @ presynaptic[i]).astype(dtype)
            if layer.bias is not None:
                ups[prefix + "bias"] = signal.sum(axis=0).astype(dtype)
        self.last_values, self.last_energies = values, energies
        for i in range(L):
            release_arrays((self, "feedforward", i))
            release_arrays((self, "inference", i))
        return self.in_parameter_order(ups)
