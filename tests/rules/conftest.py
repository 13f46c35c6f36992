import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


@pytest.fixture
def f64():
    mg.set_default_dtype(np.float64)
    yield
    mg.set_default_dtype(np.float32)


def batch(rng, n=6, shape=(5,), classes=3):
    x = mg.tensor(rng.standard_normal((n,) + shape))
    y = np.arange(n) % classes
    return x, y


def mlp(seed=0, sizes=(5, 7, 6, 3), act="tanh"):
    return nn.mlp(list(sizes), act, generator=np.random.default_rng(seed))


def convnet(seed=0):
    g = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, generator=g), nn.Tanh(),
                         nn.MaxPool2d(2), nn.Conv2d(3, 4, 3, generator=g), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4, 5, generator=g), nn.Tanh(),
                         nn.Linear(5, 3, generator=g))


def assert_same_updates(a, b, rtol=1e-10, atol=1e-12):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=k)
