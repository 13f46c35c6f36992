"""Automatic differentiation: the op protocol, reverse mode and forward mode.

The whole engine is in this file:

* :class:`Op` -- one primitive function with its three rules: ``forward``
  on raw arrays, ``vjp`` (reverse mode) and ``jvp`` (forward mode) written
  with Tensor operations, so derivatives of derivatives work.
* :func:`apply` -- runs an op on tensors. When gradients are wanted it
  records the op as a node of the graph (the op instance *is* the node, as in
  DeZero); when tangents are attached it propagates them at once (forward
  mode keeps no graph of its own).
* :func:`backward` / :func:`grad` -- reverse mode: an iterative topological
  sort of the graph (no recursion, so a 10,000-op chain is fine), then one
  ``vjp`` per node, accumulating gradients where paths meet.
* grad mode (:class:`no_grad`, :class:`enable_grad`), forward-mode levels
  (:class:`dual_level`) and :class:`detect_anomaly`.
* :class:`track_saved_memory` -- the bytes of arrays the graph keeps alive
  for its vjps, counted from the nodes as they are recorded and freed.

Conventions a new op must follow
--------------------------------
``forward(self, *arrays)`` gets raw arrays (NumPy or CuPy) and returns one
array. It may stash constants it computed (a mask, an index) on ``self``.
``vjp(self, g)`` gets the gradient of the output (a Tensor) and returns one
Tensor (or ``None``) per input. ``jvp(self, *tangents)`` gets one tangent per
input (``ZERO`` where an input has none) and returns the output's tangent.
Both may use ``self.inputs`` (the input Tensors) and ``self.output``; an op
that does not need them in its vjp sets ``saves_inputs = False`` (and
``saves_output = True`` when its vjp uses the output) so the graph keeps no
more memory than it must (:class:`track_saved_memory` counts what it
keeps, stashed arrays included). Broadcasting is undone by the engine (the
gradient of each input is summed back to its shape), so a vjp may return a
gradient of the broadcast shape.
"""
from __future__ import annotations

import copy
import itertools
import operator
import threading
import traceback
import weakref

import numpy as _np

from . import backend as _backend
from .backend import get_array_module
from .errors import (AnomalyError, BackendError, GradientError,
                     MinigradError, ShapeError)
from .tensor import Tensor, _wrap

# ==========================================================================
# Global state: grad mode, anomaly mode, forward-mode levels
# ==========================================================================


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.fw_levels = []        # active forward-mode levels, outermost first
        self.fw_hidden = set()     # levels whose tangents are being computed
        self.in_vjp = None         # the node whose vjp runs (for anomaly messages)
        self.fast_grad_mode = True  # what apply's fast path reads: see below

    def update_fast_path(self):
        """Recompute ``fast_grad_mode``, the one attribute :func:`apply`'s
        fast path reads (each read of a thread-local attribute costs):
        None while a forward level is active or anomaly detection is on, so
        apply takes its general path; else the grad mode. Every context
        manager below calls this after changing the state."""
        if self.fw_levels or self.anomaly:
            self.fast_grad_mode = None
        else:
            self.fast_grad_mode = self.grad_enabled


_state = _State()
_level_counter = [0]


def is_grad_enabled() -> bool:
    """True when ops record the graph for reverse mode."""
    return _state.grad_enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _state.grad_enabled
        _state.grad_enabled = self.mode  # like torch: takes effect at once
        _state.update_fast_path()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        _state.update_fast_path()
        return False


class _GradModeContext:
    mode = True

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = self.mode
        _state.update_fast_path()
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        _state.update_fast_path()
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Ops inside this block record no graph (as ``torch.no_grad``).

    Forward-mode tangents still propagate, as in PyTorch and JAX.
    Works as a context manager and as a decorator.
    """

    mode = False


class enable_grad(_GradModeContext):
    """Turn graph recording back on inside a :class:`no_grad` block."""

    mode = True


class detect_anomaly:
    """Inside this block, an op whose forward value or gradient holds NaN or
    Inf raises :class:`AnomalyError` naming the op and where it was created.

    Slow (every value is checked, which synchronises a GPU); for debugging.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        self.prev = _state.anomaly
        _state.anomaly = self.enabled
        _state.update_fast_path()
        return self

    def __exit__(self, *exc):
        _state.anomaly = self.prev
        _state.update_fast_path()
        return False


