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


def digits_accuracy(name, seed=0, activation="tanh", lr=0.05, epochs=5, **rule_options):
    """Test accuracy on the digits after a short seeded run of rule ``name``
    on an mlp([64, 32, 32, 10]) with SGD (momentum 0.9); the optimizer
    holds the rule's own parameters too. Accuracy is read through
    ``rule.predict``."""
    split = mg.data.load_dataset("digits")
    mg.manual_seed(seed)
    model = nn.mlp([64, 32, 32, 10], activation, generator=np.random.default_rng(seed))
    rule = mg.rules.make(name, model, seed=seed, **rule_options)
    opt = mg.optim.SGD(list(model.parameters()) + list(rule.parameters()), lr=lr, momentum=0.9)
    loader = mg.data.DataLoader(split.train, 32, shuffle=True, seed=seed)
    for _ in range(epochs):
        for x, y in loader:
            rule.step(x, y, opt)
    with mg.no_grad():
        out = rule.predict(mg.tensor(split.test.x)).numpy()
    return float((out.argmax(1) == split.test.y).mean())


def refuse_reverse_mode(monkeypatch, model, x, y, forward_mode=False):
    """Make every entry into the reverse-mode engine raise (and, with
    ``forward_mode``, the opening of a dual level, which every jvp needs),
    and show the trap is armed: backprop's update on ``(x, y)`` now fails."""
    from minigrad import autodiff, rules
    from minigrad.rules import base

    def refuse(*args, **kwargs):
        raise AssertionError("called the reverse-mode or forward-mode engine")

    monkeypatch.setattr(autodiff, "_run_backward", refuse)   # behind backward and grad
    monkeypatch.setattr(autodiff, "grad", refuse)
    monkeypatch.setattr(autodiff, "backward", refuse)
    monkeypatch.setattr(base, "autograd_grad", refuse)
    monkeypatch.setattr(mg.Tensor, "backward", refuse)
    if forward_mode:
        monkeypatch.setattr(autodiff.dual_level, "__enter__", refuse)
    with pytest.raises(AssertionError, match="engine"):        # the trap is armed
        rules.make("bp", model).updates(x, y)
    if forward_mode:
        with pytest.raises(AssertionError, match="engine"):
            mg.functional.jvp(lambda t: t * 2, mg.tensor([1.0]), mg.tensor([1.0]))
