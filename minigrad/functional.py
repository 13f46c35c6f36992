"""Function transforms, JAX-style: jvp, vjp, grad, value_and_grad, hvp,
jacobian, hessian, and functional_call to apply them to a model's parameters.

Each transform takes a Python function of Tensors and returns numbers (jvp,
vjp, hvp) or a new function (grad, jacobian, hessian). They compose:
``jvp(grad(f), ...)`` is forward-over-reverse, ``grad(lambda x: jvp(f, ...))``
reverse-over-forward, ``grad(grad(f))`` reverse-over-reverse.

How they are built on the engine:

* forward mode (:func:`jvp`) opens a :class:`~minigrad.autodiff.dual_level`,
  attaches the tangents to the inputs with :func:`make_dual`, runs ``f``
  (every op computes its output's tangent with its jvp rule as it runs) and
  reads the tangents off the outputs. When the inputs do not require
  gradients no reverse graph is recorded at all.
* reverse mode (:func:`vjp`) runs ``f`` on fresh inputs that require grad
  and differentiates only the graph between them and the outputs.
  Gradients are themselves differentiable (the backward pass is recorded)
  whenever the result could be differentiated again: when the computation
  depends on tensors from outside that require grad, or the cotangent does.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import autodiff
from .autodiff import apply, dual_level, enable_grad
from .ops.shape import Alias
from .errors import ArgumentError, BackendError, DTypeError, GradientError, ShapeError
from .tensor import Tensor

# ==========================================================================
# Dual tensors (forward mode)
# ==========================================================================


def _check_tangent(primal, tangent, where):
    if not isinstance(tangent, Tensor):
        raise TypeError(f"{where}: the tangent must be a Tensor, got {type(tangent).__name__}")
    if primal.data.dtype.kind != "f":
        raise DTypeError(f"{where}: only floating-point tensors have tangents; the primal "
                         f"has dtype {primal.data.dtype}")
    _check_matches(tangent, primal, where, "tangent", "primal")


def _check_matches(t, ref, where, what, ref_what):
    """Raise, naming ``where``, when ``t`` (a tangent or cotangent) differs
    from ``ref`` (its primal or output) in shape, dtype or backend."""
    if t.shape != ref.shape:
        raise ShapeError(f"{where}: the {what} has shape {t.shape} but the {ref_what} has "
                         f"shape {ref.shape}; they must match")
    if t.data.dtype != ref.data.dtype:
        raise DTypeError(f"{where}: the {what} has dtype {t.data.dtype} but the {ref_what} "
                         f"has dtype {ref.data.dtype}; they must match")
    if t.backend != ref.backend:
        raise BackendError(f"{where}: the {what} lives on {t.backend} but the {ref_what} on "
                           f"{ref.backend}")


def make_dual(primal: Tensor, tangent: Tensor, level: int | None = None) -> Tensor:
    """A tensor with ``primal``'s value that carries ``tangent`` at forward
    level ``level`` (default: the innermost active :class:`dual_level`).

    The result shares ``primal``'s data and, if ``primal`` is part of a
    reverse-mode graph, stays connected to it."""
    if not isinstance(primal, Tensor):
        raise TypeError(f"make_dual: the primal must be a Tensor, got {type(primal).__name__}")
    _check_tangent(primal, tangent, "make_dual")
    level = autodiff.current_level() if level is None else level
    if primal.requires_grad and autodiff.is_grad_enabled():
        dual = apply(Alias(), primal)
    else:
        dual = Tensor._make(primal.data)
    tangents = dict(primal._tangents) if primal._tangents else {}
    tangents[level] = tangent
    dual._tangents = tangents
    return dual


def unpack_dual(t: Tensor, level: int | None = None):
    """``(primal, tangent)``: ``t``'s value without its tangent at ``level``,
    and that tangent (None if it has none)."""
    level = autodiff.current_level() if level is None else level
    tangent = t._tangents.get(level) if t._tangents else None
    if tangent is None:
        return t, None
    if t.requires_grad:
        primal = apply(Alias(), t)
    else:
        primal = Tensor._make(t.data)
    rest = {k: v for k, v in t._tangents.items() if k != level}
    primal._tangents = rest or None
    return primal, tangent


# ==========================================================================
# Helpers for structures of tensors
# ==========================================================================


def _as_tuple(x, name, what):
    if isinstance(x, Tensor):
        return (x,), True
    if isinstance(x, (tuple, list)):
        for i, t in enumerate(x):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {what} {i} is a {type(t).__name__}, not a Tensor")
        return tuple(x), False
    raise TypeError(f"{name}: {what} must be a Tensor or a tuple of Tensors, got "
                    f"{type(x).__name__}")


def _outputs(out, name):
    """A function's result as a tuple of Tensors, and how to rebuild it."""
    if isinstance(out, Tensor):
        return (out,), lambda ts: ts[0]
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        kind = type(out)
        return tuple(out), lambda ts: kind(ts)
    raise TypeError(f"{name}: the function must return a Tensor or a tuple of Tensors, got "
                    f"{type(out).__name__}")


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{name}: with has_aux=True the function must return a pair "
                        "(output, aux)")
    return out[0], out[1]