def is_anomaly_enabled() -> bool:
    return _state.anomaly


class dual_level:
    """A forward-mode level: tangents attached inside it belong to it.

    Levels nest, so derivatives of directional derivatives (forward over
    forward) are computed without confusing the two directions. Leaving the
    level makes its tangents invisible. Returns the level id.
    """

    def __enter__(self):
        _level_counter[0] += 1
        self.level = _level_counter[0]
        _state.fw_levels.append(self.level)
        _state.update_fast_path()
        return self.level

    def __exit__(self, *exc):
        _state.fw_levels.remove(self.level)
        _state.update_fast_path()
        return False


def current_level() -> int:
    """The innermost active forward-mode level (raises if none is active)."""
    if not _state.fw_levels:
        raise GradientError(
            "forward mode: no active dual level; wrap the code in "
            "`with minigrad.dual_level():`")
    return _state.fw_levels[-1]


class ZeroTangent:
    """The tangent of an input that has none: known to be zero.

    Arithmetic with it is skipped instead of multiplying arrays of zeros,
    so a jvp rule reads like the math (``da @ b + a @ db``) and costs only
    what the nonzero tangents need. (JAX calls these symbolic zeros.)
    """

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "ZERO"

    def __add__(self, other):
        return other

    __radd__ = __add__

    def __sub__(self, other):
        return self if other is self else -other

    def __rsub__(self, other):
        return other

    def __neg__(self):
        return self

    def __mul__(self, other):
        return self

    __rmul__ = __mul__
    __truediv__ = __mul__
    __matmul__ = __mul__
    __rmatmul__ = __mul__

    def __rtruediv__(self, other):
        raise ZeroDivisionError("division by a zero tangent")


ZERO = ZeroTangent()


# ==========================================================================
# Ops
# ==========================================================================

_sequence = itertools.count()   # creation order of graph nodes


class Op:
    """A primitive function with its forward, vjp and jvp rules.

    Subclasses set ``name`` and implement ``forward`` (raw arrays in, one raw
    array out), ``vjp`` and ``jvp`` (Tensors in, Tensors out). See the module
    docstring for the conventions. An instance is created per call and
    becomes the graph node of its output.
    """

    name = "op"
    saves_inputs = True    # vjp needs self.inputs
    saves_output = False   # vjp needs self.output

    # Set by the engine. The three fields that every graph node holds are
    # slots (cheaper to write than entries of the instance's __dict__, and
    # kept when _release() empties that dict); the others are class
    # defaults, overridden per instance when set.
    __slots__ = ("_edges", "_out_meta", "_seq", "__dict__", "__weakref__")
    _inputs = None
    _out_data = None
    _out_tangents = None
    _jvp_output = None
    _needs = None
    _released = False
    _retained = None
    _hooks = None
    _trace = None
    _memory = None     # set only while a track_saved_memory block records the node

    def forward(self, *arrays):
        raise NotImplementedError

    def vjp(self, g):
        raise NotImplementedError(f"op '{self.name}' has no vjp rule")

    def jvp(self, *tangents):
        raise NotImplementedError(f"op '{self.name}' has no jvp rule")

    # -- what the rules may read -------------------------------------------
    @property
    def inputs(self):
        """The input Tensors (with their graph and tangents)."""
        if self._inputs is None:
            self._check_not_released()
            raise GradientError(
                f"op '{self.name}' does not save its inputs (saves_inputs = False: its "
                "rules do not need them), so .inputs is not available; .parents names "
                "the graph nodes its inputs came from")
        if self._versions is not None:
            for t, v in zip(self._inputs, self._versions):
                if t._version != v:
                    raise GradientError(
                        f"a tensor of shape {t.shape} needed to differentiate "
                        f"'{self.name}' was modified in place after it was "
                        "used; clone it before modifying it")
        return self._inputs

    _versions = None

    @property
    def output(self):
        """The output Tensor: in a jvp rule, the output being computed; in a
        vjp rule, the saved output, still attached to this node."""
        if self._jvp_output is not None:
            return self._jvp_output
        if self._out_data is None:
            self._check_not_released()
            raise GradientError(
                f"op '{self.name}' uses self.output but does not set "
                "saves_output = True")
        t = Tensor._make(self._out_data)   # saved only when the node was recorded
        t._node = self
        t.requires_grad = True
        t._tangents = self._out_tangents
        return t

    @property
    def needs_input_grad(self):
        """One bool per input: is its gradient wanted in this backward?
        (Outside a backward pass -- a vjp called by hand -- every input's.)"""
        if self._needs is None:
            return [e is not None for e in self._edges]
        return self._needs

    @property
    def parents(self):
        """One entry per input, where the input came from: the Op that made
        it, the leaf Tensor itself (a tensor created by the user with
        ``requires_grad=True``), or None (an input that needs no gradient).
        Following ``parents`` from ``loss.grad_fn`` walks the whole graph
        (``grad_fn.next_functions`` in PyTorch)."""
        return tuple(self._edges)

    def _check_not_released(self):
        if self._released:
            raise GradientError(
                f"trying to backward through the graph a second time (op "
                f"'{self.name}'): its saved values were freed by the first "
                "backward; pass retain_graph=True to the first backward if you "
                "need to backward twice")

    def _release(self):
        """Drop everything saved for the vjp, keeping the graph's shape so a
        second backward can say what happened.

        What a node saved (inputs, output, whatever its forward stashed on
        ``self``) is in its ``__dict__``; the graph's shape is in the slots.
        Deleting the ``__dict__`` drops all the saved values at once; the
        three rarely-set attributes that must survive are put back (and an
        active :class:`track_saved_memory` is told the node keeps nothing now)."""
        retained, hooks, trace = self._retained, self._hooks, self._trace
        if self._memory is not None:
            self._memory()        # a weakref.finalize: runs once, whatever happens later
        del self.__dict__
        self._released = True
        if retained is not None or hooks is not None or trace is not None:
            self._retained, self._hooks, self._trace = retained, hooks, trace

    def __repr__(self):
        return f"<{type(self).__name__} node '{self.name}'>"


