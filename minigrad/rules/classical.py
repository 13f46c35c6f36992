"""The classical single-layer rules, written out in plain array code.

* ``delta`` -- the delta rule / LMS (Widrow & Hoff 1960): for a linear
  unit y = Wx + b and target t,

      ΔW = η (t − y) xᵀ,   Δb = η (t − y),

  the gradient of ½‖t − y‖². With ``output="sigmoid"`` it is the
  generalised delta rule for y = σ(Wx + b) (Rumelhart et al. 1986):
  ΔW = η ((t − y) ⊙ σ′(a)) xᵀ.
* ``perceptron`` (Rosenblatt 1958): predict ŷ = [w·x + b > 0] (one output)
  or ŷ = argmaxₖ (Wx + b)ₖ (several outputs), and only on a mistake

      ΔW = η (t − ŷ) xᵀ                      (one output, t, ŷ ∈ {0, 1})
      ΔW_t = +η x,  ΔW_ŷ = −η x               (several outputs)

  summed over the batch (with a batch of one this is the classic online
  perceptron, which makes at most (R/γ)² mistakes on data separable with
  margin γ -- Novikoff 1962).

Both need a model that is a single Linear layer (optionally after a
Flatten). Their updates are returned with the sign of a gradient:
``update = −ΔW / η``.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..backend import get_array_module
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from .base import Rule, register


class _SingleLayer(Rule):
    unsupported = ()

    def check_model(self):
        super().check_model()
        others = [(n, m) for n, m in self.model.named_modules()
                  if m is not self.model and not isinstance(m, (nn.Linear, nn.Flatten))
                  and not isinstance(m, nn.Sequential)]
        if len(self.layers) != 1 or not isinstance(self.layers[0][1], nn.Linear) or others:
            found = ", ".join(f"{n} ({type(m).__name__})" for n, m in self.model.named_modules()
                              if m is not self.model) or "nothing"
            raise ArgumentError(
                f"rule {self.name!r} trains a single Linear layer (optionally after a "
                f"Flatten), but the model has: {found}; for deeper models use bp, fa, dfa, "
                "usf, brsf, frsf, kp or pfa")
        self.layer = self.layers[0][1]
        self.weight_name = f"{self.layers[0][0]}.weight".lstrip(".")
        self.bias_name = f"{self.layers[0][0]}.bias".lstrip(".")

    def inputs_and_output(self, x):
        """The layer's input (flattened) and its pre-activation a = Wx + b."""
        h = x
        for m in self.model.modules():
            if isinstance(m, nn.Flatten):
                h = m(h)
        a = self.layer(h)
        return h.data, a.data


@register
class DeltaRule(_SingleLayer):
    """LMS / delta rule: ΔW = η (t − y) ⊙ f′(a) xᵀ, f the identity or σ."""

    name = "delta"
    summary = "delta rule / LMS for a single layer (generalised: sigmoid output)"
    paper = "Widrow & Hoff 1960; Rumelhart, Hinton & Williams 1986"
    hparams = {"output": "linear", "target": "onehot"}

    def setup(self):
        if self.options["output"] not in ("linear", "sigmoid"):
            raise ArgumentError(f"rule 'delta': output must be 'linear' or 'sigmoid', got "
                                f"{self.options['output']!r}")
        if self.options["target"] not in ("onehot", "pm1"):
            raise ArgumentError(f"rule 'delta': target must be 'onehot' (0/1) or 'pm1' "
                                f"(-1/+1), got {self.options['target']!r}")

    def targets(self, y, n_out, xp):
        """The target rows t: real-valued targets as given; class labels as
        one-hot rows (several outputs) or as the label itself (one output,
        labels 0/1: a binary unit, as the perceptron's), in 0/1 or, with
        ``target="pm1"``, in −1/+1."""
        y = y.data if isinstance(y, Tensor) else xp.asarray(y)
        if self.loss_name == "mse" or y.dtype.kind == "f":
            t = y.reshape(len(y), -1).astype(np.float64)
            if t.shape[1] != n_out:
                raise ShapeError(f"rule 'delta': targets of shape {tuple(y.shape)} do not fit "
                                 f"the layer's {n_out} output(s)")
            return t
        if y.ndim != 1:
            raise ShapeError(f"rule 'delta': class labels must be one per example (shape "
                             f"(N,)), got shape {tuple(y.shape)}")
        top = 1 if n_out == 1 else n_out - 1
        if len(y) and (int(y.min()) < 0 or int(y.max()) > top):
            raise ArgumentError(f"rule 'delta': labels must be in 0..{top} for a layer with "
                                f"{n_out} output(s), got labels from {int(y.min())} to "
                                f"{int(y.max())}")
        if n_out == 1:
            t = y.reshape(-1, 1).astype(np.float64)
        else:
            t = xp.zeros((len(y), n_out))
            t[xp.arange(len(y)), y] = 1.0
        return 2 * t - 1 if self.options["target"] == "pm1" else t

    def updates(self, x, y):
        self.follow_model()
        h, a = self.inputs_and_output(x)
        xp = get_array_module(a)
        out = 1 / (1 + xp.exp(-a)) if self.options["output"] == "sigmoid" else a
        t = self.targets(y, a.shape[1], xp)
        err = t - out                                    # (t − y)
        if self.options["output"] == "sigmoid":
            err = err * out * (1 - out)                  # ⊙ σ′(a) = σ(a)(1 − σ(a))
        n = len(h)
        self.last_output = Tensor(out)
        self.last_loss = float(0.5 * ((t - out) ** 2).sum() / n)
        self.last_signals = {self.layers[0][0]: -err / n}
        dtype = self.layer.weight.data.dtype
        ups = {self.weight_name: (-(err.T @ h) / n).astype(dtype)}   # −(t − y) xᵀ
        if self.layer.bias is not None:
            ups[self.bias_name] = (-err.sum(axis=0) / n).astype(dtype)
        return ups


@register
class Perceptron(_SingleLayer):
    """Rosenblatt's perceptron: on a mistake, W_t += x and W_ŷ −= x."""

    name = "perceptron"
    summary = "perceptron: update only on mistakes (binary or multi-class)"
    paper = "Rosenblatt 1958; Novikoff 1962"

    def updates(self, x, y):
        self.follow_model()
        h, a = self.inputs_and_output(x)
        xp = get_array_module(a)
        y = y.data if isinstance(y, Tensor) else xp.asarray(y)
        n_out = a.shape[1]
        if n_out == 1:                                   # binary, t and ŷ in {0, 1}
            pred = (a[:, 0] > 0).astype(np.int64)
            diff = (y - pred).astype(np.float64)[:, None]          # (t − ŷ)
        else:                                            # multi-class
            pred = a.argmax(axis=1)
            wrong = pred != y
            diff = xp.zeros(a.shape)
            diff[xp.arange(len(y))[wrong], y[wrong]] += 1.0         # W_t += x
            diff[xp.arange(len(y))[wrong], pred[wrong]] -= 1.0      # W_ŷ −= x
        self.last_output = Tensor(a)
        self.mistakes = int((pred != y).sum())
        self.last_loss = self.mistakes / len(y)
        self.last_signals = {self.layers[0][0]: -diff}
        dtype = self.layer.weight.data.dtype
        ups = {self.weight_name: (-(diff.T @ h)).astype(dtype)}
        if self.layer.bias is not None:
            ups[self.bias_name] = (-diff.sum(axis=0)).astype(dtype)
        return ups

    def measures(self):
        return {"mistakes": self.mistakes}
