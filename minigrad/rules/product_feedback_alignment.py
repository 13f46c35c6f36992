"""Product feedback alignment (Li & Benna 2024, "Deep Learning without
Weight Symmetry").

The error is sent backward through a product of two matrices and an
intermediate population of n_mid = expand_ratio · n_out error neurons:

    δ_in = Rᵀ (Bᵀ δ_out) ⊙ f′(a_in)

with B (n_out × n_mid) fixed and random and R (n_mid × n_in) plastic, so
BR stands where backprop uses W. R learns from the intermediate signal
Bᵀ δ_out and the layer's input, exactly as W learns from δ_out and the
input, and both decay:

    ΔW = −η (δ_out xᵀ + λW),     ΔR = −η ((Bᵀ δ_out) xᵀ + λR) = −η (Bᵀ ∇W + λR).

Since B Bᵀ ≈ I for B with entries N(0, 1/n_mid), BR receives nearly the
same update as W and the decay removes the difference: BR comes to track
W without any single feedback synapse mirroring a forward one (the larger
the expansion, the closer BBᵀ is to I). R starts random with entries
N(0, std(W₀)²), so BR starts as a random matrix on the scale of the
layer's initial weights (feedback alignment at first); for a convolution,
W is seen as (out, in·kh·kw).
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..errors import ArgumentError
from ..tensor import Tensor
from .base import angle, register
from .feedback_alignment import FeedbackRule, PlasticFeedbackRule


@register
class ProductFeedbackAlignment(PlasticFeedbackRule):
    """δ_in = Rᵀ(Bᵀδ_out) ⊙ f′, B fixed (n_out × n_mid), R plastic: BR tracks W."""

    name = "pfa"
    summary = "product feedback alignment: fixed B times plastic R stands in for W"
    paper = "Li & Benna 2024"
    hparams = {"expand_ratio": 4, "weight_decay": 1e-3}

    def setup(self):
        self.B, self.R = {}, {}
        ratio = self.options["expand_ratio"]
        if not (isinstance(ratio, (int, float)) and ratio >= 1):
            raise ArgumentError(f"rule 'pfa': expand_ratio must be >= 1, got {ratio!r}")
        for name, layer in self.layers[1:]:
            w = layer.weight.data
            n_out, n_in = w.shape[0], int(np.prod(w.shape[1:]))
            n_mid = int(round(ratio * n_out))
            b = self.generator.standard_normal((n_out, n_mid)) / np.sqrt(n_mid)
            backend = layer.weight.backend
            self.B[name] = _backend.to_backend(b.astype(w.dtype), backend)
            std = float(np.std(_backend.to_numpy(w)))
            r = self.generator.standard_normal((n_mid, n_in)) * std
            self.R[name] = _backend.to_backend(r.astype(w.dtype), backend)
        self.feedback = {name: None for name in self.B}

    def current_feedback(self, name, layer):
        """BR, reshaped like W."""
        return (self.B[name] @ self.R[name]).reshape(layer.weight.shape)

    def linear_feedback(self, name, layer):
        """(B, R): a Linear layer's backward computes (δ B) R, in
        N·n_mid·(n_out + n_in) operations, where forming BR first would take
        n_out·n_mid·n_in (4·10⁹ for a 1000-wide layer with expand_ratio 4)."""
        return (self.B[name], self.R[name])

    def after_step(self, ups, optimizer):
        """R ← R + Bᵀ ΔW − ηλ(R − Bᵀ W): with plain SGD, where
        ΔW = −η(δ_out xᵀ + λW), this is ΔR = −η((Bᵀ δ_out) xᵀ + λR) exactly;
        with any optimizer R moves by Bᵀ times W's actual step (see
        :class:`PlasticFeedbackRule`)."""
        lam = self.options["weight_decay"]
        for name, (delta_w, w_old, lr) in self.applied_steps(optimizer).items():
            r, b = self.R[name], self.B[name]
            delta_w = delta_w.reshape(delta_w.shape[0], -1)      # (n_out, n_in)
            w_old = w_old.reshape(w_old.shape[0], -1)
            decay = r.dtype.type(lr * lam)
            # = R + BᵀΔW − ηλ(R − BᵀW), with one product by Bᵀ instead of two
            self.R[name] = (1 - decay) * r + b.T @ (delta_w + decay * w_old)

    def weight_alignment(self):
        return {name: angle(self.current_feedback(name, layer), layer.weight.data)
                for name, layer in self.layers[1:]}

    def state_dict(self):
        state = super(FeedbackRule, self).state_dict()
        state["B"] = {k: Tensor(v) for k, v in self.B.items()}
        state["R"] = {k: Tensor(v) for k, v in self.R.items()}
        return state

    def load_state_dict(self, state):
        super(FeedbackRule, self).load_state_dict(state)
        for key, store in (("B", self.B), ("R", self.R)):
            for k, v in state[key].items():
                arr = v.data if isinstance(v, Tensor) else v
                store[k] = _backend.to_backend(arr, dict(self.layers)[k].weight.backend)
