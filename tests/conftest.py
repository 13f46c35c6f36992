"""Shared fixtures.

``backend`` runs a test once per array backend: NumPy always, CuPy only
where CuPy imports and sees a GPU (skipped with the reason otherwise), and
``fake-cupy`` where it does not: the ``cupy`` backend served by
``tests/fake_cupy.py``, a CPU stand-in as strict as CuPy about the host/device
line (implicit conversions, host arrays in device ops, NumPy-only functions,
CuPy's Generator API). It checks the plumbing, not GPU numerics or speed.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import backend as _backend


def _cupy_skip_reason():
    if _backend.cupy_available():
        return None
    return f"CuPy backend not available ({_backend._cupy_error})"


BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("cupy", id="cupy", marks=[
        pytest.mark.cupy,
        pytest.mark.skipif(_cupy_skip_reason() is not None,
                           reason=_cupy_skip_reason() or ""),
    ]),
    pytest.param("fake-cupy", id="fake-cupy", marks=[
        pytest.mark.skipif(_cupy_skip_reason() is None,
                           reason="a real GPU runs the cupy parameter"),
    ]),
]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """"numpy" or "cupy" (the real one, or the CPU stand-in for "fake-cupy")."""
    if request.param == "fake-cupy":
        from tests import fake_cupy

        fake_cupy.install(request.getfixturevalue("monkeypatch"))
        return "cupy"
    return request.param


@pytest.fixture(autouse=True)
def _isolated_state():
    """Every test starts from the library defaults and a fixed seed."""
    mg.set_backend("numpy")
    mg.set_default_dtype(np.float32)
    mg.manual_seed(0)
    yield
    mg.set_backend("numpy")
    mg.set_default_dtype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def assert_close(actual, expected, atol=1e-10, rtol=1e-8):
    a = actual.numpy() if isinstance(actual, mg.Tensor) else np.asarray(actual)
    e = expected.numpy() if isinstance(expected, mg.Tensor) else np.asarray(expected)
    np.testing.assert_allclose(a, e, atol=atol, rtol=rtol)
