"""Backpropagation, and the shallow control.

* ``bp`` (Rumelhart, Hinton & Williams 1986): the exact gradient. Each
  hidden layer receives δₗ = (Wₗ₊₁ᵀ δₗ₊₁) ⊙ f′(aₗ) and updates
  ΔWₗ = −η δₗ hₗ₋₁ᵀ; the engine's reverse mode computes exactly this.
* ``shallow``: only the last layer learns (its input is cut from the
  graph); the hidden layers stay at their random initialisation. The
  control every other rule must beat: a rule that does no better than
  this has not assigned credit to the hidden layers at all.
"""
from __future__ import annotations

from ..autodiff import no_grad
from .base import Rule, register


@register
class Backprop(Rule):
    """δₗ = (Wₗ₊₁ᵀ δₗ₊₁) ⊙ f′(aₗ),  ΔWₗ = −η δₗ hₗ₋₁ᵀ: the gradient of the loss."""

    name = "bp"
    summary = "backpropagation: the exact gradient of the loss"
    paper = "Rumelhart, Hinton & Williams 1986"
    unsupported = ()


@register
class Shallow(Rule):
    """Only the last layer learns: ΔW_L = −η δ_L h_{L−1}ᵀ, hidden layers fixed."""

    name = "shallow"
    summary = "only the last layer learns (the control every rule must beat)"
    paper = "the random-features baseline"
    unsupported = ()

    def layer_function(self, name, layer):
        if name != self.layers[-1][0]:
            def fixed(x):        # a fixed layer: no graph, so nothing of it is kept
                with no_grad():
                    return type(layer).forward(layer, x)
            return fixed
        return lambda x: type(layer).forward(layer, x.detach())
