"""Representation statistics: how signals propagate through a network, at
initialisation and during training.

    stats = representation_statistics(model, x, y)
    stats["1"]["sparsity"], stats["1"]["dead_units"], stats["1"]["delta_rms"]

For every learnable layer l (Linear, Conv2d), in the order they run:

* ``preactivation_rms`` -- √mean(zₗ²) of the layer's output zₗ;
* ``activation_rms`` -- √mean(hₗ²) of hₗ, the layer's representation:
  the last output, before the next learnable layer runs, of a module that
  keeps zₗ's layout (the activation, pooling; not a Flatten); None for the
  last layer;
* ``sparsity`` -- the fraction of entries of hₗ that are exactly 0 (ReLU's
  inactive units; a saturating activation gives ~0 here);
* ``dead_units`` -- the fraction of units (features of a Linear, channels of
  a Conv2d) that are 0 for every example of the batch (and every position);
* ``weight_norm`` -- ‖Wₗ‖ (Frobenius);

and, when labels ``y`` are given, from backprop on the batch:

* ``delta_rms`` -- √mean(δₗ²) of δₗ = ∂L/∂zₗ (vanishing or exploding
  backward signals show here, layer by layer);
* ``weight_grad_norm`` -- ‖∇Wₗ‖, and ``grad_to_weight`` = ‖∇Wₗ‖ / ‖Wₗ‖, the
  relative step plain SGD would take at learning rate 1.

The model is run as it is (train or eval mode); its buffers (batch-norm
running statistics) are put back afterwards and nothing is applied.
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from .. import ops
from ..autodiff import grad as autograd_grad
from ..autodiff import no_grad
from ..rules.base import frozen_buffers, layer_functions, learnable_layers
from ..tensor import Tensor

__all__ = ["representation_statistics"]


def _rms(a):
    a = _backend.to_numpy(a).astype(np.float64)
    return float(np.sqrt(np.mean(a * a))) if a.size else 0.0


def _norm(a):
    return float(np.linalg.norm(_backend.to_numpy(a).astype(np.float64).ravel()))


def _unit_stats(h):
    """(sparsity, dead-unit fraction) of an activation array whose axis 1
    holds the units."""
    h = _backend.to_numpy(h)
    zero = h == 0
    if h.ndim < 2:
        return float(zero.mean()), float(zero.all())
    axes = (0,) + tuple(range(2, h.ndim))
    return float(zero.mean()), float(zero.all(axis=axes).mean())


def representation_statistics(model, x, y=None, loss="cross_entropy"):
    """``{layer name: {statistic: value}}`` for every learnable layer of
    ``model`` on batch ``x`` (see the module docstring); the backward
    statistics need ``y``."""
    layers = learnable_layers(model)
    learnable = {id(m) for _, m in layers}
    seen = []          # (layer name or None, input, output) of every leaf module, in run order

    def capture(name, module):
        def forward(h):
            out = type(module).forward(module, h)
            seen.append((name, h, out))
            return out
        return forward

    functions = {}
    for name, m in model.named_modules():
        if id(m) in learnable:
            functions[m] = capture(name, m)
        elif m is not model and next(iter(m.children()), None) is None:
            functions[m] = capture(None, m)          # a leaf: activation, pooling, flatten
    with frozen_buffers(model), layer_functions(functions):
        if y is None:
            with no_grad():
                out = model(x)
        else:
            out = model(x)
    if not isinstance(out, Tensor):
        raise TypeError(f"representation_statistics: the model returned "
                        f"{type(out).__name__}, not a Tensor")
    # the representation after layer l: the last output, before the next learnable
    # layer runs, of a module that keeps z's layout (the ReLU or pooling, not a
    # Flatten); None after the last layer
    outputs = {n: z for n, _, z in seen if n is not None}
    following, current = {}, None
    for name, _, value in seen:
        if name is not None:
            current = name
        elif current is not None and value.ndim == outputs[current].ndim:
            following[current] = value
    following.pop(list(outputs)[-1], None)
    seen = [(n, h, z) for n, h, z in seen if n is not None]
    stats = {}
    for name, _, z in seen:
        layer = dict(layers)[name]
        row = {"preactivation_rms": _rms(z.data), "activation_rms": None, "sparsity": None,
               "dead_units": None, "weight_norm": _norm(layer.weight.data)}
        h = following.get(name)
        if h is not None:
            row["activation_rms"] = _rms(h.data)
            row["sparsity"], row["dead_units"] = _unit_stats(h.data)
        stats[name] = row
    if y is not None:
        if loss == "mse":
            value = ops.mse_loss(out, y.astype(out.dtype) if isinstance(y, Tensor) else y)
        else:
            value = ops.cross_entropy(out, y)
        zs = [z for _, _, z in seen]
        weights = [dict(layers)[name].weight for name, _, _ in seen]
        grads = autograd_grad(value, zs + weights, allow_unused=True)
        for (name, _, _), d, gw in zip(seen, grads[:len(zs)], grads[len(zs):]):
            row = stats[name]
            row["delta_rms"] = _rms(d.data) if d is not None else 0.0
            row["weight_grad_norm"] = _norm(gw.data) if gw is not None else 0.0
            row["grad_to_weight"] = (row["weight_grad_norm"] / row["weight_norm"]
                                     if row["weight_norm"] else float("inf"))
    return stats