def _zeros_like(t):
    from .backend import get_array_module
    return Tensor._make(get_array_module(t.data).zeros_like(t.data))


# ==========================================================================
# jvp and vjp
# ==========================================================================


def jvp(f: Callable, primals, tangents, has_aux=False):
    """Forward mode: ``(f(*primals), J_f(primals) · tangents)``.

    One run of ``f`` computes the output and its directional derivative
    along ``tangents`` exactly (no finite differences, no backward pass).
    ``primals`` and ``tangents`` are Tensors or matching tuples of Tensors;
    the result has the structure of ``f``'s output."""
    primals, single = _as_tuple(primals, "jvp", "primal")
    tangents, _ = _as_tuple(tangents, "jvp", "tangent")
    if len(primals) != len(tangents):
        raise ArgumentError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    for i, (p, t) in enumerate(zip(primals, tangents)):
        _check_tangent(p, t, f"jvp: tangent {i}" if len(primals) > 1 else "jvp")
    with dual_level() as level:
        duals = [make_dual(p, t, level) for p, t in zip(primals, tangents)]
        out, aux = _split_aux(f(*duals), has_aux, "jvp")
        outs, rebuild = _outputs(out, "jvp")
        values, tans = [], []
        for o in outs:
            primal, tangent = unpack_dual(o, level)
            values.append(primal)
            tans.append(tangent if tangent is not None else _zeros_like(o))
    result = (rebuild(values), rebuild(tans))
    return result + (aux,) if has_aux else result


def _fresh_inputs(primals):
    """Inputs to differentiate with respect to: connected to the primals'
    graphs when they have one, new leaves otherwise; tangents are kept."""
    fresh = []
    for p in primals:
        if p.data.dtype.kind != "f":
            raise DTypeError(f"cannot differentiate with respect to a tensor of dtype "
                             f"{p.data.dtype} (shape {p.shape})")
        if p.requires_grad:
            x = apply(Alias(), p)
        else:
            x = Tensor._make(p.data)
            x.requires_grad = True
            x._tangents = p._tangents
        fresh.append(x)
    return fresh


def _depends_on_outer_graph(outs, fresh):
    """True if the outputs' graph reaches a tensor requiring grad other than
    our fresh inputs (then the gradients must be differentiable)."""
    fresh_ids = {id(x) for x in fresh}
    roots = [o._node for o in outs if o._node is not None]
    _, leaves = autodiff._reachable(roots)
    return any(id(leaf) not in fresh_ids for leaf in leaves)


def vjp(f: Callable, *primals, has_aux=False):
    """Reverse mode: ``(f(*primals), vjp_fn)`` where ``vjp_fn(cotangent)``
    returns uᵀJ_f for a cotangent u shaped like the output -- one tuple entry
    per primal. ``vjp_fn`` may be called several times."""
    if not primals:
        raise ArgumentError("vjp: give at least one primal")
    primals, _ = _as_tuple(primals, "vjp", "primal")
    fresh = _fresh_inputs(primals)
    with enable_grad():
        out, aux = _split_aux(f(*fresh), has_aux, "vjp")
    outs, rebuild = _outputs(out, "vjp")
    outer = _depends_on_outer_graph(outs, fresh)

    def vjp_fn(cotangent):
        cots, _ = _outputs(cotangent, "vjp_fn")
        if len(cots) != len(outs):
            raise ArgumentError(f"vjp_fn: got {len(cots)} cotangents for {len(outs)} outputs")
        live, live_cots = [], []
        for o, c in zip(outs, cots):
            _check_matches(c, o, "vjp_fn", "cotangent", "output")
            if o.requires_grad:
                live.append(o)
                live_cots.append(c)
        if not live:
            return tuple(_zeros_like(x) for x in fresh)
        create = outer or any(c.requires_grad for c in live_cots)
        grads = autodiff.grad(live, fresh, live_cots, retain_graph=True,
                              create_graph=create, allow_unused=True)
        return tuple(_zeros_like(x) if g is None else g for x, g in zip(fresh, grads))

    # True when the output is part of a graph outside this call (a primal or
    # a tensor f closes over requires grad): then it must stay attached
    vjp_fn.outer = outer or any(p.requires_grad for p in primals)
    value = rebuild(list(outs))
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


