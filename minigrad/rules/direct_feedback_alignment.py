"""Direct feedback alignment (Nøkland 2016, "Direct Feedback Alignment
Provides Learning in Deep Neural Networks").

The output error e = ∂L/∂y is sent straight to every hidden layer through
a fixed random matrix, instead of layer by layer backward:

    δₗ = (Bₗ e) ⊙ f′(aₗ),      ΔWₗ = −η δₗ hₗ₋₁ᵀ,

and the last layer learns from e itself. In the code the model is cut into
blocks at the input of every learnable layer (the input is detached, so no
error flows from one block into the previous one), and the projected error
Bₗ e is handed to block l where the next layer reads its input -- after the
activation (and, in a convolutional net, the pooling and flattening) --
reshaped to that input's shape. The engine then carries it back through the
activation, which is the ⊙ f′(aₗ), to the layer's weights.

Bₗ is (size d of that input) × (number k of outputs), drawn once from
Glorot's U(−a, a), a = √(6 / (d + k)): then ‖Bₗ e‖ ≈ √2 ‖e‖, about what
backprop's first step back delivers (Wᵀe with Glorot-initialised W), so
the early layers' updates are neither starved nor blown up, whatever the
block's size (a 1/√k scale would inject a signal √(d/k) times larger into
every unit of a wide convolutional block).

Only models that are a Sequential chain of layers are supported: a
residual block has no single place where "the next layer's input" is.
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from .. import nn
from ..autodiff import grad as autograd_grad
from ..errors import ArgumentError
from ..tensor import Tensor
from .base import Rule, register


@register
class DirectFeedbackAlignment(Rule):
    """δₗ = (Bₗ e) ⊙ f′(aₗ): the output error through a fixed random Bₗ."""

    name = "dfa"
    summary = "direct feedback alignment: the output error sent to every layer directly"
    paper = "Nøkland 2016"
    unsupported = (nn.ResidualBlock,)

    def check_model(self):
        super().check_model()
        if not isinstance(self.model, nn.Sequential):
            raise ArgumentError(f"rule 'dfa' needs a Sequential model (a chain of layers); "
                                f"got {type(self.model).__name__}")
        top = list(self.model.children())
        for name, layer in self.layers:
            if not any(layer is m for m in top):
                raise ArgumentError(f"rule 'dfa': layer {name!r} is nested inside another "
                                    "module; dfa needs the learnable layers at the top level "
                                    "of the Sequential")

    def setup(self):
        self.feedback = {}      # created on the first batch, when shapes are known

    def _make_feedback(self, name, shape, n_out, backend, dtype):
        d = int(np.prod(shape))
        a = np.sqrt(6.0 / (d + n_out))
        b = self.generator.uniform(-a, a, size=(d, n_out)).astype(dtype)
        self.feedback[name] = _backend.to_backend(b, backend)

    def signals_and_loss(self, x, y):
        # Run the chain, cutting it at every learnable layer after the first.
        first = self.layers[0][1]
        layer_names = {id(m): n for n, m in self.layers}
        block_inputs = []        # (name of the previous learnable layer, tensor h)
        h, prev = x, None
        for module in self.model.children():
            if id(module) in layer_names:
                if module is not first:
                    block_inputs.append((prev, h))
                    h = h.detach()
                prev = layer_names[id(module)]
                h = self._record_signal(prev, type(module).forward(module, h))
            else:
                h = module(h)
        out = h
        loss = self.loss(out, y)
        self.last_output, self.last_loss = out, float(loss.item())
        # e = ∂L/∂y, then each block gets Bₗ e shaped like its output
        (e,) = autograd_grad(loss, [out], retain_graph=True)
        e2 = e.data.reshape(len(e.data), -1)
        outputs, seeds = [loss], [None]
        for name, h in block_inputs:
            if not h.requires_grad:
                continue
            if name not in self.feedback:
                self._make_feedback(name, h.shape[1:], e2.shape[1], h.backend, h.data.dtype)
            projected = e2 @ self.feedback[name].T                   # (N, size of h)
            outputs.append(h)
            seeds.append(Tensor(projected.reshape(h.shape).astype(h.data.dtype)))
        return outputs, seeds

    def state_dict(self):
        state = super().state_dict()
        state["feedback"] = {k: Tensor(v) for k, v in self.feedback.items()}
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        backend = self.layers[0][1].weight.backend
        self.feedback = {k: _backend.to_backend(v.data if isinstance(v, Tensor) else v, backend)
                         for k, v in state["feedback"].items()}
