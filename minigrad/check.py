"""Gradient checking: finite differences, the inner-product identity, and
comparison with PyTorch.

:func:`gradcheck` compares whole Jacobians, element by element, in float64:
the one reverse mode computes (one vjp per output element) and the one
forward mode computes (one jvp per input element) against central
differences,

    ∂fₒ/∂xₖ ≈ (fₒ(x + ε eₖ) − fₒ(x − ε eₖ)) / 2ε.

An element passes when |analytical − numerical| ≤ atol + rtol·|numerical|
(PyTorch's criterion). The report names the worst element, so a wrong rule
is easy to find.

:func:`check_grads` is the cheaper, directional check of JAX: for random
tangents v and cotangents u it compares the jvp J·v with a central
difference along v, the vjp uᵀJ through ⟨uᵀJ, v⟩ = ⟨u, J·v⟩ (numerical J·v),
and the two modes with each other (⟨u, J v⟩ = ⟨Jᵀ u, v⟩) -- and at
``order=2`` it does the same for the derivative functions themselves.

:func:`compare_with_torch` runs a minigrad function and its PyTorch twin on
the same inputs and compares values and gradients.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import autodiff
from .backend import to_numpy
from .errors import ArgumentError, DTypeError, GradcheckError
from .functional import jvp, make_dual, vjp
from .tensor import Tensor

MODES = ("rev", "fwd")


@dataclass
class ModeResult:
    """How the Jacobian of one mode compares with finite differences."""

    mode: str
    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)


@dataclass
class GradcheckReport:
    """The outcome of a gradient check: one :class:`ModeResult` per mode.

    ``max_abs_err`` / ``max_rel_err`` are over all checked elements and
    modes; ``worst`` describes the element furthest outside the tolerance
    (or the one with the largest error when all pass): mode, input number,
    element index, output element, analytical and numerical value."""

    name: str
    results: list
    n_checked: int = 0

    @property
    def ok(self):
        return all(r.ok for r in self.results)

    @property
    def max_abs_err(self):
        return max((r.max_abs_err for r in self.results), default=0.0)

    @property
    def max_rel_err(self):
        return max((r.max_rel_err for r in self.results), default=0.0)

    @property
    def worst(self):
        ranked = sorted(self.results, key=lambda r: (r.ok, -r.worst.get("ratio", 0.0)))
        return ranked[0].worst if ranked else {}

    def mode(self, name):
        return next(r for r in self.results if r.mode == name)

    def __str__(self):
        status = "passed" if self.ok else "FAILED"
        modes = ", ".join(r.mode for r in self.results)
        lines = [f"gradcheck of {self.name} ({modes}) {status}: {self.n_checked} Jacobian "
                 f"entries, max abs error {self.max_abs_err:.3e}, max rel error "
                 f"{self.max_rel_err:.3e}"]
        for r in self.results:
            if r.worst:
                w = r.worst
                lines.append(
                    f"  {r.mode}: {'ok' if r.ok else 'FAILED'}, worst entry d output[{w['output']}]"
                    f" / d input {w['input']}[{w['index']}]: analytical "
                    f"{w['analytical']:.10g}, numerical {w['numerical']:.10g}")
            lines.extend(f"  {r.mode}: {p}" for p in r.problems)
        return "\n".join(lines)


def _flatten_outputs(out):
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: the function returned a {type(o).__name__} as "
                            f"output {i}; it must return Tensors")
    return [o for o in outs if o.data.dtype.kind == "f"]


def _prepare_inputs(inputs, name):
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    prepared, diff = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.data.dtype.kind == "f":
            if x.data.dtype != np.float64:
                raise DTypeError(
                    f"{name}: input {i} has dtype {x.data.dtype}; finite differences need "
                    "float64 inputs to be meaningful (use .double())")
            leaf = Tensor._make(x.data.copy()).requires_grad_(True)
            prepared.append(leaf)
            diff.append(i)
        else:
            prepared.append(x)
    if not diff:
        raise DTypeError(f"{name}: no floating-point Tensor among the inputs to check")
    return prepared, diff


def numerical_jacobian(fn, inputs, diff, eps):
    """One (n_outputs_total, n_input_elements) block per differentiable input,
    by central differences (evaluated without recording a graph)."""
    blocks = []
    with autodiff.no_grad():
        for i in diff:
            x = inputs[i]
            flat = x.data.reshape(-1)     # a view: perturb in place
            cols = []
            for k in range(flat.size):
                orig = flat[k].copy()
                flat[k] = orig + eps
                plus = np.concatenate([to_numpy(o.data).reshape(-1)
                                       for o in _flatten_outputs(fn(*inputs))])
                flat[k] = orig - eps
                minus = np.concatenate([to_numpy(o.data).reshape(-1)
                                        for o in _flatten_outputs(fn(*inputs))])
                flat[k] = orig
                cols.append((plus - minus) / (2 * eps))
            n_out = cols[0].size if cols else _n_outputs(fn, inputs)
            blocks.append(np.stack(cols, axis=1) if cols else np.zeros((n_out, 0)))
    return blocks


def _n_outputs(fn, inputs):
    with autodiff.no_grad():
        return sum(o.size for o in _flatten_outputs(fn(*inputs)))


def reverse_jacobian(fn, inputs, diff):
    """The same blocks computed with reverse mode: one vjp per output element."""
    outs = _flatten_outputs(fn(*inputs))
    sizes = [o.size for o in outs]
    total = sum(sizes)
    blocks = [np.zeros((total, inputs[i].size)) for i in diff]
    targets = [inputs[i] for i in diff]
    live = [o for o in outs if o.requires_grad]
    if not live:
        return blocks
    row = 0
    for o, n in zip(outs, sizes):
        for k in range(n):
            if not o.requires_grad:
                continue
            cot = []
            for o2 in live:
                c = np.zeros(o2.size, dtype=o2.data.dtype)
                if o2 is o:
                    c[k] = 1.0
                cot.append(Tensor(c.reshape(o2.shape), backend=o2.backend))
            grads = autodiff.grad(live, targets, cot, retain_graph=True, allow_unused=True)
            for b, g in zip(blocks, grads):
                if g is not None:
                    b[row + k] = to_numpy(g.data).reshape(-1)
        row += n
    return blocks


def forward_jacobian(fn, inputs, diff):
    """The same blocks computed with forward mode: one jvp per input element
    (a one-hot tangent on that element, no tangent elsewhere)."""
    with autodiff.no_grad():
        n_out = _n_outputs(fn, inputs)
    blocks = []
    for i in diff:
        x = inputs[i]
        cols = []
        for k in range(x.size):
            e = np.zeros(x.size, dtype=x.data.dtype)
            e[k] = 1.0
            tangent = Tensor(e.reshape(x.shape), backend=x.backend)
            with autodiff.no_grad(), autodiff.dual_level() as level:
                args = list(inputs)
                args[i] = make_dual(x, tangent, level)
                outs = _flatten_outputs(fn(*args))
                col = []
                for o in outs:
                    t = o._tangents.get(level) if o._tangents else None
                    col.append(np.zeros(o.size) if t is None else to_numpy(t.data).reshape(-1))
            cols.append(np.concatenate(col) if col else np.zeros(0))
        blocks.append(np.stack(cols, axis=1) if cols else np.zeros((n_out, 0)))
    return blocks


def compare_jacobians(analytical, numerical, diff, atol, rtol, mode):
    """A :class:`ModeResult` from two lists of Jacobian blocks."""
    max_abs = max_rel = 0.0
    worst, worst_ratio, problems = {}, -1.0, []
    for i, a, num in zip(diff, analytical, numerical):
        if a.size == 0:
            continue
        if not np.all(np.isfinite(num)):
            problems.append(f"input {i}: the numerical Jacobian is not finite (the function "
                            "is not smooth or not defined around this point)")
        err = np.abs(a - num)
        err = np.where(np.isnan(err), np.inf, err)
        rel = err / np.maximum(np.abs(num), 1e-12)
        ratio = err / (atol + rtol * np.abs(num))
        ratio = np.where(np.isnan(ratio), np.inf, ratio)
        max_abs = max(max_abs, float(err.max()))
        max_rel = max(max_rel, float(rel.max()))
        o, k = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        if ratio[o, k] > worst_ratio:
            worst_ratio = float(ratio[o, k])
            worst = {"mode": mode, "input": i, "index": int(k), "output": int(o),
                     "analytical": float(a[o, k]), "numerical": float(num[o, k]),
                     "ratio": worst_ratio}
    ok = worst_ratio <= 1.0 and not problems
    return ModeResult(mode, ok, max_abs, max_rel, worst, problems)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_on_failure=True,
              name=None, modes=MODES):
    """Check the derivatives of ``fn`` at ``inputs`` against central finite
    differences: the whole Jacobian, from reverse mode (``"rev"``: one vjp
    per output element) and from forward mode (``"fwd"``: one jvp per input
    element).

    ``fn`` takes the inputs and returns a Tensor or a tuple of Tensors.
    Floating-point Tensor inputs (float64 required) are differentiated;
    other inputs are passed through. Returns a :class:`GradcheckReport`;
    raises :class:`GradcheckError` with the report if the check fails and
    ``raise_on_failure`` is true.
    """
    name = name or getattr(fn, "__name__", "function")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for m in modes:
        if m not in MODES:
            raise ArgumentError(f"gradcheck: unknown mode {m!r}; use 'rev' and/or 'fwd'")
    prepared, diff = _prepare_inputs(inputs, "gradcheck")
    numerical = numerical_jacobian(fn, prepared, diff, eps)
    results = []
    for m in modes:
        jac = reverse_jacobian if m == "rev" else forward_jacobian
        results.append(compare_jacobians(jac(fn, prepared, diff), numerical, diff,
                                         atol, rtol, m))
    report = GradcheckReport(name, results, sum(b.size for b in numerical))
    if not report.ok and raise_on_failure:
        raise GradcheckError(str(report))
    return report


# ==========================================================================
# check_grads: directional checks of both modes, to any order
# ==========================================================================


def _dot(a, b):
    return float(sum(np.vdot(to_numpy(x.data), to_numpy(y.data)) for x, y in zip(a, b)))


def _random_like(tensors, rng):
    return [Tensor(rng.standard_normal(t.shape).astype(t.data.dtype), backend=t.backend)
            for t in tensors]


def check_grads(f, args, modes=("fwd", "rev"), order=2, eps=1e-6, atol=1e-5, rtol=1e-4,
                seed=0, name=None, argnums=None, identity_rtol=1e-8):
    """Check ``f``'s derivatives along random directions, as JAX's check_grads.

    With random tangents v (one per floating-point Tensor argument) and a
    random cotangent u (one per output):

    * ``"fwd"``: the jvp J·v equals the central difference
      (f(x + εv) − f(x − εv)) / 2ε;
    * ``"rev"``: the vjp uᵀJ satisfies ⟨uᵀJ, v⟩ = ⟨u, J·v⟩ with J·v from
      central differences;
    * both modes: ⟨u, J v⟩ (forward) = ⟨Jᵀu, v⟩ (reverse), the inner-product
      identity, to rounding;
    * ``order=2`` (and higher): the same checks on the derivative functions
      x, v ↦ J(x)·v (forward over forward and reverse over forward) and
      x ↦ uᵀJ(x) (forward and reverse over reverse).

    ``argnums`` chooses the arguments to differentiate (default: every
    floating-point Tensor); they must be float64. ``identity_rtol`` is the
    relative tolerance of the inner-product identity, which holds to
    rounding (loosen it only for functions that compute in float32).
    Raises :class:`GradcheckError` naming the check that failed.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or any(m not in MODES for m in modes):
        raise ArgumentError(f"check_grads: modes must be 'fwd' and/or 'rev', got {modes!r}")
    if not isinstance(order, (int, np.integer)) or order < 1:
        raise ArgumentError(f"check_grads: order must be an int >= 1, got {order!r}")
    name = name or getattr(f, "__name__", "function")
    args = tuple(args)
    if argnums is None:
        diff = [i for i, a in enumerate(args)
                if isinstance(a, Tensor) and a.data.dtype.kind == "f"]
    else:
        diff = [argnums] if isinstance(argnums, (int, np.integer)) else list(argnums)
        for i in diff:
            if not isinstance(i, (int, np.integer)) or not 0 <= i < len(args):
                raise ArgumentError(f"check_grads: argnums {argnums!r} is out of range for "
                                    f"{len(args)} argument{'s' if len(args) != 1 else ''}")
            if not isinstance(args[i], Tensor):
                raise TypeError(f"check_grads: argument {i} is a {type(args[i]).__name__}, "
                                "not a Tensor")
    for i in diff:
        if args[i].data.dtype != np.float64:
            raise DTypeError(f"check_grads: argument {i} has dtype {args[i].data.dtype}; "
                             "use float64 so finite differences are meaningful")
    if not diff:
        raise DTypeError("check_grads: no floating-point Tensor argument to differentiate")
    rng = np.random.default_rng(seed)

    def call(*xs):
        full = list(args)
        for i, x in zip(diff, xs):
            full[i] = x
        return f(*full)

    primals = [args[i].detach() for i in diff]
    with autodiff.no_grad():
        outs = _flatten_outputs(call(*primals))
    v = _random_like(primals, rng)
    u = _random_like(outs, rng)

    # numerical J·v by central differences
    def shifted(sign):
        with autodiff.no_grad():
            xs = [Tensor(p.data + sign * eps * t.data) for p, t in zip(primals, v)]
            return [to_numpy(o.data) for o in _flatten_outputs(call(*xs))]

    plus, minus = shifted(+1), shifted(-1)
    numeric_jv = [(a - b) / (2 * eps) for a, b in zip(plus, minus)]

    def fail(what, detail):
        raise GradcheckError(f"check_grads of {name} (order {order}): {what} {detail}")

    fwd_jv = rev_ujt = None
    if "fwd" in modes:
        _, tangent_out = jvp(lambda *xs: tuple(_flatten_outputs(call(*xs))), tuple(primals),
                             tuple(v))
        fwd_jv = [to_numpy(t.data) for t in tangent_out]
        for k, (a, n) in enumerate(zip(fwd_jv, numeric_jv)):
            err = np.abs(a - n)
            if not np.all(err <= atol + rtol * np.abs(n)):
                j = int(np.argmax(err - rtol * np.abs(n)))
                fail("forward mode: the jvp differs from central differences",
                     f"at output {k}[{j}]: jvp {a.reshape(-1)[j]:.10g}, numerical "
                     f"{n.reshape(-1)[j]:.10g}")
    if "rev" in modes:
        _, vjp_fn = vjp(lambda *xs: tuple(_flatten_outputs(call(*xs))), *primals)
        ujt = vjp_fn(tuple(u))
        rev_ujt = ujt
        lhs = _dot(ujt, v)
        rhs = float(sum(np.vdot(to_numpy(ui.data), n) for ui, n in zip(u, numeric_jv)))
        if abs(lhs - rhs) > atol * max(1.0, sum(t.size for t in u)) ** 0.5 + rtol * abs(rhs):
            fail("reverse mode: <vjp(u), v> differs from <u, J v> by central differences:",
                 f"{lhs:.10g} vs {rhs:.10g}")
    if fwd_jv is not None and rev_ujt is not None:
        lhs = float(sum(np.vdot(to_numpy(ui.data), a) for ui, a in zip(u, fwd_jv)))
        rhs = _dot(rev_ujt, v)
        if abs(lhs - rhs) > identity_rtol * max(1.0, abs(lhs), abs(rhs)):
            fail("the inner-product identity <u, J v> = <J^T u, v> fails:",
                 f"{lhs:.15g} (forward) vs {rhs:.15g} (reverse)")

    if order > 1:
        n = len(primals)
        if "fwd" in modes:
            def jvp_fn(*xs_and_ts):
                xs, ts = xs_and_ts[:n], xs_and_ts[n:]
                return jvp(lambda *ys: tuple(_flatten_outputs(call(*ys))), tuple(xs),
                           tuple(ts))[1]
            check_grads(jvp_fn, primals + v, modes, order - 1, eps, atol, rtol, seed + 1,
                        f"jvp of {name}", identity_rtol=identity_rtol)
        if "rev" in modes:
            def vjp_of(*xs):
                _, fn = vjp(lambda *ys: tuple(_flatten_outputs(call(*ys))), *xs)
                return fn(tuple(u))
            check_grads(vjp_of, primals, modes, order - 1, eps, atol, rtol, seed + 1,
                        f"vjp of {name}", identity_rtol=identity_rtol)


