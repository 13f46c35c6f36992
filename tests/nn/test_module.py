"""Module: the parameter walk, state dicts, modes, moving, functional_call."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import StateDictError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Dropout(0.5))
        self.norm = nn.BatchNorm1d(5)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.norm(self.body(x)))


def test_named_parameters_follow_assignment_order():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "norm.weight", "norm.bias",
                     "head.weight", "head.bias"]
    assert [n for n, _ in Net().named_buffers()] == [
        "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert Net().num_parameters() == 4 * 5 + 5 + 5 + 5 + 5 * 2 + 2


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.Tanh(), lin)
    assert len(list(seq.parameters())) == 2


def test_train_and_eval_reach_every_module():
    net = Net().eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip_through_save_and_load(tmp_path):
    a, b = Net(), Net()
    mg.manual_seed(1)
    b = Net()
    a.train()(mg.randn(8, 4))           # changes the running statistics
    mg.save(a.state_dict(), tmp_path / "net.npz")
    b.load_state_dict(mg.load(tmp_path / "net.npz"))
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=n)


def test_load_state_dict_reports_every_mismatch_and_changes_nothing():
    net = Net()
    before = net.head.weight.numpy().copy()
    state = dict(net.state_dict())
    state["head.weight"] = mg.zeros(3, 5)
    state["norm.bias"] = mg.zeros(5, dtype=np.float64)
    del state["body.0.bias"]
    state["extra"] = mg.zeros(1)
    with pytest.raises(StateDictError) as info:
        net.load_state_dict(state)
    msg = str(info.value)
    assert "missing: body.0.bias" in msg and "unexpected: extra" in msg
    assert "head.weight: shape (3, 5) in the state dict, (2, 5) in the model" in msg
    assert "norm.bias: dtype float64 in the state dict, float32 in the model" in msg
    np.testing.assert_array_equal(net.head.weight.numpy(), before)


def test_zero_grad_and_to():
    net = Net()
    net(mg.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.norm.num_batches_tracked.dtype == np.int64


def test_sequential_indexing_and_repr():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)
    assert len(seq[:2]) == 2
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in repr(seq)
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), "relu")


def test_functional_call_turns_a_model_into_a_function_of_its_parameters(rng):
    mg.set_default_dtype(np.float64)
    net = nn.mlp([3, 4, 2], "tanh")
    x = mg.tensor(rng.standard_normal((5, 3)))
    y = np.array([0, 1, 1, 0, 1])
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach() for _, p in net.named_parameters())

    def loss_of(*ps):
        return mg.cross_entropy(mg.functional_call(net, dict(zip(names, ps)), x), y)

    # the forward gradient's directional derivative equals <grad, v>
    v = tuple(mg.tensor(rng.standard_normal(p.shape)) for p in params)
    _, dd = mg.jvp(loss_of, params, v)
    net.zero_grad()
    mg.cross_entropy(net(x), y).backward()
    expected = sum(float((p.grad.numpy() * t.numpy()).sum())
                   for p, t in zip(net.parameters(), v))
    assert dd.item() == pytest.approx(expected, rel=1e-12)
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())   # restored
