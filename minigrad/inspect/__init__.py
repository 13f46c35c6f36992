"""Inspecting learning rules: how their updates relate to backprop's, what
they keep in memory, how signals propagate, over training.

* :func:`update_alignment`, :func:`signal_alignment`,
  :func:`weight_alignment`, :func:`alignment_report` -- the three
  alignments with backprop, named and reported separately (angles in
  degrees with norm ratios);
* :func:`activation_memory` -- the bytes of activations a rule keeps alive
  between its forward computation and its update, per layer and at the
  peak, from the engine's own bookkeeping;
* :func:`estimator_statistics`, :func:`estimator_sweep` -- the bias,
  variance and signal-to-noise ratio of a stochastic rule's update;
* :func:`representation_statistics` -- sparsity, dead units, activation
  and gradient norms per layer;
* :class:`Recorder` -- all of the above every N steps of training, as JSON
  lines (:func:`load_records` reads them back);
* :mod:`minigrad.inspect.plots` -- the figures (PNG and SVG).
"""
from .alignment import (alignment_report, angle, backprop_reference, compare_signals,
                        compare_updates, signal_alignment, update_alignment,
                        weight_alignment)
from .estimators import EstimatorStats, estimator_statistics, estimator_sweep
from .memory import ActivationMemory, activation_memory, memory_during
from .recorder import MEASURES, Recorder, load_records
from .representation import representation_statistics

__all__ = ["angle", "update_alignment", "signal_alignment", "weight_alignment",
           "alignment_report", "backprop_reference", "compare_updates", "compare_signals",
           "activation_memory", "memory_during", "ActivationMemory", "EstimatorStats", "estimator_statistics",
           "estimator_sweep", "representation_statistics", "Recorder", "load_records",
           "MEASURES"]