# ==========================================================================
# Comparison with PyTorch
# ==========================================================================


@dataclass
class TorchComparison:
    """Largest differences between minigrad and PyTorch on one function."""

    name: str
    ok: bool
    value_err: float
    grad_errs: list
    problems: list = field(default_factory=list)
    skipped: str = ""

    def __str__(self):
        status = "agrees" if self.ok else "DISAGREES"
        grads = ", ".join(f"{e:.3e}" if e is not None else "-" for e in self.grad_errs)
        lines = [f"{self.name} vs torch {status}: value error {self.value_err:.3e}, "
                 f"gradient errors [{grads}]"]
        lines.extend("  " + p for p in self.problems)
        return "\n".join(lines)


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("compare_with_torch needs PyTorch: pip install "
                          "'minigrad-engine[test]'") from exc
    return torch


def _close(a, b, atol, rtol):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False, np.inf
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    err = np.where(both_nan | same_inf, 0.0, np.abs(a - b))
    err = np.where(np.isnan(err), np.inf, err)
    ok = bool(np.all(err <= atol + rtol * np.abs(np.where(np.isfinite(b), b, 0))))
    return ok, float(err.max()) if err.size else 0.0


def compare_with_torch(fn, torch_fn, inputs, atol=1e-7, rtol=1e-6, seed=0,
                       raise_on_failure=True, name=None):
    """Run ``fn`` (minigrad) and ``torch_fn`` (PyTorch) on the same inputs and
    compare the output values and the gradients of ⟨output, u⟩ for a random
    cotangent u with respect to every floating-point input.

    ``inputs`` are arrays or Tensors; floating ones are differentiated, other
    values (ints, index arrays, None) are passed to both functions as they
    are. Returns a :class:`TorchComparison`; raises AssertionError
    (:class:`GradcheckError`) on disagreement if ``raise_on_failure``.
    """
    torch = _torch()
    m_in, t_in, diff = [], [], []
    for i, x in enumerate(inputs):
        arr = to_numpy(x.data) if isinstance(x, Tensor) else x
        if isinstance(arr, np.ndarray):
            is_float = arr.dtype.kind == "f"
            m_in.append(Tensor._make(arr.copy()).requires_grad_(is_float))
            t_in.append(torch.tensor(arr.copy(), requires_grad=is_float))
            if is_float:
                diff.append(i)
        else:
            m_in.append(x)
            t_in.append(x)
    return compare_prepared(fn, torch_fn, m_in, t_in, diff, atol, rtol, seed,
                            raise_on_failure, name or getattr(fn, "__name__", "function"))


