"""The model zoo: shapes and parameter counts against the torch originals."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_mlp():
    m = nn.mlp([784, 1000, 1000, 10])
    assert m(mg.randn(2, 1, 28, 28)).shape == (2, 10)
    assert m.num_parameters() == 784 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 10 + 10
    assert isinstance(nn.mlp([4, 8, 2], "tanh")[2], nn.Tanh)
    with pytest.raises(mg.ArgumentError):
        nn.mlp([4])


def test_lenet5_shapes_and_size():
    m = nn.lenet5()
    assert m(mg.randn(3, 1, 28, 28)).shape == (3, 10)
    assert m.num_parameters() == 61_706          # the classic LeNet-5 count
    assert nn.lenet5(3, 10, 32)(mg.randn(1, 3, 32, 32)).shape == (1, 10)


def test_resnet20_has_the_papers_size():
    m = nn.resnet(20)
    assert m.num_parameters() == 272_474         # He et al. (2016): 0.27M
    assert m(mg.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(mg.ArgumentError, match="6n \\+ 2"):
        nn.resnet(21)


def test_models_train(rng):
    m = nn.resnet(8, width=4)
    opt = mg.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    x = mg.tensor(rng.standard_normal((8, 3, 8, 8)).astype(np.float32))
    y = rng.integers(0, 10, 8)
    first = None
    for _ in range(15):
        loss = mg.cross_entropy(m(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