_data_of = operator.attrgetter("data")


def _shapes(inputs):
    return ", ".join(str(tuple(t.shape)) for t in inputs)


def _forward_levels(inputs):
    """Forward-mode levels carried by ``inputs`` that are active, not hidden."""
    levels = None
    active = _state.fw_levels
    hidden = _state.fw_hidden
    for t in inputs:
        tg = t._tangents
        if tg:
            for lv in tg:
                if lv in active and lv not in hidden:
                    if levels is None:
                        levels = [lv]
                    elif lv not in levels:
                        levels.append(lv)
    if levels is not None:
        levels.sort()
    return levels


def apply(op: Op, *inputs: Tensor) -> Tensor:
    """Run ``op`` on input Tensors and return the output Tensor.

    1. forward on the raw arrays;
    2. if grad mode is on and an input requires grad: record ``op`` as the
       output's node (edges to the inputs' nodes, saved values);
    3. if an input carries a tangent of an active forward level: compute the
       output's tangent with ``op.jvp`` right away.

    Most calls have one or two inputs, no active forward level and no
    anomaly detection; the fast path at the top does steps 1 and 2 for them.
    The general path below it does everything, and is the reference.
    """
    state = _state

    # -- fast path --------------------------------------------------------------
    # One or two inputs, no forward level active, anomaly detection off (the
    # common case): steps 1 and 2 below, minus what cannot happen here, with
    # the arrays passed to forward directly. The dtype test can come last:
    # without step 3 and the anomaly check, an output that is not recorded is
    # returned as it is, whatever its dtype.
    grad_mode = state.fast_grad_mode   # None when a level or anomaly mode is on
    n = len(inputs)
    if grad_mode is not None and (n == 1 or n == 2):
        first, last = inputs[0], inputs[-1]   # the same tensor when n == 1
        try:
            if n == 1:
                out_data = op.forward(first.data)
            else:
                if _backend._cupy is not None:
                    _check_one_backend(op, inputs, (first.data, last.data))
                out_data = op.forward(first.data, last.data)
        except MinigradError:
            raise
        except (ValueError, IndexError) as exc:
            raise _shape_error(op, inputs, exc) from None
        out = _wrap(out_data)
        if (grad_mode and (first.requires_grad or last.requires_grad)
                and out.data.dtype.kind == "f"):
            _record(op, inputs, out)
        return out

    # -- general path -----------------------------------------------------------
    arrays = list(map(_data_of, inputs))
    if _backend._cupy is not None and len(arrays) > 1:
        _check_one_backend(op, inputs, arrays)
    levels = pristine = None
    if state.fw_levels:
        levels = _forward_levels(inputs)
        if levels is not None and len(levels) > 1:
            pristine = copy.copy(op)   # nested levels re-run the op (see below)

    # -- 1. forward -------------------------------------------------------------
    try:
        out_data = op.forward(*arrays)
    except MinigradError:
        raise
    except (ValueError, IndexError) as exc:
        raise _shape_error(op, inputs, exc) from None
    out = _wrap(out_data)
    out_data = out.data
    if out_data.dtype.kind != "f":   # integer / boolean results have no derivative
        return out

    # -- 2. record the graph ----------------------------------------------------
    record = False
    if state.grad_enabled:
        for t in inputs:
            if t.requires_grad:
                record = True
                break
    if record:
        _record(op, inputs, out)
        if state.anomaly:
            op._trace = _user_stack()

    # -- 3. forward mode --------------------------------------------------------
    if levels is not None:
        op._inputs = inputs
        tangents = {}
        for lv in levels:
            t_in = [t._tangents.get(lv, ZERO) if t._tangents else ZERO for t in inputs]
            _state.fw_hidden.add(lv)
            try:
                if pristine is None:
                    op._jvp_output = out
                else:  # nested levels: the output with its other-level tangents
                    op._jvp_output = apply(copy.copy(pristine), *inputs)
                dt = op.jvp(*t_in)
            finally:
                _state.fw_hidden.discard(lv)
                op._jvp_output = None
            if dt is ZERO or dt is None:
                continue
            if dt.data.shape != out_data.shape:
                from .ops.shape import broadcast_to
                dt = broadcast_to(dt, out_data.shape)
            if dt.data.dtype != out_data.dtype:
                dt = dt.astype(out_data.dtype)
            tangents[lv] = dt
        if tangents:
            out._tangents = tangents
            if _state.anomaly:
                for dt in tangents.values():
                    _check_finite(dt.data, f"the tangent (jvp) of '{op.name}'", op)
        if record and op.saves_output:
            op._out_tangents = out._tangents
        if not (record and op.saves_inputs):
            op._inputs = None   # only the jvp needed them

    if state.anomaly:
        _check_finite(out_data, f"the forward value of '{op.name}'", op)
    return out