def compare_prepared(fn, torch_fn, m_in, t_in, diff, atol=1e-7, rtol=1e-6, seed=0,
                     raise_on_failure=True, name="function"):
    """:func:`compare_with_torch` on arguments already converted: ``m_in``
    for minigrad, ``t_in`` for torch, ``diff`` the positions to differentiate
    (those tensors must require grad on both sides)."""
    torch = _torch()
    rng = np.random.default_rng(seed)
    m_out = fn(*m_in)
    t_out = torch_fn(*t_in)
    m_outs = list(m_out) if isinstance(m_out, (tuple, list)) else [m_out]
    t_outs = list(t_out) if isinstance(t_out, (tuple, list)) else [t_out]
    problems = []
    if len(m_outs) != len(t_outs):
        raise GradcheckError(f"{name}: minigrad returned {len(m_outs)} outputs, torch "
                             f"{len(t_outs)}")
    value_err = 0.0
    for k, (mo, to) in enumerate(zip(m_outs, t_outs)):
        ok, err = _close(to_numpy(mo.data), to.detach().numpy(), atol, rtol)
        value_err = max(value_err, err)
        if not ok:
            problems.append(f"output {k}: values differ (shape minigrad {mo.shape}, torch "
                            f"{tuple(to.shape)}, max error {err:.3e})")
    grad_errs = [None] * len(m_in)
    live = [(mo, to) for mo, to in zip(m_outs, t_outs)
            if mo.requires_grad and to.requires_grad]
    if diff and live and not problems:
        cots = [rng.standard_normal(mo.shape).astype(to_numpy(mo.data).dtype) for mo, _ in live]
        m_grads = autodiff.grad([mo for mo, _ in live], [m_in[i] for i in diff],
                                [Tensor._make(c) for c in cots], allow_unused=True)
        t_grads = torch.autograd.grad([to for _, to in live], [t_in[i] for i in diff],
                                      [torch.tensor(c) for c in cots], allow_unused=True)
        for i, mg, tg in zip(diff, m_grads, t_grads):
            mg_arr = np.zeros(m_in[i].shape) if mg is None else to_numpy(mg.data)
            tg_arr = np.zeros(m_in[i].shape) if tg is None else tg.detach().numpy()
            ok, err = _close(mg_arr, tg_arr, atol, rtol)
            grad_errs[i] = err
            if not ok:
                problems.append(f"input {i}: gradients differ (max error {err:.3e})")
    result = TorchComparison(name, not problems, value_err, grad_errs, problems)
    if problems and raise_on_failure:
        raise GradcheckError(str(result))
    return result


