"""Update alignment: the angle between a rule's update and backprop's
gradient for each parameter, on the same batch and the same weights."""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..rules import make
from ..rules.base import angle


def update_alignment(rule, model, x, y):
    """``{parameter name: {"angle": degrees, "cosine": c, "norm_ratio": r}}``.

    The angle is between the rule's update ΔW and backprop's gradient ∇W
    (both in the sign convention of a gradient) on batch ``(x, y)``: 0° is
    backprop's direction, 90° carries no information, above 90° goes
    uphill. ``norm_ratio`` is ‖ΔW‖ / ‖∇W‖. Parameters the rule leaves alone
    (the hidden layers of ``shallow``) are reported with angle 90 and ratio 0.
    """
    ups = rule.updates(x, y)
    bp = make("bp", model, loss=rule.loss_name)
    grads = bp.updates(x, y)
    out = {}
    for name, g in grads.items():
        u = ups.get(name)
        gn = float(np.linalg.norm(_backend.to_numpy(g)))
        if u is None:
            out[name] = {"angle": 90.0, "cosine": 0.0, "norm_ratio": 0.0}
            continue
        a = angle(u, g)
        un = float(np.linalg.norm(_backend.to_numpy(u)))
        out[name] = {"angle": a, "cosine": float(np.cos(np.radians(a))),
                     "norm_ratio": un / gn if gn else float("inf")}
    return out
