"""Shared fixtures.

``backend`` runs a test once per array backend: NumPy always, CuPy only
where CuPy imports and sees a GPU (skipped with the reason otherwise).
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
]


@pytest.fixture(params=BACKENDS)
def backend(request):
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
