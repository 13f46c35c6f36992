"""Activation memory: the bytes a learning rule keeps alive between its
forward computation and its update, from the engine's own bookkeeping.

    report = activation_memory(rule, x, y)
    report.peak          # bytes alive at the worst moment of one update
    report.per_layer     # {layer name: bytes of that layer's block at the peak}

:func:`activation_memory` runs ``rule.updates(x, y)`` once inside
:class:`minigrad.autodiff.track_saved_memory`, which counts what every
recorded graph node keeps for its vjp (saved inputs, saved output, arrays
the op's forward stashed), each buffer once (a saved view counts its whole
base, which it keeps alive), until the node's saved values are freed --
after its vjp, or when the node is dropped. Rules that keep activations in
plain arrays outside the graph (PEPITA's two passes) report them to the
same tracker with ``hold``/``release``. Not counted: parameters and views
of them, the rule's own state (feedback matrices, projections, running
statistics: they exist anyway), gradients and updates, and arrays that
Python variables hold without any node saving them (a transient result
freed at once, a logits array no vjp needs).

Per layer
---------
Each buffer is attributed to the block that was running when it was first
counted. A learnable layer's block is the layer, the modules after it up to
the next learnable layer, and the rule's own classifier for that layer
(``rule.local``'s module of the same name); the ops a rule runs between
modules belong to the block that ran last (a local loss to its block, the
task loss to the output layer); modules before the first learnable layer
(a Flatten) belong to the first. So the model's input, saved by the first
layer, is the first layer's. ``per_layer`` sums to ``peak``.

To see which block runs, every module of the model and of ``rule.local``
is mapped to its block, and for the duration of the call
``nn.Module.__call__`` and the ``forward`` of the classes of those modules
are wrapped at the class level to set the tracker's scope. Wrapping the
class (not the instance) sees the rules that run a layer as
``type(layer).forward(layer, h)`` and those that give a layer a function of
their own (feedback alignment's ``layer_functions``) alike.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from .. import nn
from ..autodiff import track_saved_memory
from ..rules.base import learnable_layers
from ..tensor import Tensor


@dataclass
class ActivationMemory:
    """Bytes of activations a rule kept alive during one update."""

    #: the most bytes alive at once
    peak: int
    #: {layer name: bytes attributed to that layer's block at the peak}, in
    #: the model's order (every learnable layer, 0 where nothing was kept)
    per_layer: dict = field(default_factory=dict)
    #: {layer name: the most bytes that layer's block had alive at any moment}
    #: (for a rule that learns block by block, each block's own peak)
    layer_peaks: dict = field(default_factory=dict)
    #: the sum of a buffer's bytes each time it began to be kept (for a rule
    #: that frees nothing before its backward, like backprop, the peak)
    total: int = 0
    #: bytes still counted after the update returned (0: nothing leaked)
    left: int = 0

    def __str__(self):
        rows = [f"peak {self.peak / 2 ** 20:.3f} MiB ({self.peak} bytes)"]
        rows += [f"  {name or '(model)'}: {b / 2 ** 20:.3f} MiB"
                 for name, b in self.per_layer.items()]
        return "\n".join(rows)


def block_scopes(rule):
    """``([(module, layer name)], [layer names])``: every leaf module of the
    model and of the rule's own classifiers with the block it belongs to
    (see the module docstring), and the learnable layers' names in order."""
    layers = learnable_layers(rule.model)
    names = [name for name, _ in layers]
    learnable = {id(m) for _, m in layers}
    pairs = []
    current = names[0] if names else None
    for name, m in rule.model.named_modules():
        if id(m) in learnable:
            current = name
            pairs.append((m, name))
        elif next(iter(m.children()), None) is None:        # a leaf module
            pairs.append((m, current))
    if rule.local is not None:
        for name, head in rule.local.named_children():
            scope = name if name in names else f"rule.{name}"
            pairs += [(m, scope) for m in head.modules()]
    return pairs, names


@contextlib.contextmanager
def scoped_modules(tracker, pairs):
    """While active, calling a module of ``pairs`` (``[(module, name)]``) sets
    ``tracker.scope`` to its name, which stays until another one runs. Wraps
    ``nn.Module.__call__`` and the ``forward`` of the modules' classes at the
    class level (so a direct ``type(layer).forward(layer, h)`` is seen too),
    and restores them on exit."""
    scopes = {id(m): name for m, name in pairs}

    def wrap(function):
        def wrapper(self, *args, **kwargs):
            name = scopes.get(id(self))
            if name is not None:
                tracker.scope = name
            return function(self, *args, **kwargs)
        return wrapper

    classes = {nn.Module} | {type(m) for m, _ in pairs}
    patched = []            # (class, attribute, what the class's own __dict__ held)
    try:
        for cls in sorted(classes, key=lambda c: len(c.__mro__)):   # bases first
            attr = "__call__" if cls is nn.Module else "forward"
            patched.append((cls, attr, cls.__dict__.get(attr)))
            setattr(cls, attr, wrap(getattr(cls, attr)))
        yield
    finally:
        for cls, attr, old in reversed(patched):
            if old is None:
                delattr(cls, attr)
            else:
                setattr(cls, attr, old)


def _state_arrays(value, out, depth=0):
    """Every array or Tensor inside nested dicts, lists and tuples."""
    if isinstance(value, Tensor) or hasattr(value, "nbytes") and hasattr(value, "base"):
        out.append(value)
    elif depth < 6 and isinstance(value, dict):
        for v in value.values():
            _state_arrays(v, out, depth + 1)
    elif depth < 6 and isinstance(value, (list, tuple)):
        for v in value:
            _state_arrays(v, out, depth + 1)
    return out


def activation_memory(rule, x, y):
    """Run ``rule.updates(x, y)`` once and return the :class:`ActivationMemory`
    it kept: the peak bytes alive between the forward computation and the
    update, and the blocks they belong to at that moment.

    It is one call of ``updates``, with that call's side effects (a rule's
    random draws, running statistics), as :func:`update_alignment` is.
    What is counted and how it is attributed: see the module docstring.
    """
    return memory_during(rule, lambda: rule.updates(x, y))[1]


def memory_during(rule, call):
    """``(call(), ActivationMemory)``: run ``call`` (one update or one step
    of ``rule``: ``lambda: rule.step(x, y, optimizer)``) under the memory
    tracker, with the scopes of ``rule``'s blocks; what it returns, and
    what it kept."""
    # what exists anyway: parameters, buffers, the rule's state (feedback matrices)
    exclude = _state_arrays([rule.model.state_dict(), rule.state_dict()], [])
    pairs, layers = block_scopes(rule)
    with track_saved_memory(exclude=exclude) as mem, scoped_modules(mem, pairs):
        mem.scope = layers[0] if layers else None
        result = call()

    def by_layer(counts):
        out = {name: counts.get(name, 0) for name in layers}
        out.update((k, v) for k, v in counts.items() if k not in out)   # "rule.<name>"
        return out

    return result, ActivationMemory(peak=mem.peak, per_layer=by_layer(mem.peak_by_scope),
                                    layer_peaks=by_layer(mem.max_by_scope), total=mem.total,
                                    left=mem.current)
