"""Gradient checking: central finite differences, and comparison with PyTorch.

:func:`gradcheck` compares the Jacobian that reverse mode computes (one
vjp per output element) with the Jacobian of central differences,

    ∂fₒ/∂xₖ ≈ (fₒ(x + ε eₖ) − fₒ(x − ε eₖ)) / 2ε,

element by element, in float64. An element passes when
|analytical − numerical| ≤ atol + rtol·|numerical| (PyTorch's criterion).
The report names the worst element, so a wrong rule is easy to find.

:func:`compare_with_torch` runs a minigrad function and its PyTorch twin on
the same inputs and compares values and gradients.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from . import autodiff
from .backend import to_numpy
from .errors import DTypeError, GradcheckError
from .tensor import Tensor


@dataclass
class GradcheckReport:
    """The outcome of a gradient check.

    ``max_abs_err`` / ``max_rel_err`` are over all checked elements;
    ``worst`` describes the element furthest outside the tolerance (or the
    one with the largest error when all pass): input number, element index,
    output element, analytical and numerical value."""

    name: str
    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst: dict = field(default_factory=dict)
    mode: str = "rev"
    n_checked: int = 0
    problems: list = field(default_factory=list)

    def __str__(self):
        status = "passed" if self.ok else "FAILED"
        lines = [f"gradcheck of {self.name} ({self.mode} mode) {status}: "
                 f"{self.n_checked} Jacobian entries, max abs error {self.max_abs_err:.3e}, "
                 f"max rel error {self.max_rel_err:.3e}"]
        if self.worst:
            w = self.worst
            lines.append(
                f"  worst entry: d output[{w['output']}] / d input {w['input']}[{w['index']}]"
                f": analytical {w['analytical']:.10g}, numerical {w['numerical']:.10g}")
        lines.extend("  " + p for p in self.problems)
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


def compare_jacobians(name, analytical, numerical, diff, atol, rtol, mode):
    """Build a :class:`GradcheckReport` from two lists of Jacobian blocks."""
    max_abs = max_rel = 0.0
    worst, worst_ratio, problems, n = {}, -1.0, [], 0
    for i, a, num in zip(diff, analytical, numerical):
        n += a.size
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
            worst = {"input": i, "index": int(k), "output": int(o),
                     "analytical": float(a[o, k]), "numerical": float(num[o, k])}
    ok = worst_ratio <= 1.0 and not problems
    return GradcheckReport(name, ok, max_abs, max_rel, worst, mode, n, problems)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_on_failure=True,
              name=None):
    """Check the reverse-mode derivatives of ``fn`` at ``inputs`` against
    central finite differences.

    ``fn`` takes the inputs and returns a Tensor or a tuple of Tensors.
    Floating-point Tensor inputs (float64 required) are differentiated;
    other inputs are passed through. Returns a :class:`GradcheckReport`;
    raises :class:`GradcheckError` with the report if the check fails and
    ``raise_on_failure`` is true.
    """
    name = name or getattr(fn, "__name__", "function")
    prepared, diff = _prepare_inputs(inputs, "gradcheck")
    numerical = numerical_jacobian(fn, prepared, diff, eps)
    analytical = reverse_jacobian(fn, prepared, diff)
    report = compare_jacobians(name, analytical, numerical, diff, atol, rtol, "rev")
    if not report.ok and raise_on_failure:
        raise GradcheckError(str(report))
    return report


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
