"""DFA: exact on one hidden layer when B₁ = W₂ᵀ; conv nets; restrictions."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, rules
from tests.rules.conftest import assert_same_updates, batch, convnet, mlp


def test_dfa_with_b_equal_to_the_next_weights_transposed_is_backprop(rng, f64):
    model = mlp(sizes=(5, 8, 3))               # one hidden layer
    x, y = batch(rng)
    dfa = rules.make("dfa", model)
    dfa.updates(x, y)                           # creates B₁ for the hidden layer
    dfa.feedback["1"] = model[3].weight.numpy().T.copy()      # B₁ = W₂ᵀ
    assert_same_updates(dfa.updates(x, y), rules.make("bp", model).updates(x, y))


def test_dfa_sends_the_projected_output_error_to_every_hidden_layer(rng, f64):
    model = mlp()
    x, y = batch(rng)
    dfa = rules.make("dfa", model, seed=4)
    ups = dfa.updates(x, y)
    logits = model(x).numpy()
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    e = (p - np.eye(3)[y]) / len(y)
    h1 = np.tanh(model[1](model[0](x)).numpy())
    a2 = model[3](mg.tensor(h1)).numpy()
    h2 = np.tanh(a2)
    # layer 3 (the second hidden layer): δ = (B e) ⊙ f′(a), ΔW = δ h₁ᵀ
    delta = (e @ dfa.feedback["3"].T) * (1 - h2 ** 2)
    np.testing.assert_allclose(ups["3.weight"], delta.T @ h1, atol=1e-12)
    np.testing.assert_allclose(dfa.last_signals["3"], delta, atol=1e-12)
    # the output layer learns from e itself
    np.testing.assert_allclose(ups["5.weight"], e.T @ h2, atol=1e-12)


def test_dfa_on_a_conv_net_projects_to_each_block(rng, f64):
    model = convnet()
    x, y = batch(rng, shape=(2, 6, 6))
    dfa = rules.make("dfa", model)
    ups = dfa.updates(x, y)
    assert set(ups) == {n for n, _ in model.named_parameters()}
    # the projection for the first conv reaches it after the pooling: (3·3·3) values
    assert dfa.feedback["0"].shape == (3 * 3 * 3, 3)
    assert dfa.feedback["3"].shape == (4, 3) and dfa.feedback["6"].shape == (5, 3)


def test_dfa_needs_a_chain(f64):
    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.mlp([3, 4, 2])

        def forward(self, x):
            return self.inner(x)

    with pytest.raises(mg.ArgumentError, match="needs a Sequential"):
        rules.make("dfa", Wrapped())
    with pytest.raises(mg.ArgumentError, match="nested inside"):
        rules.make("dfa", nn.Sequential(nn.Sequential(nn.Linear(3, 4)), nn.ReLU(),
                                        nn.Linear(4, 2)))