def _record(op, inputs, out):
    """Step 2 of :func:`apply`: make ``op`` the graph node of ``out``."""
    edges = []   # where each input's gradient goes: its node, the leaf itself, or nowhere
    for t in inputs:
        if t.requires_grad:
            edges.append(t if t._node is None else t._node)
        else:
            edges.append(None)
    op._edges = edges
    out_data = out.data
    op._out_meta = (out_data.shape, out_data.dtype)
    op._seq = next(_sequence)
    if op.saves_output:
        op._out_data = out_data
    if op.saves_inputs:   # with their versions, to detect in-place changes
        op._inputs = inputs
        op._versions = [t._version for t in inputs]
    out._node = op
    out.requires_grad = True
    if _memory_tracker is not None:      # track_saved_memory is active: count what op keeps
        _memory_tracker._add_node(op)


def _shape_error(op, inputs, exc):
    """A NumPy error raised in a forward, as a ShapeError naming the op."""
    return ShapeError(f"{op.name}: {exc} (input shapes: {_shapes(inputs)})")


def _check_one_backend(op, inputs, arrays):
    t0 = type(arrays[0])
    for a in arrays:
        if type(a) is not t0:
            try:
                get_array_module(*arrays)
            except BackendError:
                raise BackendError(
                    f"{op.name}: inputs live on different backends "
                    f"({', '.join(t.backend for t in inputs)}); move them to "
                    "one with Tensor.to('numpy') or .to('cupy')") from None
            return


def _user_stack():
    """The innermost frames of the call stack that are outside minigrad."""
    import os
    pkg = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_stack()[:-1]
              if not os.path.abspath(f.filename).startswith(pkg)]
    return "".join(traceback.format_list(frames[-4:]))


def _check_finite(array, what, op):
    if array.dtype.kind not in "fc" or array.size == 0:
        return
    xp = get_array_module(array)
    if not bool(xp.isfinite(array).all()):
        kind = "NaN" if bool(xp.isnan(array).any()) else "Inf"
        if _state.in_vjp is not None and what.startswith("the forward value"):
            node = _state.in_vjp
            what = (f"the gradient computed by the vjp of '{node.name}' (in its "
                    f"'{op.name}' step)")
            op = node
        where = op._trace or _user_stack()
        raise AnomalyError(
            f"{what} contains {kind} (shape {tuple(array.shape)}). "
            f"The op was called here:\n{where}")