# ==========================================================================
# grad, value_and_grad, hvp
# ==========================================================================


def _argnums(argnums, n, name):
    single = isinstance(argnums, (int, np.integer))
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise ArgumentError(f"{name}: argnums is empty")
    for a in nums:
        if not isinstance(a, (int, np.integer)) or not -n <= a < n:
            raise ArgumentError(f"{name}: argnums {argnums!r} is out of range for a function "
                                f"called with {n} positional argument{'s' if n != 1 else ''}")
    return tuple(int(a) % n for a in nums), single


def value_and_grad(f: Callable, argnums=0, has_aux=False):
    """A function computing ``(f(*args), ∇f(*args))``; the gradient is taken
    with respect to the argument(s) ``argnums``. ``f`` must return a scalar
    (one-element) Tensor."""

    def wrapped(*args, **kwargs):
        nums, single = _argnums(argnums, len(args), "grad")
        for a in nums:
            if not isinstance(args[a], Tensor):
                raise TypeError(f"grad: argument {a} is a {type(args[a]).__name__}; only "
                                "Tensors can be differentiated")

        def g(*diff):
            full = list(args)
            for a, t in zip(nums, diff):
                full[a] = t
            return f(*full, **kwargs)

        res = vjp(g, *[args[a] for a in nums], has_aux=has_aux)
        value, vjp_fn = res[0], res[1]
        if not isinstance(value, Tensor):
            raise TypeError(f"grad: the function must return a Tensor, got "
                            f"{type(value).__name__}")
        if value.size != 1:
            raise GradientError(f"grad: the function must return a scalar (one-element) "
                                f"tensor, but it returned shape {value.shape}; use vjp or "
                                "jacobian for non-scalar functions")
        if value.data.dtype.kind != "f":
            raise DTypeError(f"grad: the function returned dtype {value.data.dtype}; it must "
                             "be floating-point")
        from .ops.elementwise import _ones_like
        grads = vjp_fn(_ones_like(value))
        grads = grads[0] if single else grads
        if not vjp_fn.outer:
            # free the reverse graph (the gradient was all it was kept for),
            # but keep forward-mode tangents: jvp(value_and_grad(f)) works
            plain = Tensor._make(value.data)
            plain._tangents = value._tangents
            value = plain
        return (value, grads, res[2]) if has_aux else (value, grads)

    return wrapped


def grad(f: Callable, argnums=0, has_aux=False):
    """A function computing the gradient of the scalar function ``f`` with
    respect to its argument(s) ``argnums`` (JAX's ``grad``).

    (For PyTorch's ``torch.autograd.grad(outputs, inputs)`` use
    ``minigrad.autograd.grad``.)"""
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args, **kwargs):
        res = vg(*args, **kwargs)
        return (res[1], res[2]) if has_aux else res[1]

    return wrapped


def hvp(f: Callable, primals, v):
    """Hessian-vector product H_f(primals) · v, by forward-over-reverse:
    the directional derivative of ∇f along v (one forward-mode pass through
    the backward pass). ``primals`` and ``v`` are Tensors or matching tuples."""
    primals, single = _as_tuple(primals, "hvp", "primal")
    v, _ = _as_tuple(v, "hvp", "v")
    g = grad(f, argnums=tuple(range(len(primals))))
    _, hv = jvp(lambda *ps: tuple(g(*ps)), primals, v)
    return hv[0] if single else tuple(hv)


# ==========================================================================
# jacobian and hessian
# ==========================================================================


def _basis(t):
    """One-hot Tensors shaped like ``t``, one per element."""
    from .backend import get_array_module
    xp = get_array_module(t.data)
    eye = xp.eye(t.size, dtype=t.data.dtype)
    for k in range(t.size):
        yield Tensor._make(eye[k].reshape(t.shape))


