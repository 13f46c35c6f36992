"""Inspecting learning rules: how their updates relate to backprop's.

This first part holds :func:`update_alignment`; the fuller toolkit (signal
and weight alignment over training, estimator statistics, memory,
recorders, plots) builds on it.
"""
from .alignment import angle, update_alignment

__all__ = ["angle", "update_alignment"]
