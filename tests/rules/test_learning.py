"""Every rule learns: on the digits it beats the shallow control, where only
the last layer learns."""
import pytest

from tests.rules.conftest import digits_accuracy

DEEP_RULES = ["bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "pfa"]


@pytest.fixture(scope="module")
def shallow_accuracy():
    return digits_accuracy("shallow")


@pytest.mark.parametrize("name", DEEP_RULES)
def test_rule_beats_the_shallow_control_on_digits(name, shallow_accuracy):
    acc = digits_accuracy(name)
    assert acc > shallow_accuracy + 0.05, (name, acc, shallow_accuracy)
    assert acc > 0.93