# ==========================================================================
# Reverse mode
# ==========================================================================


def _reachable(roots):
    """Every node and leaf reachable from ``roots`` through the edges.

    Iterative (a 10,000-op chain is fine), and the result is sorted into a
    topological order for free: each node carries the sequence number of
    its creation, and an op is always created after the ops that made its
    inputs, so sorting by decreasing number puts every consumer before what
    it consumes (PyTorch's engine orders its work the same way). Leaves have
    no outgoing edges and come last."""
    nodes, leaves = [], []
    seen = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if not isinstance(n, Op):          # a leaf tensor (or Parameter)
            leaves.append(n)
            continue
        nodes.append(n)
        for e in n._edges:
            if e is not None and id(e) not in seen:
                stack.append(e)
    nodes.sort(key=_seq_of, reverse=True)
    return nodes, leaves


_seq_of = operator.attrgetter("_seq")


def _graph_key(t: Tensor):
    return t._node if t._node is not None else t


def _run_backward(outputs, grad_outputs, retain_graph, create_graph,
                  targets=None, accumulate=True, allow_unused=False):
    """The reverse pass shared by :func:`backward` and :func:`grad`.

    ``grads`` maps each node (by id) to the gradient of its output, summed
    over every consumer; a node's vjp runs once all its consumers are done,
    which the topological order guarantees."""
    roots = []
    grads = {}
    for out, g in zip(outputs, grad_outputs):
        key = _graph_key(out)
        roots.append(key)
        prev = grads.get(id(key))
        grads[id(key)] = g if prev is None else prev + g

    nodes, leaves = _reachable(roots)

    # With targets, only the nodes on a path to a target are differentiated.
    target_ids = needed = None
    if targets is not None:
        target_ids = {id(_graph_key(t)) for t in targets}
        needed = {i for i in target_ids}
        for n in reversed(nodes):               # inputs before consumers
            for e in n._edges:
                if e is not None and id(e) in needed:
                    needed.add(id(n))
                    break

    captured = {}
    handed_out = set()   # ids of arrays already stored in some .grad
    anomaly = _state.anomaly
    from .ops.shape import sum_to  # the one helper that undoes broadcasting

    with set_grad_enabled(create_graph):
        for n in nodes:
            g = grads.pop(id(n), None)
            if g is None:
                continue
            if n._hooks:
                g = _run_hooks(n._hooks, g)
            if target_ids is not None and id(n) in target_ids:
                captured[id(n)] = g
            if n._retained is not None and accumulate and target_ids is None:
                t = n._retained()
                if t is not None:
                    t.grad = _owned(g, handed_out) if t.grad is None else t.grad + g
            if needed is not None and id(n) not in needed:
                continue
            if n._released:
                n._check_not_released()

            edges = n._edges
            needs = []   # which inputs' gradients this backward wants
            for e in edges:
                needs.append(e is not None and (needed is None or id(e) in needed))
            n._needs = needs
            if anomaly:
                _state.in_vjp = n
                try:
                    in_grads = n.vjp(g)
                finally:
                    _state.in_vjp = None
            else:
                in_grads = n.vjp(g)
            if in_grads.__class__ is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(edges):
                raise GradientError(
                    f"vjp of '{n.name}' returned {len(in_grads)} gradients for "
                    f"{len(edges)} inputs")
            for e, gi, need in zip(edges, in_grads, needs):
                if gi is None or not need:
                    continue
                shape, dtype = (e.data.shape, e.data.dtype) if isinstance(e, Tensor) \
                    else e._out_meta
                if gi.data.shape != shape:
                    gi = sum_to(gi, shape)
                if gi.data.dtype != dtype:
                    gi = gi.astype(dtype)
                if anomaly:
                    _check_finite(gi.data, f"the gradient computed by the vjp of '{n.name}'", n)
                key = id(e)
                prev = grads.get(key)
                grads[key] = gi if prev is None else prev + gi
            if not retain_graph:
                n._release()

        for leaf in leaves:
            g = grads.pop(id(leaf), None)
            if g is None:
                continue
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g)
            if target_ids is not None:
                if id(leaf) not in target_ids:
                    continue
                captured[id(leaf)] = g
            if accumulate:
                leaf.grad = _owned(g, handed_out) if leaf.grad is None else leaf.grad + g

    if targets is None:
        return None
    if accumulate:  # backward(inputs=...): non-leaf inputs get .grad too
        for t in targets:
            g = captured.get(id(_graph_key(t)))
            if t._node is not None and g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return None
    result = []
    for i, t in enumerate(targets):
        g = captured.get(id(_graph_key(t)))
        if g is None and not allow_unused:
            raise GradientError(
                f"input {i} (shape {t.shape}) is not reachable from the outputs: "
                "it was not used to compute them, or only through detached or "
                "integer paths; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


def _run_hooks(hooks, g):
    for h in hooks:
        r = h(g)
        if r is not None:
            g = r
    return g


def _owned(g, handed_out):
    """``g`` itself if it may become a ``.grad`` (a fresh, writeable array that
    no other ``.grad`` holds), else a copy. A vjp may pass the same gradient
    to several inputs (add does) or return a view (reshape does); two leaves
    must never share one gradient array, or an in-place update of one
    (``p.grad.mul_(...)`` in gradient clipping) would change the other."""
    d = g.data
    if (d.base is not None or id(d) in handed_out
            or not getattr(d.flags, "writeable", True)):
        from .ops.elementwise import clone
        g = clone(g) if g.requires_grad else Tensor._make(d.copy())
        d = g.data
    handed_out.add(id(d))
    return g


def _seed_gradients(outputs, grad_outputs, fn_name):
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{fn_name}: output {i} is a {type(out).__name__}, not a Tensor")
        if not out.requires_grad:
            raise GradientError(
                f"{fn_name}: output {i} (shape {out.shape}) does not require grad "
                "and has no graph: no input it was computed from has "
                "requires_grad=True, or it was computed under no_grad()")
        if g is None:
            if out.data.size != 1:
                raise GradientError(
                    f"{fn_name}: a gradient can be created implicitly only for a "
                    f"scalar output, but output {i} has shape {out.shape}; pass "
                    "the gradient of the output (a tensor of the same shape)")
            xp = get_array_module(out.data)
            g = Tensor._make(xp.ones(out.data.shape, dtype=out.data.dtype))
        else:
            if not isinstance(g, Tensor):
                xp = get_array_module(out.data)
                g = Tensor._make(xp.asarray(g, dtype=out.data.dtype))
            if g.shape != out.shape:
                raise ShapeError(
                    f"{fn_name}: the gradient for output {i} has shape {g.shape} "
                    f"but the output has shape {out.shape}")
            if not g.requires_grad:   # the caller's array must not end up in a .grad
                copy = Tensor._make(g.data.copy())
                copy._tangents = g._tangents   # forward mode through the backward pass
                g = copy
        seeds.append(g)
    return seeds


def backward(tensors, grad_tensors=None, retain_graph=False, create_graph=False,
             inputs=None):
    """Accumulate d(tensors)/d(leaf) into the ``.grad`` of every leaf.

    ``grad_tensors`` are the gradients of ``tensors`` (may be omitted for
    scalars). ``retain_graph`` keeps the saved values so a second backward
    works; ``create_graph`` records the backward pass itself, so the
    gradients can be differentiated again. ``inputs`` restricts which leaves
    receive gradients.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise GradientError(
            f"backward: got {len(grad_tensors)} gradients for {len(tensors)} outputs")
    seeds = _seed_gradients(tensors, grad_tensors, "backward")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        _check_targets(inputs, "backward")
    _run_backward(tensors, seeds, retain_graph or create_graph, create_graph,
                  targets=inputs, accumulate=True, allow_unused=True)


def _check_targets(inputs, fn_name):
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn_name}: input {i} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise GradientError(
                f"{fn_name}: input {i} (shape {t.shape}) does not require grad; "
                "create it with requires_grad=True")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None,
         create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a
    tuple (like ``torch.autograd.grad``); no ``.grad`` is touched.

    Only the part of the graph between ``inputs`` and ``outputs`` is
    differentiated, and an op is asked only for the input gradients needed.
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise GradientError(
            f"grad: got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    _check_targets(inputs, "grad")
    seeds = _seed_gradients(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    return _run_backward(outputs, seeds, retain_graph, create_graph,
                         targets=inputs, accumulate=False, allow_unused=allow_unused)


# --------------------------------------------------------------------------
# Hooks and retained gradients (used by Tensor.retain_grad / register_hook)
# --------------------------------------------------------------------------


def retain_grad(t: Tensor) -> None:
    if t._node is None:
        return  # leaves keep their gradient anyway
    t._node._retained = weakref.ref(t)


def register_hook(t: Tensor, hook):
    """Call ``hook(grad)`` when the gradient of ``t`` is computed; a non-None
    return value replaces the gradient. Returns a handle with ``remove()``."""
    if not t.requires_grad:
        raise GradientError("register_hook: cannot register a hook on a tensor "
                            "that does not require grad")
    owner = _graph_key(t)
    if owner._hooks is None:
        owner._hooks = []
    owner._hooks.append(hook)
    return _HookHandle(owner, hook)


class _HookHandle:
    def __init__(self, owner, hook):
        self.owner = owner
        self.hook = hook

    def remove(self):
        if self.owner._hooks and self.hook in self.owner._hooks:
            self.owner._hooks.remove(self.hook)


# ==========================================================================
# Memory accounting: what the graph keeps alive for its vjps
# ==========================================================================

#: The active :class:`track_saved_memory`, or None. A plain module global, read
#: by :func:`_record` only when it records a node (so apply's cost without a
#: tracker does not change); not thread-aware: nodes recorded by any thread
#: while a tracker is active count toward it.
_memory_tracker = None


def active_memory_tracker():
    """The innermost active :class:`track_saved_memory`, or None. Code that
    keeps activations outside the graph (in plain arrays) reports them to it
    with :meth:`track_saved_memory.hold` when it is not None."""
    return _memory_tracker


def _root_array(a):
    """The array that owns ``a``'s memory: ``a`` itself, or the base at the
    end of its chain of views (a view keeps all of its base alive)."""
    base = a.base
    while base is not None and hasattr(base, "nbytes") and hasattr(base, "base"):
        a, base = base, base.base
    return a


def _is_array(v):
    return isinstance(v, _np.ndarray) or (
        _backend._cupy is not None and isinstance(v, _backend._cupy.ndarray))


class track_saved_memory:
    """Count the bytes of arrays the graph keeps alive for its vjps.

    ::

        with autodiff.track_saved_memory() as mem:
            mem.scope = "layer 1"            # optional: who is running now
            loss = f(x)
            grads = autograd.grad(loss, params)
        mem.peak, mem.peak_by_scope, mem.current

    While the block is active, every node the engine records reports what it
    keeps for its vjp: its saved inputs (``saves_inputs``), its saved output
    (``saves_output``) and whatever its forward stashed on the op (the
    values of its ``__dict__`` that are arrays or Tensors, or tuples and
    lists of them: a mask, an index). Not counted: the arrays of leaf
    tensors that require grad (parameters: they exist anyway) and views of
    them (a parameter is recognised from the first node that takes it as an
    input; pass it in ``exclude`` to be sure), arrays passed in ``exclude``
    (a rule's feedback matrices), forward-mode tangents, and arrays that
    Python variables hold but no node saves.

    Counting is by buffer: an array is followed through ``.base`` to the
    array that owns its memory, and that owner's ``nbytes`` is counted once
    while any node (or :meth:`hold`) refers to it -- a saved view keeps its
    whole base alive, and is counted as such. A node's share is removed
    when its saved values are freed: after its vjp in a backward without
    ``retain_graph``, or when the node is garbage-collected (whichever comes
    first; both are idempotent). ``current`` is the bytes alive now,
    ``peak`` the largest ``current`` seen, ``total`` the sum of a buffer's
    bytes each time it began to be kept (a buffer freed and kept again by a
    later node counts twice).

    ``scope`` is a label set by the caller (a layer's name, say): an owner
    buffer's bytes belong to the scope current when it was first counted.
    ``by_scope`` holds the bytes alive now per scope, ``peak_by_scope`` the
    same at the moment of the peak (its values sum to ``peak``), and
    ``max_by_scope`` the most each scope had alive at any moment.

    Trackers nest; only the innermost counts. On exit the tracker stops
    counting new nodes, but nodes it counted that are still alive are
    removed from ``current`` when they are freed.
    """

    def __init__(self, exclude=()):
        self.scope = None
        self.current = 0
        self.peak = 0
        self.total = 0
        self.by_scope = {}
        self.peak_by_scope = {}
        self.max_by_scope = {}
        self._buffers = {}     # id(owner array) -> [nbytes, scope, number of holders]
        self._holders = {}     # node sequence number, or ("hold", owner) -> [buffer ids]
        self._held = {}        # ("hold", owner) -> the arrays, kept while held
        self._excluded = {}    # id(owner array) -> the array (so its id is not reused)
        self._outer = None
        for a in exclude:
            self.exclude(a)

    def __enter__(self):
        global _memory_tracker
        self._outer, _memory_tracker = _memory_tracker, self
        return self

    def __exit__(self, *exc):
        global _memory_tracker
        _memory_tracker, self._outer = self._outer, None
        self._excluded.clear()
        self._held.clear()     # what is still held stays in `current`: a leak shows
        return False

    # -- what callers use ----------------------------------------------------------
    def exclude(self, array):
        """Never count ``array``'s buffer (an array or a Tensor that exists
        anyway, like a feedback matrix)."""
        if isinstance(array, Tensor):
            array = array.data
        if _is_array(array):
            root = _root_array(array)
            self._excluded[id(root)] = root

    def hold(self, owner, arrays, scope=None):
        """Count ``arrays`` (arrays or Tensors) as kept alive by ``owner`` (any
        hashable key) until :meth:`release` -- for activations a rule keeps
        in plain arrays, outside the graph. ``scope`` defaults to the
        current scope. Holding under an owner that already holds adds to it."""
        key = ("hold", owner)
        previous = self.scope
        if scope is not None:
            self.scope = scope
        try:
            self._count(key, list(arrays))
        finally:
            self.scope = previous
        self._held.setdefault(key, []).extend(arrays)

    def release(self, owner):
        """``owner`` keeps nothing any more (no-op if it holds nothing)."""
        key = ("hold", owner)
        self._drop(key)
        self._held.pop(key, None)

    # -- the engine's side ---------------------------------------------------------
    def _add_node(self, op):
        """Called by :func:`_record` for each node recorded while active."""
        for e in op._edges:             # a leaf that requires grad: a parameter
            if isinstance(e, Tensor):
                root = _root_array(e.data)
                self._excluded[id(root)] = root
        values = []
        for v in op.__dict__.values():
            if isinstance(v, (tuple, list)):
                values.extend(v)
            else:
                values.append(v)
        if self._count(op._seq, values):
            op._memory = weakref.finalize(op, self._drop, op._seq)

    def _count(self, key, values):
        ids = self._holders.get(key)
        new = ids is None
        if new:
            ids = []
        for v in values:
            if isinstance(v, Tensor):
                if v._node is None and v.requires_grad:
                    root = _root_array(v.data)
                    self._excluded[id(root)] = root
                    continue
                v = v.data
            elif not _is_array(v):
                continue
            root = _root_array(v)
            rid = id(root)
            if rid in self._excluded or rid in ids:
                continue
            ids.append(rid)
            entry = self._buffers.get(rid)
            if entry is not None:
                entry[2] += 1
                continue
            n = int(root.nbytes)
            self._buffers[rid] = [n, self.scope, 1]
            self.current += n
            self.total += n
            now = self.by_scope[self.scope] = self.by_scope.get(self.scope, 0) + n
            if now > self.max_by_scope.get(self.scope, 0):
                self.max_by_scope[self.scope] = now
        if not ids:
            return False
        if new:
            self._holders[key] = ids
        if self.current > self.peak:
            self.peak = self.current
            self.peak_by_scope = {k: v for k, v in self.by_scope.items() if v}
        return True

    def _drop(self, key):
        ids = self._holders.pop(key, None)
        if ids is None:
            return
        for rid in ids:
            entry = self._buffers[rid]
            entry[2] -= 1
            if entry[2] == 0:
                del self._buffers[rid]
                self.current -= entry[0]
                self.by_scope[entry[1]] -= entry[0]

    def __repr__(self):
        return (f"<track_saved_memory current={self.current} peak={self.peak} "
                f"total={self.total}>")


__all__ = [
    "Op", "apply", "ZERO", "ZeroTangent", "backward", "grad", "no_grad",
    "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
    "is_anomaly_enabled", "dual_level", "current_level", "track_saved_memory",
    "active_memory_tracker",
]
