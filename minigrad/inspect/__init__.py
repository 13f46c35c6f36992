"""Inspecting learning rules: how their updates relate to backprop's, and
what they keep in memory.

* :func:`update_alignment` -- the angle between a rule's update and
  backprop's gradient, per parameter;
* :func:`activation_memory` -- the bytes of activations a rule keeps alive
  between its forward computation and its update, per layer and at the
  peak, from the engine's own bookkeeping;
* :func:`estimator_statistics`, :func:`estimator_sweep` -- the bias,
  variance and signal-to-noise ratio of a stochastic rule's update.

The fuller toolkit (signal and weight alignment over training, estimator
statistics, recorders, plots) builds on these.
"""
from .alignment import angle, update_alignment
from .estimators import EstimatorStats, estimator_statistics, estimator_sweep
from .memory import ActivationMemory, activation_memory

__all__ = ["angle", "update_alignment", "activation_memory", "ActivationMemory",
           "EstimatorStats", "estimator_statistics", "estimator_sweep"]
