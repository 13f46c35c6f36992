"""The Rule interface: registry, updates vs step, signals, errors."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, rules
from tests.rules.conftest import batch, mlp

ALL = ["bp", "shallow", "delta", "perceptron", "fa", "dfa", "usf", "brsf", "frsf", "kp", "pfa"]


def test_every_rule_is_listed_with_its_paper():
    listed = rules.available()
    assert set(ALL) <= set(listed)
    assert "Lillicrap" in listed["fa"] and "Nøkland" in listed["dfa"]


def test_unknown_rule_and_hyper_parameter_list_the_valid_ones():
    with pytest.raises(mg.ArgumentError, match="unknown rule 'magic'; choose one of bp"):
        rules.make("magic", mlp())
    with pytest.raises(mg.ArgumentError, match=r"unknown hyper-parameter\(s\) ratio; valid: "
                                               r"expand_ratio \(default 4\), weight_decay"):
        rules.make("pfa", mlp(), ratio=3)


def test_unsupported_layers_are_named_with_the_rules_that_support_them():
    with pytest.raises(mg.ArgumentError, match=r"'dfa' cannot train a model with ResidualBlock "
                                               r"\(layer '3'\); rules that can: bp, shallow"):
        rules.make("dfa", nn.resnet(8, width=2))
    with pytest.raises(mg.ArgumentError, match="single Linear layer.*1 \\(Linear\\), 2 \\(Tanh\\)"):
        rules.make("delta", nn.mlp([4, 3, 2], "tanh"))


@pytest.mark.parametrize("name", ["bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "pfa",
                                  "shallow"])
def test_updates_do_not_touch_the_model_and_step_applies_them(name, rng, f64):
    model = mlp()
    rule = rules.make(name, model, seed=1)
    x, y = batch(rng)
    before = {n: p.numpy().copy() for n, p in model.named_parameters()}
    ups = rule.updates(x, y)
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(p.numpy(), before[n])
        assert p.grad is None
    assert set(ups) <= set(before) and ups
    assert rule.last_loss > 0 and rule.last_output.shape == (6, 3)
    stats = mg.rules.make(name, model, seed=1).step(x, y, mg.optim.SGD(model.parameters(),
                                                                       lr=0.1))
    changed = [n for n, p in model.named_parameters() if not np.array_equal(p.numpy(), before[n])]
    assert set(changed) == set(ups)
    assert stats["loss"] == pytest.approx(rule.last_loss)


def test_signals_are_the_errors_each_layer_received(rng, f64):
    model = mlp()
    rule = rules.make("bp", model)
    x, y = batch(rng)
    rule.updates(x, y)
    assert set(rule.last_signals) == {"1", "3", "5"}
    # backprop's signal at the last layer is (softmax − onehot) / N
    logits = model(x).numpy()
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(rule.last_signals["5"], (p - np.eye(3)[y]) / 6, atol=1e-12)
    # and a hidden layer's signal gives its weight update: δ hᵀ
    h = mg.tanh(model[1](model[0](x))).numpy()
    np.testing.assert_allclose(rule.updates(x, y)["3.weight"], rule.last_signals["3"].T @ h,
                               atol=1e-12)


def test_rule_state_round_trips(rng, tmp_path, f64):
    model = mlp()
    rule = rules.make("kp", model)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    x, y = batch(rng)
    rule.step(x, y, opt)
    mg.save(rule.state_dict(), tmp_path / "r.npz")
    other = rules.make("kp", model, seed=5)
    other.load_state_dict(mg.load(tmp_path / "r.npz"))
    for k in rule.feedback:
        np.testing.assert_array_equal(rule.feedback[k], other.feedback[k])


class _WithHead(rules.Rule):
    """A toy rule with a parameter of its own: a head on the model's output."""

    name = "toy-head"

    def setup(self):
        self.local = nn.Sequential(nn.Linear(3, 2, generator=np.random.default_rng(0)))

    def signals_and_loss(self, x, y):
        out = self.forward(x)
        loss = mg.cross_entropy(self.local(out), y % 2)
        self.last_output, self.last_loss = out, float(loss.item())
        return [loss], [None]


def test_rules_with_parameters_of_their_own(rng, tmp_path, f64):
    model = mlp()
    rule = _WithHead(model)
    assert [n for n, _ in rule.named_parameters()] == ["rule.0.weight", "rule.0.bias"]
    x, y = batch(rng)
    ups = rule.updates(x, y)
    assert {"rule.0.weight", "rule.0.bias", "5.weight"} <= set(ups)
    with pytest.raises(mg.ArgumentError, match=r"learns parameters of its own \(rule.0.weight, "
                                               r"rule.0.bias\).*list\(rule.parameters\(\)\)"):
        rule.step(x, y, mg.optim.SGD(model.parameters(), lr=0.1))
    head = rule.local[0].weight.numpy().copy()
    rule.step(x, y, mg.optim.SGD(list(model.parameters()) + list(rule.parameters()), lr=0.1))
    np.testing.assert_allclose(rule.local[0].weight.numpy(), head - 0.1 * ups["rule.0.weight"])
    mg.save(rule.state_dict(), tmp_path / "r.npz")
    other = _WithHead(model)
    other.load_state_dict(mg.load(tmp_path / "r.npz"))
    np.testing.assert_array_equal(other.local[0].weight.numpy(), rule.local[0].weight.numpy())


def test_chain_blocks_cuts_a_sequential_at_its_learnable_layers():
    from minigrad.rules.base import chain_blocks
    prefix, blocks = chain_blocks("x", nn.lenet5())
    assert prefix == []
    assert [(name, type(layer).__name__, [type(m).__name__ for m in after])
            for name, layer, after in blocks] == [
        ("0", "Conv2d", ["ReLU", "MaxPool2d"]), ("3", "Conv2d", ["ReLU", "MaxPool2d", "Flatten"]),
        ("7", "Linear", ["ReLU"]), ("9", "Linear", ["ReLU"]), ("11", "Linear", [])]
    prefix, _ = chain_blocks("x", mlp())
    assert [type(m).__name__ for m in prefix] == ["Flatten"]
    with pytest.raises(mg.ArgumentError, match=r"rule 'x' cannot train layer '3' \(ResidualBlock\)"):
        chain_blocks("x", nn.resnet(8, width=2))
    with pytest.raises(mg.ArgumentError, match="rule 'x' needs a Sequential model"):
        chain_blocks("x", nn.Linear(2, 2))
