"""Kernel launches per training step on the CuPy backend, counted on a CPU.

At small batches a GPU step is bound by launches, not arithmetic: each
elementwise op, reduction or GEMM is one kernel, and each costs the
launch plus CuPy's and minigrad's Python dispatch. This script runs one
SGD step of bench_engine's MLP and LeNet-5 (``step_pair``) on the CPU
stand-in for CuPy (``tests/fake_cupy.py``) and counts what a real CuPy
would launch: every ufunc call, every array function or method whose
result is new memory (views are free), every fancy-index gather and every
item assignment; minigrad's own CUDA kernels (im2col, col2im, the fused
optimizer updates; ``minigrad.ops.cuda_kernels``) count one each, as on a
GPU. The count is exact for the code path; what each launch costs needs a
GPU (``bench_gpu.py``).

    python benchmarks/count_launches.py [--batch 128] [--models mlp lenet5]
    python benchmarks/count_launches.py --no-cuda-kernels   # the array-code path
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
sys.path.append(str(ROOT / "tests"))        # appended: tests/ holds packages named like stdlib ones

import fake_cupy  # noqa: E402

COUNT = collections.Counter()
_counting = [False]


def _count(kind):
    if _counting[0]:
        COUNT[kind] += 1


def _fresh(result, inputs):
    """Whether ``result`` is new memory, not a view of an input."""
    return isinstance(result, np.ndarray) and not any(
        isinstance(a, np.ndarray) and np.may_share_memory(result, a) for a in inputs)


def _host_arrays(args):
    found = []

    def walk(a):
        if isinstance(a, fake_cupy.ndarray):
            found.append(a._a)
        elif isinstance(a, np.ndarray):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            for item in a:
                walk(item)
        elif isinstance(a, dict):
            for item in a.values():
                walk(item)
    walk(args)
    return found


def instrument():
    """Wrap the stand-in's entry points so that each would-be launch is counted."""
    fc = fake_cupy
    call_ufunc = fc._call_ufunc

    def counted_ufunc(ufunc, method, inputs, kwargs):
        _count(f"ufunc {ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
        return call_ufunc(ufunc, method, inputs, kwargs)
    fc._call_ufunc = counted_ufunc

    device_function = fc._device_function

    def counted_function(name, func):
        def run(*args, **kwargs):
            result = func(*args, **kwargs)
            if _fresh(result, _host_arrays((args, kwargs))):
                _count(f"function {name}")
            return result
        return device_function(name, run)
    fc._device_function = counted_function

    array_function = fc.ndarray.__array_function__

    def counted_array_function(self, func, types_, args, kwargs):
        result = array_function(self, func, types_, args, kwargs)
        if isinstance(result, fc.ndarray) and _fresh(result._a, _host_arrays((args, kwargs))):
            _count(f"function {func.__name__}")
        return result
    fc.ndarray.__array_function__ = counted_array_function

    get_attribute = fc.ndarray.__getattr__

    def counted_attribute(self, name):
        attr = get_attribute(self, name)
        if not callable(attr):
            return attr

        def method(*args, **kwargs):
            result = attr(*args, **kwargs)
            if isinstance(result, fc.ndarray) and _fresh(result._a, [self._a]):
                _count(f"method {name}")
            return result
        return method
    fc.ndarray.__getattr__ = counted_attribute

    get_item, set_item = fc.ndarray.__getitem__, fc.ndarray.__setitem__

    def counted_get(self, key):
        result = get_item(self, key)
        if isinstance(result, fc.ndarray) and _fresh(result._a, [self._a]):
            _count("gather (fancy index)")
        return result

    def counted_set(self, key, value):
        _count("item assignment")
        return set_item(self, key, value)
    fc.ndarray.__getitem__, fc.ndarray.__setitem__ = counted_get, counted_set


def cuda_kernels_as_on_a_gpu():
    """minigrad's CUDA kernels, as one launch each; their results come from
    the NumPy reference (not counted)."""
    from minigrad import optim
    from minigrad.ops import conv, cuda_kernels

    def one_launch(name, reference):
        def run(*args):
            _count(f"cuda_kernels.{name}")
            was, _counting[0] = _counting[0], False
            try:
                return reference(*args)
            finally:
                _counting[0] = was
        return run

    def im2col(xp, x, kernel, dilation, padding, stride, out_hw):
        cols = conv.Unfold(kernel, dilation, padding, stride).forward(x._a)
        return fake_cupy.ndarray._from_host(cols)

    def col2im(xp, cols, n, c, output_size, kernel, dilation, padding, stride, out_hw):
        x = conv.Fold(output_size, kernel, dilation, padding, stride).forward(cols._a)
        return fake_cupy.ndarray._from_host(x)

    def reference(update):
        def run(xp, w, g, state, group, *extra):
            was = cuda_kernels.fusable
            cuda_kernels.fusable = lambda *a: False
            try:
                if extra:                                  # Adam's `decoupled`
                    opt = optim.AdamW if extra[0] else optim.Adam
                    return update(opt.__new__(opt), w, g, state, group)
                return update(None, w, g, state, group)
            finally:
                cuda_kernels.fusable = was
        return run

    cuda_kernels.available = lambda xp: xp is fake_cupy.this
    cuda_kernels.im2col = one_launch("im2col", im2col)
    cuda_kernels.col2im = one_launch("col2im", col2im)
    cuda_kernels.sgd_update = one_launch("sgd_update", reference(optim.SGD.update))
    cuda_kernels.adam_update = one_launch("adam_update", reference(optim.Adam.update))


def count_step(model_name, batch):
    from bench_engine import step_pair

    step = step_pair(model_name, batch, backend="cupy")["minigrad"]
    step()                                   # the first step creates optimizer state
    COUNT.clear()
    _counting[0] = True
    try:
        step()
    finally:
        _counting[0] = False
    return collections.Counter(COUNT)


class _Patch:
    """The part of pytest's monkeypatch that ``fake_cupy.install`` uses (for good)."""

    def setitem(self, mapping, key, value):
        mapping[key] = value

    def setattr(self, target, name, value):
        setattr(target, name, value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--models", nargs="+", default=["mlp", "lenet5"],
                        choices=["mlp", "lenet5"])
    parser.add_argument("--no-cuda-kernels", action="store_true",
                        help="count the array-code path (no im2col/col2im/fused kernels)")
    args = parser.parse_args(argv)
    instrument()
    fake_cupy.install(_Patch())
    if not args.no_cuda_kernels:
        cuda_kernels_as_on_a_gpu()
    for name in args.models:
        counts = count_step(name, args.batch)
        print(f"{name}, batch {args.batch}: {sum(counts.values())} launches per SGD step")
        for kind, n in counts.most_common():
            print(f"  {n:4d}  {kind}")


if __name__ == "__main__":
    main()
