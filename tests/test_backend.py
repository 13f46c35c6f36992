"""Backends, dtype policy and seeding."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend as B
from minigrad.errors import BackendError
from tests.conftest import assert_close

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_numpy_is_the_default_backend():
    assert mg.get_backend() == "numpy"
    assert mg.zeros(2).backend == "numpy"


def test_unknown_backend_is_rejected():
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        mg.set_backend("tpu")


@pytest.mark.skipif(B.cupy_available(), reason="only meaningful without CuPy")
def test_cupy_unavailable_gives_a_clear_error():
    with pytest.raises(BackendError, match="cupy.*not available.*cuda"):
        mg.set_backend("cupy")
    with pytest.raises(BackendError, match="not available"):
        mg.tensor([1.0]).to("cupy")
    assert mg.get_backend() == "numpy"


def test_get_array_module_ignores_scalars_and_none():
    assert B.get_array_module(np.ones(2), 3.0, None) is np


def test_manual_seed_makes_runs_reproducible():
    mg.manual_seed(42)
    a = mg.randn(5).numpy(), mg.dropout(mg.ones(100), 0.5).numpy()
    mg.manual_seed(42)
    b = mg.randn(5).numpy(), mg.dropout(mg.ones(100), 0.5).numpy()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_manual_seed_rejects_bad_seeds():
    with pytest.raises(mg.ArgumentError):
        mg.manual_seed(-1)


def test_tensors_follow_the_backend(backend):
    x = mg.tensor([1.0, 2.0], backend=backend, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert x.grad.backend == backend
    assert_close(x.grad.numpy(), [2.0, 4.0])


def test_to_moves_between_backends_differentiably(backend):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(backend)
    assert y.backend == backend
    (y * y).sum().backward()
    assert x.grad.backend == "numpy"
    assert_close(x.grad, [2.0, 4.0])


@pytest.mark.cupy
@pytest.mark.skipif(not B.cupy_available(), reason="needs CuPy and a GPU")
def test_mixing_backends_names_both():
    a = mg.tensor([1.0])
    b = mg.tensor([1.0], backend="cupy")
    with pytest.raises(BackendError, match="add.*numpy, cupy"):
        a + b


@pytest.mark.cupy
@pytest.mark.skipif(not B.cupy_available(), reason="needs CuPy and a GPU")
def test_set_backend_cupy_makes_factories_use_the_gpu():
    mg.set_backend("cupy")
    assert mg.randn(3).backend == "cupy"
    assert mg.tensor([1.0]).backend == "cupy"


# -- mixing backends, checked without a GPU ------------------------------------
# A stand-in for the cupy module: ``backend._cupy`` is what the engine tests
# arrays against (``isinstance(a, _cupy.ndarray)``), so a module object whose
# ``ndarray`` is a class of its own makes tensors that report the 'cupy'
# backend. Only the checks that run before any array arithmetic are exercised.


class _FakeGpuArray:
    """Holds a NumPy array but is not one, as a cupy.ndarray is not."""

    def __init__(self, array):
        self._array = np.asarray(array)

    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)

    def get(self):
        return self._array


@pytest.fixture
def fake_cupy(monkeypatch):
    import types

    stub = types.ModuleType("fake_cupy")
    stub.ndarray = _FakeGpuArray
    monkeypatch.setattr(B, "_cupy", stub)
    return stub


def test_mixing_backends_names_both_without_a_gpu(fake_cupy):
    a = mg.tensor(np.array([1.0, 2.0]))
    b = mg.Tensor(_FakeGpuArray([1.0, 2.0]))
    assert (a.backend, b.backend) == ("numpy", "cupy")
    with pytest.raises(BackendError, match=r"add: inputs live on different backends "
                                           r"\(numpy, cupy\).*Tensor.to"):
        a + b
    with pytest.raises(TypeError, match=r"mul: .*\(cupy, numpy\)"):   # BackendError is a TypeError
        b * a
    with pytest.raises(BackendError, match=r"matmul: .*\(numpy, cupy\)"):
        mg.tensor(np.eye(2)) @ mg.Tensor(_FakeGpuArray(np.eye(2)))


def test_where_condition_on_another_backend_names_both(fake_cupy):
    a, b = mg.tensor(np.array([1.0, 2.0])), mg.tensor(np.array([3.0, 4.0]))
    gpu_cond = _FakeGpuArray([True, False])
    for cond in (mg.Tensor(gpu_cond), gpu_cond):        # a Tensor or a raw array
        with pytest.raises(BackendError, match=r"where: the condition lives on cupy but the "
                                               r"operands on numpy, numpy"):
            mg.where(cond, a, b)
    fa, fb = mg.Tensor(_FakeGpuArray([1.0, 2.0])), mg.Tensor(_FakeGpuArray([3.0, 4.0]))
    with pytest.raises(BackendError, match=r"where: the condition lives on numpy but the "
                                           r"operands on cupy, cupy"):
        mg.where(mg.tensor([True, False]), fa, fb)


_PAGE_FAULTS = r"""
import resource, sys
import numpy as np
import minigrad as mg
kept = mg.backend.keep_freed_memory() if sys.argv[1] == "keep" else None
if sys.argv[2] == "lenet5":
    rng = np.random.default_rng(0)
    model = mg.nn.lenet5(generator=rng)
    opt = mg.optim.SGD(model.parameters(), lr=0.01)
    x = mg.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = mg.tensor(rng.integers(0, 10, 64))

    def step():
        loss = mg.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
else:       # what a step does to the heap, without the noise: 20 MB made, used, freed
    def step():
        arrays = [np.ones(1 << 18, dtype=np.float32) for _ in range(20)]
        del arrays

for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(kept, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _page_faults_per_step(mode, workload):
    """Minor page faults per step in a fresh process (the setting is for the
    whole process, and glibc's thresholds depend on the process's history)."""
    out = subprocess.run([sys.executable, "-c", _PAGE_FAULTS, mode, workload],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": ROOT})
    kept, per_step = out.stdout.split()
    return kept, float(per_step)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="keep_freed_memory acts on glibc's malloc (Linux) only")
def test_keep_freed_memory_stops_the_page_faults_of_each_step():
    """20 MB allocated, touched and freed per step: by default glibc hands it
    back to the system and every step faults its ~5,000 pages in again;
    with keep_freed_memory() the next step reuses it. A LeNet-5 step at
    batch 64 (which by default faults 0 to ~3,500 pages, depending on how
    the heap happens to be laid out) then faults almost none."""
    kept, with_it = _page_faults_per_step("keep", "synthetic")
    assert kept == "True"
    _, without = _page_faults_per_step("default", "synthetic")
    assert with_it < 100 < 4000 < without, (with_it, without)
    kept, lenet = _page_faults_per_step("keep", "lenet5")
    assert kept == "True" and lenet < 100, lenet


def test_keep_freed_memory_checks_its_argument_and_is_a_no_op_elsewhere(monkeypatch):
    for bad in (-1, 1.5, "1GB", True):
        with pytest.raises(mg.ArgumentError, match="keep_freed_memory: limit must be"):
            B.keep_freed_memory(bad)
    monkeypatch.setattr(B.platform, "system", lambda: "Darwin")
    assert B.keep_freed_memory() is False
