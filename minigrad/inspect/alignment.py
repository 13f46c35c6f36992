"""Alignment with backprop, named and reported separately (docs/DESIGN:
"Alignment, precisely"):

1. **update alignment** -- the angle between a rule's update ΔW and
   backprop's gradient ∇W, per parameter tensor, on the same batch and the
   same weights (per batch);
2. **signal alignment** -- the angle between the error signal a layer
   receives from the rule (its ``last_signals``: what reaches the layer's
   output, ∂/∂zₗ) and backprop's δₗ = ∂L/∂zₗ, for the whole batch and for
   every example on its own (the distribution over samples);
3. **weight alignment** -- the angle between a rule's feedback matrix and
   what it stands in for (B vs W for FA, BR vs W for PFA, PEPITA's
   F-induced feedback vs the forward product), from the rule's own
   :meth:`~minigrad.rules.Rule.weight_alignment`.

Angles are in degrees: 0 is backprop's direction, 90 carries no
information, above 90 goes uphill. Every angle comes with the norm ratio
‖rule‖ / ‖backprop‖.

The reference gradient (:func:`backprop_reference`) is taken with the
model's buffers (batch-norm running statistics) put back afterwards, so
inspecting a model does not train it. A model with dropout draws a new mask
for the reference pass: compare with dropout off (``model.eval()`` is not
the answer either, it changes batch norm) or accept the difference.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend as _backend
from ..rules import make
from ..rules.base import angle, frozen_buffers, learnable_layers

__all__ = ["angle", "backprop_reference", "compare_updates", "compare_signals",
           "update_alignment", "signal_alignment", "weight_alignment", "alignment_report"]


def backprop_reference(model, x, y, loss="cross_entropy"):
    """``(gradients, signals)``: backprop's ∇θ for every parameter
    (``{name: array}``) and δₗ = ∂L/∂zₗ at every learnable layer's output
    (``{layer name: array}``), on batch ``(x, y)`` at the current weights.
    Nothing is applied; the model's buffers are left as they were."""
    bp = make("bp", model, loss=loss)
    with frozen_buffers(model):
        grads = bp.updates(x, y)
    order = [name for name, _ in learnable_layers(model)]
    return grads, {name: bp.last_signals[name] for name in order if name in bp.last_signals}


def _norm(a):
    return float(np.linalg.norm(_backend.to_numpy(a).astype(np.float64).ravel()))


def compare_updates(updates, gradients):
    """``{parameter name: {"angle", "cosine", "norm_ratio"}}`` for every
    parameter of ``gradients``; a parameter missing from ``updates`` (the
    rule leaves it alone: the hidden layers of ``shallow``) has angle 90 and
    ratio 0."""
    out = {}
    for name, g in gradients.items():
        u = updates.get(name)
        if u is None:
            out[name] = {"angle": 90.0, "cosine": 0.0, "norm_ratio": 0.0}
            continue
        a, gn = angle(u, g), _norm(g)
        out[name] = {"angle": a, "cosine": math.cos(math.radians(a)),
                     "norm_ratio": _norm(u) / gn if gn else float("inf")}
    return out


def per_sample_angles(a, b):
    """The angle (degrees) between ``a[i]`` and ``b[i]`` for every example
    i (rows of the flattened arrays); 90 where either row is zero."""
    a = _backend.to_numpy(a).astype(np.float64).reshape(len(a), -1)
    b = _backend.to_numpy(b).astype(np.float64).reshape(len(b), -1)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    zero = (na[:, 0] == 0) | (nb[:, 0] == 0)
    ua, ub = a / np.where(na == 0, 1, na), b / np.where(nb == 0, 1, nb)
    # 2·atan2(|u − v|, |u + v|): accurate at every angle, as `angle` is
    ang = np.degrees(2 * np.arctan2(np.linalg.norm(ua - ub, axis=1),
                                    np.linalg.norm(ua + ub, axis=1)))
    ang[zero] = 90.0
    return ang


def compare_signals(signals, reference, samples=False):
    """``{layer name: {...}}`` for every layer that has a signal in both
    ``signals`` (the rule's) and ``reference`` (backprop's δ) of the same
    shape:

    * ``"angle"`` -- between the two signals over the whole batch;
    * ``"norm_ratio"`` -- ‖signal‖ / ‖δ‖;
    * ``"sample_mean"``, ``"sample_median"``, ``"sample_q10"``,
      ``"sample_q90"`` -- the distribution of the angle taken example by
      example;
    * ``"sample_angles"`` -- the per-example angles themselves, a list
      (only with ``samples=True``).

    A layer whose signals differ in shape (Forward-Forward's run on
    positive and negative data at once) is left out: its signal does not
    answer to one example's δ."""
    out = {}
    for name, ref in reference.items():
        sig = signals.get(name)
        if sig is None or tuple(sig.shape) != tuple(ref.shape):
            continue
        per = per_sample_angles(sig, ref)
        rn = _norm(ref)
        row = {"angle": angle(sig, ref), "norm_ratio": _norm(sig) / rn if rn else float("inf"),
               "sample_mean": float(per.mean()), "sample_median": float(np.median(per)),
               "sample_q10": float(np.quantile(per, 0.1)),
               "sample_q90": float(np.quantile(per, 0.9))}
        if samples:
            row["sample_angles"] = per.tolist()
        out[name] = row
    return out


def update_alignment(rule, model, x, y):
    """``{parameter name: {"angle": degrees, "cosine": c, "norm_ratio": r}}``.

    The angle is between the rule's update ΔW (``rule.updates(x, y)``, in
    the sign convention of a gradient) and backprop's gradient ∇W on batch
    ``(x, y)`` at the same weights: 0° is backprop's direction, 90° carries
    no information, above 90° goes uphill. ``norm_ratio`` is ‖ΔW‖ / ‖∇W‖.
    Parameters the rule leaves alone (the hidden layers of ``shallow``) are
    reported with angle 90 and ratio 0. ``model`` is the rule's model.
    """
    ups = rule.updates(x, y)
    grads, _ = backprop_reference(model, x, y, rule.loss_name)
    return compare_updates(ups, grads)


def signal_alignment(rule, x, y, samples=False):
    """Signal alignment of ``rule`` on batch ``(x, y)`` (see
    :func:`compare_signals`): runs ``rule.updates(x, y)`` and compares the
    signal each layer received with backprop's δ at the same weights. Rules
    that send no signal to a layer (perturbation of the weights) give no
    row for it."""
    rule.updates(x, y)
    _, deltas = backprop_reference(rule.model, x, y, rule.loss_name)
    return compare_signals(rule.last_signals, deltas, samples)


def weight_alignment(rule):
    """``{name: degrees}``: the angle between each of the rule's feedback
    matrices and what it stands in for ({} for rules without one)."""
    return {str(k): float(v) for k, v in rule.weight_alignment().items()}


def alignment_report(rule, x, y, samples=False):
    """All three alignments from one update of ``rule`` on ``(x, y)``:
    ``{"update": ..., "signal": ..., "weight": ...}`` (see
    :func:`update_alignment`, :func:`signal_alignment`,
    :func:`weight_alignment`). Nothing is applied."""
    ups = rule.updates(x, y)
    grads, deltas = backprop_reference(rule.model, x, y, rule.loss_name)
    return {"update": compare_updates(ups, grads),
            "signal": compare_signals(rule.last_signals, deltas, samples),
            "weight": weight_alignment(rule)}
