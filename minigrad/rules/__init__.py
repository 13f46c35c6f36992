"""Learning rules, each comparable to backprop on the same batch.

    rule = minigrad.rules.make("fa", model)
    rule.updates(x, y)            # {parameter name: update}, nothing applied
    rule.step(x, y, optimizer)    # apply through any optimizer

``available()`` lists them. One file per family:

* :mod:`.backprop`                  -- ``bp``, ``shallow``
* :mod:`.classical`                 -- ``delta`` (LMS), ``perceptron``
* :mod:`.feedback_alignment`        -- ``fa``, ``usf``, ``brsf``, ``frsf``, ``kp``
* :mod:`.direct_feedback_alignment` -- ``dfa``
* :mod:`.product_feedback_alignment` -- ``pfa``
* :mod:`.forward_forward`           -- ``ff``
* :mod:`.local_learning`            -- ``mono_forward``, ``local_ce``
* :mod:`.pepita`                    -- ``pepita``
* :mod:`.forward_gradient`          -- ``forward_gradient``, ``activity_forward_gradient``
* :mod:`.perturbation`              -- ``spsa``, ``node_perturbation``
* :mod:`.predictive_coding`         -- ``predictive_coding``
* :mod:`.binary_connect`            -- ``binary_connect``, ``straight_through``
"""
from . import (backprop, binary_connect, classical, direct_feedback_alignment,
               feedback_alignment, forward_forward, forward_gradient, local_learning, pepita,
               perturbation, predictive_coding, product_feedback_alignment)
from .base import Rule, angle, available, layer_functions, learnable_layers, make, rule_class

__all__ = ["Rule", "make", "available", "rule_class", "angle", "layer_functions",
           "learnable_layers", "backprop", "classical", "feedback_alignment",
           "direct_feedback_alignment", "product_feedback_alignment", "forward_forward",
           "local_learning", "pepita", "forward_gradient", "perturbation", "predictive_coding",
           "binary_connect"]