# ==========================================================================
# Checking the op registry
# ==========================================================================


def gradcheck_sample(info, sample, backend="numpy", raise_on_failure=True):
    """gradcheck of one registry sample (see :mod:`minigrad.ops.registry`).
    Returns None when the op has no gradcheck (``info.no_gradcheck``)."""
    if info.no_gradcheck:
        return None
    args, kwargs, diff = info.minigrad_args(sample, backend)
    if not diff:
        return None
    const_args = {i: a for i, a in enumerate(args) if i not in diff}

    def fn(*xs):
        full = [const_args.get(i, x) for i, x in enumerate(xs)]
        return info.fn(*full, **kwargs)

    inputs = [a if i in diff else None for i, a in enumerate(args)]
    return gradcheck(fn, inputs, eps=info.eps, atol=info.atol, rtol=info.rtol,
                     raise_on_failure=raise_on_failure,
                     name=f"{info.name} [{sample.desc}]" if sample.desc else info.name)


def torch_check_sample(info, sample, raise_on_failure=True):
    """Compare one registry sample with its PyTorch twin (None if it has none)."""
    if info.torch_fn is None:
        return None
    m_args, m_kwargs, diff = info.minigrad_args(sample)
    t_args, t_kwargs = info.torch_args(sample)
    with warnings.catch_warnings():   # torch's own performance notes
        warnings.simplefilter("ignore")
        return compare_prepared(
            lambda *a: info.fn(*a, **m_kwargs), lambda *a: info.torch_fn(*a, **t_kwargs),
            m_args, t_args, diff, info.torch_atol, info.torch_rtol, 0, raise_on_failure,
            f"{info.name} [{sample.desc}]" if sample.desc else info.name)


