"""Every layer against its PyTorch twin in float64: forward values and the
gradients with respect to the input and every parameter."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.errors import ShapeError

torch = pytest.importorskip("torch")
tnn = torch.nn


def copy_params(ours, theirs):
    mine = list(ours.parameters())
    other = list(theirs.parameters())
    assert [p.shape for p in mine] == [tuple(p.shape) for p in other]
    with torch.no_grad():
        for m, t in zip(mine, other):
            t.copy_(torch.tensor(m.numpy()))


def compare(ours, theirs, x_shape, rng, train=True, atol=1e-10):
    ours.double()
    theirs.double()
    copy_params(ours, theirs)
    ours.train(train)
    theirs.train(train)
    ours.zero_grad()
    theirs.zero_grad()
    x = rng.standard_normal(x_shape)
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ym, yt = ours(xm), theirs(xt)
    np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), atol=atol, rtol=1e-8)
    g = rng.standard_normal(ym.shape)
    ym.backward(mg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), atol=atol, rtol=1e-8)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=atol, rtol=1e-8,
                                   err_msg=name)
    return ours, theirs


CASES = {
    "linear": (lambda: nn.Linear(5, 3), lambda: tnn.Linear(5, 3), (4, 5)),
    "linear batched": (lambda: nn.Linear(5, 3), lambda: tnn.Linear(5, 3), (2, 4, 5)),
    "linear no bias": (lambda: nn.Linear(5, 3, bias=False),
                       lambda: tnn.Linear(5, 3, bias=False), (4, 5)),
    "conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1), lambda: tnn.Conv2d(2, 3, 3, padding=1),
               (2, 2, 6, 5)),
    "conv2d strided grouped": (lambda: nn.Conv2d(4, 6, (3, 2), stride=2, groups=2, dilation=(1, 2)),
                               lambda: tnn.Conv2d(4, 6, (3, 2), stride=2, groups=2,
                                                  dilation=(1, 2)), (1, 4, 7, 8)),
    "maxpool": (lambda: nn.MaxPool2d(2), lambda: tnn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool padded": (lambda: nn.MaxPool2d(3, 2, 1), lambda: tnn.MaxPool2d(3, 2, 1),
                       (1, 2, 7, 7)),
    "avgpool": (lambda: nn.AvgPool2d(2), lambda: tnn.AvgPool2d(2), (2, 3, 6, 6)),
    "global avg pool": (lambda: nn.GlobalAvgPool2d(),
                        lambda: tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten()),
                        (2, 3, 4, 4)),
    "flatten": (lambda: nn.Flatten(), lambda: tnn.Flatten(), (2, 3, 4)),
    "layernorm": (lambda: nn.LayerNorm(6), lambda: tnn.LayerNorm(6), (3, 6)),
    "layernorm 2d": (lambda: nn.LayerNorm((3, 4)), lambda: tnn.LayerNorm((3, 4)), (2, 3, 4)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(4), lambda: tnn.BatchNorm1d(4), (6, 4)),
    "batchnorm1d 3d": (lambda: nn.BatchNorm1d(3), lambda: tnn.BatchNorm1d(3), (4, 3, 5)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), (4, 3, 2, 2)),
    "relu": (lambda: nn.ReLU(), lambda: tnn.ReLU(), (3, 4)),
    "tanh": (lambda: nn.Tanh(), lambda: tnn.Tanh(), (3, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), lambda: tnn.Sigmoid(), (3, 4)),
    "leaky relu": (lambda: nn.LeakyReLU(0.2), lambda: tnn.LeakyReLU(0.2), (3, 4)),
    "elu": (lambda: nn.ELU(0.5), lambda: tnn.ELU(0.5), (3, 4)),
    "gelu": (lambda: nn.GELU(), lambda: tnn.GELU(), (3, 4)),
    "gelu tanh": (lambda: nn.GELU("tanh"), lambda: tnn.GELU("tanh"), (3, 4)),
    "softplus": (lambda: nn.Softplus(2.0), lambda: tnn.Softplus(2.0), (3, 4)),
    "softmax": (lambda: nn.Softmax(1), lambda: tnn.Softmax(1), (3, 4)),
    "log softmax": (lambda: nn.LogSoftmax(1), lambda: tnn.LogSoftmax(1), (3, 4)),
    "identity": (lambda: nn.Identity(), lambda: tnn.Identity(), (3, 4)),
    "dropout in eval": (lambda: nn.Dropout(0.5), lambda: tnn.Dropout(0.5), (3, 4)),
    "sequential": (lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)),
                   lambda: tnn.Sequential(tnn.Linear(4, 6), tnn.Tanh(), tnn.Linear(6, 2)),
                   (5, 4)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_torch(case, rng):
    make_ours, make_theirs, shape = CASES[case]
    compare(make_ours(), make_theirs(), shape, rng, train=case != "dropout in eval")


def test_batchnorm_running_statistics_and_eval_match_torch(rng):
    ours, theirs = compare(nn.BatchNorm2d(3, momentum=0.3), tnn.BatchNorm2d(3, momentum=0.3),
                           (4, 3, 2, 2), rng)
    for _ in range(2):   # more training batches, then evaluation
        x = rng.standard_normal((4, 3, 2, 2))
        ours(mg.tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy())
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy())
    assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked)
    compare(ours, theirs, (4, 3, 2, 2), rng, train=False)


def test_batchnorm_cumulative_average(rng):
    ours, theirs = nn.BatchNorm1d(2, momentum=None).double(), tnn.BatchNorm1d(2, momentum=None).double()
    for _ in range(3):
        x = rng.standard_normal((5, 2))
        ours(mg.tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy())


class TorchBlock(tnn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                       tnn.BatchNorm2d(cout)) \
            if stride != 1 or cin != cout else tnn.Identity()

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@pytest.mark.parametrize("cin,cout,stride", [(3, 3, 1), (3, 4, 2)])
def test_residual_block_matches_torch(cin, cout, stride, rng):
    compare(nn.ResidualBlock(cin, cout, stride), TorchBlock(cin, cout, stride),
            (2, cin, 6, 6), rng)


def test_dropout_trains_with_the_right_statistics():
    d = nn.Dropout(0.25)
    x = mg.ones(20_000, dtype=np.float64)
    y = d(x).numpy()
    assert abs((y == 0).mean() - 0.25) < 0.02
    d.eval()
    assert d(x) is x


def test_layers_name_themselves_in_shape_errors():
    with pytest.raises(ShapeError, match=r"Linear\(in_features=5.*5 features.*\(3, 4\)"):
        nn.Linear(5, 2)(mg.ones(3, 4))
    with pytest.raises(ShapeError, match=r"Conv2d\(3, 8.*3 features on axis -3.*\(2, 1, 8, 8\)"):
        nn.Conv2d(3, 8, 3)(mg.ones(2, 1, 8, 8))
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(4.*4-d input, got shape \(2, 4\)"):
        nn.BatchNorm2d(4)(mg.ones(2, 4))
    with pytest.raises(ShapeError, match=r"MaxPool2d"):
        nn.MaxPool2d(2)(mg.ones(4, 4))


def test_models_name_the_layer_and_the_expected_shape():
    with pytest.raises(ShapeError, match=r"lenet5: expected inputs of shape \(N, 1, 28, 28\), "
                                         r"got \(2, 1, 32, 32\)"):
        nn.lenet5()(mg.ones(2, 1, 32, 32))
    with pytest.raises(ShapeError, match=r"^layer 1 of Sequential \(Linear\): Linear\(in_features"
                                         r"=4.*expected 4 features.*\(3, 5\)"):
        nn.mlp([4, 8, 2], activation="tanh")(mg.ones(3, 5))
    with pytest.raises(ShapeError, match=r"LayerNorm\(\(4,\).*ending in \(4,\), got shape "
                                         r"\(3, 5\)"):
        nn.LayerNorm(4)(mg.ones(3, 5))
    with pytest.raises(ShapeError, match=r"expected a 1-d or more input, got shape \(\)"):
        nn.Linear(3, 2)(mg.tensor(1.0))


def test_layer_argument_errors():
    with pytest.raises(mg.ArgumentError, match="positive"):
        nn.Linear(0, 3)
    with pytest.raises(mg.ArgumentError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(mg.ArgumentError, match="Dropout"):
        nn.Dropout(1.5)
    with pytest.raises(mg.ArgumentError, match="unknown activation 'swishy'"):
        nn.activation("swishy")
