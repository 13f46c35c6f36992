"""Every rule learns: on the digits it beats the shallow control, where only
the last layer learns."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, rules

DEEP_RULES = ["bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "pfa"]


def _test_accuracy(name, seed=0):
    split = mg.data.load_dataset("digits")
    mg.manual_seed(seed)
    model = nn.mlp([64, 32, 32, 10], "tanh", generator=np.random.default_rng(seed))
    rule = rules.make(name, model, seed=seed)
    opt = mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = mg.data.DataLoader(split.train, 32, shuffle=True, seed=seed)
    for _ in range(5):
        for x, y in loader:
            rule.step(x, y, opt)
    out = model(mg.tensor(split.test.x)).numpy()
    return float((out.argmax(1) == split.test.y).mean())


@pytest.fixture(scope="module")
def shallow_accuracy():
    return _test_accuracy("shallow")


@pytest.mark.parametrize("name", DEEP_RULES)
def test_rule_beats_the_shallow_control_on_digits(name, shallow_accuracy):
    acc = _test_accuracy(name)
    assert acc > shallow_accuracy + 0.05, (name, acc, shallow_accuracy)
    assert acc > 0.93