def torch_jvp_check_sample(info, sample, seed=0, raise_on_failure=True):
    """Compare minigrad's jvp of one registry sample with ``torch.func.jvp``
    along the same random tangents. Returns None when the op has no torch
    twin, or a :class:`TorchComparison`; a twin whose PyTorch ops have no
    forward-mode rule gives a comparison with ``skipped`` set."""
    if info.torch_fn is None:
        return None
    torch = _torch()
    import torch.func

    m_args, m_kwargs, diff = info.minigrad_args(sample, requires_grad=False)
    t_args, t_kwargs = info.torch_args(sample)
    t_args = [a.detach() if isinstance(a, torch.Tensor) else a for a in t_args]
    name = f"{info.name} [{sample.desc}] (jvp)" if sample.desc else f"{info.name} (jvp)"
    if not diff:
        return None
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(m_args[i].shape) for i in diff]

    def full(args, ds):
        out = list(args)
        for i, d in zip(diff, ds):
            out[i] = d
        return out

    _, m_tan = jvp(lambda *ds: info.fn(*full(m_args, ds), **m_kwargs),
                   tuple(m_args[i] for i in diff),
                   tuple(Tensor(t) for t in tangents))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, t_tan = torch.func.jvp(lambda *ds: info.torch_fn(*full(t_args, ds), **t_kwargs),
                                      tuple(t_args[i] for i in diff),
                                      tuple(torch.tensor(t) for t in tangents))
        except (RuntimeError, NotImplementedError) as exc:
            if "forward" in str(exc).lower() or "jvp" in str(exc).lower():
                return TorchComparison(name, True, 0.0, [], [], skipped=str(exc).splitlines()[0])
            raise
    m_tans = list(m_tan) if isinstance(m_tan, (tuple, list)) else [m_tan]
    t_tans = list(t_tan) if isinstance(t_tan, (tuple, list)) else [t_tan]
    problems, worst = [], 0.0
    for k, (a, b) in enumerate(zip(m_tans, t_tans)):
        ok, err = _close(to_numpy(a.data), b.detach().numpy(), info.torch_atol, info.torch_rtol)
        worst = max(worst, err)
        if not ok:
            problems.append(f"output {k}: tangents differ (max error {err:.3e})")
    result = TorchComparison(name, not problems, worst, [], problems)
    if problems and raise_on_failure:
        raise GradcheckError(str(result))
    return result


def check_grads_sample(info, sample, order=2, backend="numpy"):
    """:func:`check_grads` (both modes, to ``order``) on one registry sample."""
    if info.no_gradcheck:
        return False
    args, kwargs, diff = info.minigrad_args(sample, backend, requires_grad=False)
    if not diff:
        return False
    check_grads(lambda *a: info.fn(*a, **kwargs), args, ("fwd", "rev"), order,
                eps=max(info.eps, 1e-5), atol=info.atol, rtol=info.rtol,
                name=f"{info.name} [{sample.desc}]", argnums=diff,
                identity_rtol=info.identity_rtol)
    return True
