"""The CPU stand-in for CuPy refuses what CuPy refuses (else the fake-cupy
parameter could pass code that fails on a GPU), and its name lists match a
real CuPy where one imports."""
import copy
import pickle

import numpy as np
import pytest

from tests import fake_cupy

cp = fake_cupy.this


@pytest.fixture
def a():
    return cp.asarray(np.arange(6.0).reshape(2, 3))


def test_implicit_conversion_to_numpy_raises_and_get_is_the_way_back(a):
    for convert in (np.asarray, np.array, lambda x: np.ascontiguousarray(x, np.float32),
                    lambda x: np.asarray([x, x])):
        with pytest.raises(TypeError, match="Implicit conversion"):
            convert(a)
    host = a.get()
    assert type(host) is np.ndarray and host.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(cp.asnumpy(a)) is np.ndarray


@pytest.mark.parametrize("op", [
    lambda a, h: a + h, lambda a, h: h * a, lambda a, h: np.maximum(a, h),
    lambda a, h: np.concatenate([a, h]), lambda a, h: np.where(h > 0, a, 0.0),
    lambda a, h: cp.exp(h), lambda a, h: a @ h.T, lambda a, h: np.add.at(a, 0, h[0]),
])
def test_a_host_array_in_a_device_op_raises(a, op):
    with pytest.raises(TypeError):
        op(a, np.ones((2, 3)))


def test_device_ops_stay_on_the_device_and_scalars_mix(a):
    for out in (a + 1, np.float32(2) * a, np.exp(a), a.sum(), np.sum(a, axis=0), a[0, 1],
                a.max(), np.linalg.norm(a), np.concatenate([a, a]), a.T @ a, -a):
        assert isinstance(out, cp.ndarray)
    assert a.sum().shape == ()                       # reductions give 0-d arrays
    assert float(a.sum()) == 15.0 and a.sum().item() == 15.0 and f"{a.sum():.1f}" == "15.0"
    b = a.copy()
    b += 1
    b[0] = np.array([9.0, 9.0, 9.0])                # CuPy copies a host value on assignment
    assert b.get()[0].tolist() == [9, 9, 9] and b.get()[1].tolist() == [4, 5, 6]
    assert a[np.array([1, 0])].get()[0].tolist() == [3, 4, 5]   # host index arrays are fine


def test_numpy_only_names_are_missing(a):
    for name in ("errstate", "insert", "longdouble", "object_"):
        with pytest.raises(AttributeError):
            getattr(cp, name)
    with pytest.raises(TypeError, match="insert"):
        np.insert(a, 0, 1.0)                         # no CuPy implementation
    with pytest.raises(AttributeError):
        a.resize((3, 2))
    with pytest.raises(AttributeError):
        cp.linalg.multi_dot


def test_the_generator_has_cupy_methods_only():
    g = cp.random.default_rng(0)
    assert isinstance(g.standard_normal((2, 3), dtype=np.float32), cp.ndarray)
    assert g.standard_normal(3, dtype=np.float32).dtype == np.float32
    assert g.uniform(0, 1, 4, dtype=np.float32).dtype == np.float32
    for name in ("normal", "permutation", "choice", "shuffle", "bit_generator"):
        with pytest.raises(AttributeError):
            getattr(g, name)
    with pytest.raises(TypeError, match="float32 or float64"):
        g.random(3, dtype=np.int32)


def test_pickle_and_copy_keep_the_device(a):
    for b in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a), copy.copy(a)):
        assert isinstance(b, cp.ndarray) and b.get().tolist() == a.get().tolist()


def test_the_name_lists_match_a_real_cupy():
    try:
        import cupy
    except Exception as exc:                         # not installed, or no CUDA libraries
        pytest.skip(f"a real CuPy does not import here ({type(exc).__name__})")
    if isinstance(cupy, type(cp)) and cupy is cp:
        pytest.skip("the fake is installed")
    # the fake hides nothing CuPy has, and offers nothing (of this NumPy) CuPy lacks
    public = {n for n in dir(np) if not n.startswith("_")}
    assert not fake_cupy.NUMPY_ONLY & set(dir(cupy))
    assert not (public - set(dir(cupy))) - fake_cupy.NUMPY_ONLY
    methods = {n for n in dir(np.ndarray) if not n.startswith("_")}
    assert not fake_cupy.NDARRAY_NUMPY_ONLY & set(dir(cupy.ndarray))
    assert not (methods - set(dir(cupy.ndarray))) - fake_cupy.NDARRAY_NUMPY_ONLY
    assert fake_cupy.GENERATOR_METHODS == {n for n in dir(cupy.random.Generator)
                                           if not n.startswith("_")}
