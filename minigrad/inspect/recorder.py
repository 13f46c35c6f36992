"""The recorder: alignment and representation statistics every N steps of
training, as JSON lines.

    rec = Recorder(every=50)
    for x, y in loader:
        rec.step(rule, optimizer, x, y)        # rule.step(...) plus, every 50th, a record
    rec.save("metrics.jsonl")
    load_records("metrics.jsonl")              # the same records back

``minigrad train --record-every 50`` attaches one to a training run; its
records go to the run's ``metrics.jsonl`` between the per-epoch lines.

A record (``"kind": "inspect"``) holds, for the step it was taken at:

* ``"update"`` -- update alignment of the update the step *applied*
  (``rule.last_updates``) with backprop's gradient on the same batch at the
  weights before the step (:func:`~minigrad.inspect.compare_updates`);
* ``"signal"`` -- signal alignment of the signals of that step
  (:func:`~minigrad.inspect.compare_signals`, per batch and the
  distribution over the batch's examples);
* ``"weight"`` -- the rule's weight alignment after the step;
* ``"representation"`` -- :func:`~minigrad.inspect.representation_statistics`
  of the model on the batch, before the step;
* ``"memory"`` -- the activation memory of the step itself (peak bytes and
  the blocks they belong to; :func:`~minigrad.inspect.memory_during`).

Cost: on a recorded step, one extra backprop pass for the reference (with
the model's buffers put back) and one forward and backward pass for the
representation statistics; on any other step, nothing at all (one integer
test). Without dropout the recorded run trains exactly as an unrecorded
one: the reference passes draw nothing from any random generator.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import ArgumentError, DataError
from ..serialization import atomic_write
from .alignment import backprop_reference, compare_signals, compare_updates, weight_alignment
from .memory import memory_during
from .representation import representation_statistics

__all__ = ["Recorder", "load_records", "MEASURES"]

MEASURES = ("update", "signal", "weight", "representation", "memory")


class Recorder:
    """Record ``measures`` (a subset of :data:`MEASURES`) every ``every``
    steps (the first step, number 0, is recorded). ``samples=True`` keeps
    the per-example signal angles in every record (large)."""

    def __init__(self, every=50, measures=MEASURES, samples=False):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ArgumentError(f"Recorder: every must be a positive integer, got {every!r}")
        measures = tuple(measures)
        unknown = [m for m in measures if m not in MEASURES]
        if unknown or not measures:
            raise ArgumentError(f"Recorder: unknown measure(s) {unknown or measures!r}; choose "
                             f"from {', '.join(MEASURES)}")
        self.every, self.measures, self.samples = every, measures, samples
        self.records = []
        self.steps = 0           # steps seen (recorded or not)

    def due(self, step=None):
        """Whether step number ``step`` (default: the next) is recorded."""
        return (self.steps if step is None else step) % self.every == 0

    def step(self, rule, optimizer, x, y, epoch=None):
        """``rule.step(x, y, optimizer)``, recorded when it is due; returns
        the rule's step statistics."""
        number = self.steps
        self.steps += 1
        if not number % self.every == 0:
            return rule.step(x, y, optimizer)
        record = {"kind": "inspect", "step": number}
        if epoch is not None:
            record["epoch"] = epoch
        if "representation" in self.measures:
            record["representation"] = representation_statistics(rule.model, x, y,
                                                                  rule.loss_name)
        grads = deltas = None
        if "update" in self.measures or "signal" in self.measures:
            grads, deltas = backprop_reference(rule.model, x, y, rule.loss_name)
        if "memory" in self.measures:
            stats, mem = memory_during(rule, lambda: rule.step(x, y, optimizer))
            record["memory"] = {"peak": mem.peak, "per_layer": dict(mem.per_layer)}
        else:
            stats = rule.step(x, y, optimizer)
        record["loss"] = stats["loss"]
        if "update" in self.measures:
            model_params = {name for name, _ in rule.model.named_parameters()}
            applied = {k: v for k, v in rule.last_updates.items() if k in model_params}
            record["update"] = compare_updates(applied, grads)
        if "signal" in self.measures:
            record["signal"] = compare_signals(rule.last_signals, deltas, self.samples)
        if "weight" in self.measures:
            record["weight"] = weight_alignment(rule)
        self.records.append(_plain(record))
        return stats

    # -- state, files -------------------------------------------------------------------
    def state_dict(self):
        return {"every": self.every, "measures": list(self.measures), "samples": self.samples,
                "steps": self.steps, "records": json.dumps(self.records)}

    @classmethod
    def from_state_dict(cls, state):
        rec = cls(int(state["every"]), tuple(state["measures"]), bool(state["samples"]))
        rec.steps = int(state["steps"])
        rec.records = json.loads(state["records"])
        return rec

    def save(self, path):
        """Write the records to ``path`` as JSON lines (atomically)."""
        with atomic_write(path, "w") as f:
            for r in self.records:
                f.write(json.dumps(r) + "\n")


def _plain(value):
    """``value`` with every number a Python float/int and NaN/inf kept
    JSON-safe (as strings would not round-trip, they are given as None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    v = float(value)
    return v if math.isfinite(v) else None


def load_records(path, kind=None):
    """The records of a JSON-lines file written by :meth:`Recorder.save` or
    by a training run (``metrics.jsonl``): a list of dicts, only those of
    ``kind`` (``"inspect"``, ``"epoch"``) when given. A line that is not
    JSON is an error naming the file and the line."""
    out = []
    path = Path(path)
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path}, line {number}: not a JSON record ({exc})") from None
            if kind is None or rec.get("kind", "epoch") == kind:
                out.append(rec)
    return out
