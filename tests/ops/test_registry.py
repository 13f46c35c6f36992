"""The shared checks that run over every op in the registry.

* gradcheck: the reverse-mode and the forward-mode Jacobians equal float64
  central differences, on every sample (broadcasting, size-1 and empty
  axes, every option);
* check_grads at order 2 in both modes: jvp and vjp along random
  directions against central differences, the inner-product identity
  <u, J v> = <J^T u, v>, and the same for the derivative functions;
* the same values, gradients and tangents as PyTorch (torch.autograd and
  torch.func.jvp), at float64 precision;
* coverage: every primitive Op class appears in the graph of some sample
  and defines both a vjp and a jvp, so a new op cannot ship unchecked.
"""
import dataclasses

import numpy as np
import pytest

import minigrad as mg
from minigrad import autodiff
from minigrad.check import (check_grads_sample, gradcheck_sample,
                            torch_check_sample, torch_jvp_check_sample)
from minigrad.ops.registry import REGISTRY, Const, all_opinfos

torch = pytest.importorskip("torch", reason="the torch comparison needs PyTorch")


def _cases():
    cases = []
    for info in all_opinfos():
        for k, sample in enumerate(info.samples(np.random.default_rng(0))):
            cases.append(pytest.param(info.name, k, id=f"{info.name}-{k}-{sample.desc}"))
    return cases


CASES = _cases()


def _sample(name, k):
    info = REGISTRY[name]
    return info, info.samples(np.random.default_rng(0))[k]


@pytest.mark.parametrize("name,k", CASES)
def test_gradcheck(name, k, backend):
    info, sample = _sample(name, k)
    report = gradcheck_sample(info, sample, backend)
    if report is None:
        assert info.no_gradcheck or not any(
            isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in sample.args)
    else:
        assert report.ok, str(report)


@pytest.mark.parametrize("name,k", CASES)
def test_matches_torch(name, k):
    info, sample = _sample(name, k)
    if info.torch_fn is None:
        pytest.skip(f"{name} has no torch twin: {info.notes}")
    result = torch_check_sample(info, sample)
    assert result.ok, str(result)


@pytest.mark.parametrize("name,k", CASES)
def test_check_grads_order_2_both_modes(name, k, backend):
    info, sample = _sample(name, k)
    if not check_grads_sample(info, sample, order=2, backend=backend):
        assert info.no_gradcheck or not any(
            isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in sample.args)


@pytest.mark.parametrize("name,k", CASES)
def test_jvp_matches_torch_func_jvp(name, k):
    info, sample = _sample(name, k)
    if info.torch_fn is None:
        pytest.skip(f"{name} has no torch twin: {info.notes}")
    result = torch_jvp_check_sample(info, sample)
    if result is None:
        pytest.skip("no floating-point input")
    if result.skipped:
        pytest.skip(f"torch has no forward-mode rule here: {result.skipped}")
    assert result.ok, str(result)


def test_every_primitive_has_a_vjp_and_a_jvp():
    """Every Op anywhere in minigrad -- the rules' custom ops included."""
    classes = {c for c in _op_subclasses() if c.__module__.startswith("minigrad.")
               and not c.__name__.startswith("_")}         # _Reduction etc.: abstract bases
    assert any(c.__module__.startswith("minigrad.rules") for c in classes)
    for cls in classes:
        assert cls.vjp is not autodiff.Op.vjp, f"{cls.__name__} has no vjp"
        assert cls.jvp is not autodiff.Op.jvp, f"{cls.__name__} has no jvp"


def _graph_op_types(outputs):
    outs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
    roots = [o._node for o in outs if isinstance(o, mg.Tensor) and o._node is not None]
    nodes, _ = autodiff._reachable(roots)
    return {type(n) for n in nodes}


def _op_subclasses():
    import minigrad.rules  # noqa: F401  (the rules define ops of their own)
    seen, stack = set(), [autodiff.Op]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    return seen


def _all_op_classes():
    return {c for c in _op_subclasses()
            if c.__module__.startswith(("minigrad.ops", "minigrad.functional"))
            and not c.__name__.startswith("_")}


def test_every_primitive_is_exercised_by_the_registry():
    used = set()
    for info in all_opinfos():
        for sample in info.samples(np.random.default_rng(0)):
            args, kwargs, diff = info.minigrad_args(sample)
            out = info.fn(*args, **kwargs)
            used |= _graph_op_types(out)
            # ops that only appear inside a backward pass (fold is unfold's
            # vjp, scatter_add is getitem's) are found in the double-backward graph
            outs = [o for o in (out if isinstance(out, (tuple, list)) else [out])
                    if o.requires_grad]
            if outs and diff:
                grads = mg.autograd.grad(outs, [args[i] for i in diff],
                                [mg.ones_like(o) for o in outs],
                                create_graph=True, allow_unused=True)
                used |= _graph_op_types([g for g in grads if g is not None])
    gpu_only = set() if mg.cupy_available() else {mg.ops.elementwise.ToBackend}
    missing = _all_op_classes() - used - gpu_only
    assert not missing, f"primitives with no registry sample: {sorted(c.__name__ for c in missing)}"


def test_every_registry_entry_has_samples():
    for info in all_opinfos():
        assert info.samples(np.random.default_rng(0)), info.name


# Entries that need no size-1 / empty sample of their own, and why.
EDGE_CASES_ELSEWHERE = {
    "max_ties": "its samples are tie patterns; the max entry has size-1 and empty inputs",
    "min_ties": "its samples are tie patterns; the min entry has size-1 and empty inputs",
}


def _array_shapes(sample):
    values = list(sample.args) + list(sample.kwargs.values())
    return [np.shape(v.value if isinstance(v, Const) else v) for v in values
            if isinstance(v, (np.ndarray, Const))]


@pytest.mark.parametrize("info", all_opinfos(), ids=lambda i: i.name)
def test_every_registry_entry_samples_size_1_and_empty_axes(info):
    """Where an edge case is invalid for an op (the mean of an empty axis...),
    the registry samples a valid one (an empty batch, reducing another axis)."""
    if info.name in EDGE_CASES_ELSEWHERE:
        return
    shapes = [s for sample in info.samples(np.random.default_rng(0))
              for s in _array_shapes(sample)]
    assert any(0 in s for s in shapes), f"{info.name}: no sample with an empty axis"
    assert any(1 in s for s in shapes), f"{info.name}: no sample with a size-1 axis"


def test_ops_with_integer_output_are_compared_with_torch_by_value():
    rng = np.random.default_rng(0)
    for name in ("argmax", "argmin"):
        info = REGISTRY[name]
        assert info.no_gradcheck and info.torch_fn is not None
        for sample in info.samples(rng):
            result = torch_check_sample(info, sample)
            assert result.ok and result.value_err == 0, str(result)
    # the comparison does look at the values: a wrong twin is caught
    info = REGISTRY["argmax"]
    wrong = dataclasses.replace(info, torch_fn=lambda x, axis=None, keepdims=False:
                                torch.argmin(x, dim=axis, keepdim=keepdims))
    result = torch_check_sample(wrong, info.samples(rng)[0], raise_on_failure=False)
    assert not result.ok