def jacobian(f: Callable, argnums=0, mode="rev"):
    """A function computing the Jacobian of ``f`` (a Tensor-valued function)
    with respect to argument(s) ``argnums``: shape ``out.shape + arg.shape``.

    ``mode="rev"`` builds it one row at a time (one vjp per output element),
    ``mode="fwd"`` one column at a time (one jvp per input element); they
    give the same matrix, at costs proportional to the output or input size."""
    if mode not in ("rev", "fwd"):
        raise ArgumentError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    def wrapped(*args):
        nums, single = _argnums(argnums, len(args), "jacobian")
        diff = [args[a] for a in nums]
        for a, t in zip(nums, diff):
            if not isinstance(t, Tensor):
                raise TypeError(f"jacobian: argument {a} is a {type(t).__name__}, not a Tensor")

        def g(*ds):
            full = list(args)
            for a, t in zip(nums, ds):
                full[a] = t
            out = f(*full)
            if not isinstance(out, Tensor):
                raise TypeError("jacobian: the function must return one Tensor, got "
                                f"{type(out).__name__}")
            return out

        from .ops.shape import reshape, stack
        if mode == "rev":
            out, vjp_fn = vjp(g, *diff)
            rows = [vjp_fn(e) for e in _basis(out)] if out.size else []
            jacs = []
            for i, d in enumerate(diff):
                if rows:
                    j = reshape(stack([r[i] for r in rows]), out.shape + d.shape)
                else:
                    j = _empty_jacobian(out, d)
                jacs.append(j)
        else:
            out = None
            jacs = []
            for i, d in enumerate(diff):
                cols = []
                for e in _basis(d):
                    tangents = [e if k == i else _zeros_like(x) for k, x in enumerate(diff)]
                    out, col = jvp(g, tuple(diff), tuple(tangents))
                    cols.append(col)
                if out is None:
                    out = g(*diff)
                if cols:
                    j = stack(cols, axis=-1)                     # out.shape + (n,)
                    j = reshape(j, out.shape + d.shape)
                else:
                    j = _empty_jacobian(out, d)
                jacs.append(j)
        return jacs[0] if single else tuple(jacs)

    return wrapped


def _empty_jacobian(out, d):
    from .backend import get_array_module
    xp = get_array_module(out.data)
    return Tensor._make(xp.zeros(out.shape + d.shape, dtype=out.data.dtype))


def hessian(f: Callable, argnums=0):
    """A function computing the Hessian of the scalar function ``f`` with
    respect to argument ``argnums``: shape ``arg.shape + arg.shape``
    (forward-over-reverse: the forward-mode Jacobian of the gradient)."""
    if not isinstance(argnums, (int, np.integer)):
        raise ArgumentError("hessian: argnums must be a single int")

    def wrapped(*args):
        return jacobian(grad(f, argnums), argnums, mode="fwd")(*args)

    return wrapped


# ==========================================================================
# Models: calling a module with other parameters
# ==========================================================================


def functional_call(module, params: dict, *args, **kwargs):
    """Call ``module(*args, **kwargs)`` with some of its parameters replaced
    by the tensors in ``params`` (keys are dotted names as given by
    ``module.named_parameters()``), then put the originals back.

    This turns a model into a function of its parameters, so the transforms
    above apply to it::

        names, params = zip(*((n, p.detach()) for n, p in model.named_parameters()))
        loss_of = lambda *ps: loss(functional_call(model, dict(zip(names, ps)), x), y)
        value, directional_derivative = jvp(loss_of, params, random_directions)

    (The parameters are detached so that no reverse graph is recorded: a
    Parameter requires grad, and forward mode through it would also keep
    the backward graph, as it must when a gradient may be asked for later.)
    """
    if not callable(module):
        raise TypeError(f"functional_call: {type(module).__name__} is not callable")
    known = None
    if hasattr(module, "named_parameters"):
        known = {name for name, _ in module.named_parameters()}
    saved = []
    try:
        for name, value in params.items():
            if known is not None and name not in known:
                raise ArgumentError(
                    f"functional_call: the module has no parameter {name!r}; it has "
                    f"{sorted(known)}")
            owner, attr = _resolve(module, name)
            old = getattr(owner, attr)
            if isinstance(old, Tensor) and isinstance(value, Tensor) and old.shape != value.shape:
                raise ShapeError(f"functional_call: parameter {name!r} has shape {old.shape} "
                                 f"but the replacement has shape {value.shape}")
            saved.append((owner, attr, old))
            setattr(owner, attr, value)
        return module(*args, **kwargs)
    finally:
        for owner, attr, old in reversed(saved):
            setattr(owner, attr, old)


def _resolve(module, dotted):
    owner = module
    parts = dotted.split(".")
    for p in parts[:-1]:
        owner = owner[int(p)] if p.isdigit() and hasattr(owner, "__getitem__") \
            else getattr(owner, p)
    if not hasattr(owner, parts[-1]):
        raise ArgumentError(f"functional_call: {type(owner).__name__} has no attribute "
                            f"{parts[-1]!r} (from {dotted!r})")
    return owner, parts[-1]

