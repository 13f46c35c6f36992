"""gradcheck and compare_with_torch must catch wrong derivatives."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import DTypeError, GradcheckError


class WrongSquare(mg.Op):
    """y = x², with a vjp that is off by a factor at one element."""

    name = "wrong_square"

    def forward(self, x):
        return x * x

    def vjp(self, g):
        (x,) = self.inputs
        scale = np.ones(x.shape)
        scale.flat[2] = 1.5           # the bug
        return g * 2 * x * mg.tensor(scale)

    def jvp(self, dx):
        (x,) = self.inputs
        return dx * 2 * x


def test_gradcheck_passes_a_correct_function():
    x = mg.tensor(np.linspace(-1, 1, 5))
    report = mg.gradcheck(lambda t: (mg.sin(t) * t).sum(), (x,))
    assert report.ok and report.max_abs_err < 1e-8
    assert "passed" in str(report)


def test_gradcheck_finds_and_names_a_wrong_element():
    x = mg.tensor(np.array([0.5, 1.0, 2.0, -1.0]))
    with pytest.raises(GradcheckError) as info:
        mg.gradcheck(lambda t: mg.apply(WrongSquare(), t), (x,))
    msg = str(info.value)
    assert "FAILED" in msg and "input 0[2]" in msg and "output[2]" in msg
    report = mg.gradcheck(lambda t: mg.apply(WrongSquare(), t), (x,), raise_on_failure=False)
    assert not report.ok
    assert report.worst["index"] == 2
    assert report.worst["analytical"] == pytest.approx(6.0)
    assert report.worst["numerical"] == pytest.approx(4.0)


def test_gradcheck_handles_several_inputs_and_outputs():
    a = mg.tensor(np.array([0.3, 0.7]))
    b = mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    report = mg.gradcheck(lambda x, y: (x @ y, mg.exp(x)), (a, b))
    assert report.ok and report.n_checked == (2 + 2) * (2 + 4)


def test_gradcheck_passes_non_tensor_arguments_through():
    x = mg.tensor(np.array([0.3, 0.7, 1.2]))
    assert mg.gradcheck(lambda t, axis: mg.softmax(t, axis), (x, 0)).ok


def test_gradcheck_needs_float64():
    with pytest.raises(DTypeError, match="float64"):
        mg.gradcheck(lambda t: t * 2, (mg.tensor([1.0], dtype=np.float32),))


def test_gradcheck_reports_a_non_smooth_point():
    x = mg.tensor(np.array([0.0, 1.0]))
    report = mg.gradcheck(lambda t: mg.sqrt(t), (x,), raise_on_failure=False)
    assert not report.ok


def test_compare_with_torch_agrees_and_disagrees():
    torch = pytest.importorskip("torch")
    x = np.linspace(-2, 2, 7)
    ok = mg.compare_with_torch(mg.tanh, torch.tanh, [x])
    assert ok.ok
    with pytest.raises(GradcheckError, match="DISAGREES"):
        mg.compare_with_torch(mg.tanh, torch.sigmoid, [x])
    bad_grad = mg.compare_with_torch(lambda t: mg.apply(WrongSquare(), t),
                                     lambda t: t * t, [x], raise_on_failure=False)
    assert not bad_grad.ok and "gradients differ" in str(bad_grad)


# --------------------------------------------------------------------------
# check_grads catches what it claims to catch
# --------------------------------------------------------------------------


class _Scaled(mg.autodiff.Op):
    """sin(x), with rules that can be broken on purpose."""

    name = "scaled_sin"

    def __init__(self, jvp_scale=1.0, constant_rules=False):
        self.jvp_scale, self.constant_rules = jvp_scale, constant_rules

    def forward(self, x):
        return np.sin(x)

    def _derivative(self):
        x = self.inputs[0]
        if self.constant_rules:           # right values, but not differentiable again
            return mg.Tensor(np.cos(x.numpy()))
        return mg.cos(x)

    def vjp(self, g):
        return (g * self._derivative(),)

    def jvp(self, dx):
        return dx * self._derivative() * self.jvp_scale


def _scaled(**kw):
    return lambda x: mg.autodiff.apply(_Scaled(**kw), x)


def test_check_grads_passes_correct_rules_and_catches_broken_ones():
    x = mg.tensor(np.array([0.3, -1.2, 2.0]))
    mg.check_grads(_scaled(), (x,), order=2)
    with pytest.raises(mg.GradcheckError, match="forward mode: the jvp differs"):
        mg.check_grads(_scaled(jvp_scale=1.001), (x,), modes="fwd", order=1)
    with pytest.raises(mg.GradcheckError, match="inner-product identity"):
        mg.check_grads(_scaled(jvp_scale=1.0 + 1e-6), (x,), order=1)
    # rules written in raw arrays: right at order 1, wrong at order 2
    mg.check_grads(_scaled(constant_rules=True), (x,), order=1)
    with pytest.raises(mg.GradcheckError, match="jvp of"):
        mg.check_grads(_scaled(constant_rules=True), (x,), modes="fwd", order=2)
    with pytest.raises(mg.GradcheckError, match="vjp of"):
        mg.check_grads(_scaled(constant_rules=True), (x,), modes="rev", order=2)


def test_check_grads_rejects_arguments_that_would_check_nothing():
    x = mg.tensor(np.array([0.3]))
    with pytest.raises(mg.ArgumentError, match="modes must be 'fwd' and/or 'rev'"):
        mg.check_grads(mg.sin, (x,), modes=("forward",))
    with pytest.raises(mg.ArgumentError, match="order must be an int >= 1"):
        mg.check_grads(mg.sin, (x,), order=0)
    with pytest.raises(mg.ArgumentError, match="argnums 3 is out of range for 1 argument"):
        mg.check_grads(mg.sin, (x,), argnums=3)
