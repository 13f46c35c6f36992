"""Optimizers and schedules step for step against torch.optim; clipping;
gradient noise; state dicts."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

torch = pytest.importorskip("torch")


def _quadratic_problem(rng):
    """Parameters of a small least-squares problem, in both libraries."""
    a = rng.standard_normal((6, 4))
    b = rng.standard_normal(6)
    w0 = rng.standard_normal(4)
    c0 = rng.standard_normal(1)
    return a, b, w0, c0


def _run(make_ours, make_theirs, steps=8, seed=0):
    rng = np.random.default_rng(seed)
    a, b, w0, c0 = _quadratic_problem(rng)
    w, c = mg.tensor(w0, requires_grad=True), mg.tensor(c0, requires_grad=True)
    tw, tc = torch.tensor(w0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    opt, topt = make_ours([w, c]), make_theirs([tw, tc])
    for _ in range(steps):
        loss = ((mg.tensor(a) @ w + c - mg.tensor(b)) ** 2).mean() + (w ** 4).sum() * 0.01
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = ((torch.tensor(a) @ tw + tc - torch.tensor(b)) ** 2).mean() + (tw ** 4).sum() * 0.01
        topt.zero_grad()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c.numpy(), tc.detach().numpy(), rtol=1e-10, atol=1e-12)
    return opt


OPTIMIZERS = {
    "sgd": (lambda p: optim.SGD(p, lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd momentum": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1)),
    "sgd nesterov wd": (lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True,
                                            weight_decay=0.01),
                        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True,
                                                  weight_decay=0.01)),
    "adam": (lambda p: optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam amsgrad wd": (lambda p: optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1,
                                             betas=(0.8, 0.9)),
                        lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1,
                                                   betas=(0.8, 0.9))),
    "adamw": (lambda p: optim.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "rmsprop centered momentum": (
        lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5,
                                      weight_decay=0.1)),
    "adagrad": (lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.05,
                                        initial_accumulator_value=0.1),
                lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.05,
                                              initial_accumulator_value=0.1)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_matches_torch_step_for_step(name):
    _run(*OPTIMIZERS[name])


def test_parameter_groups_with_their_own_options():
    rng = np.random.default_rng(0)
    a = mg.tensor(rng.standard_normal(3), requires_grad=True)
    b = mg.tensor(rng.standard_normal(3), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a.sum() + b.sum()).backward()
    a0, b0 = a.numpy().copy(), b.numpy().copy()
    opt.step()
    np.testing.assert_allclose(a.numpy(), a0 - 0.1)
    np.testing.assert_allclose(b.numpy(), b0 - 0.5)


def test_optimizer_state_dict_resumes_exactly(tmp_path):
    make = OPTIMIZERS["adam amsgrad wd"][0]
    rng = np.random.default_rng(3)
    w = mg.tensor(rng.standard_normal(4), requires_grad=True)
    opt = make([w])
    for _ in range(3):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
    mg.save({"opt": opt.state_dict(), "w": w}, tmp_path / "o.npz")
    w2 = mg.tensor(w.numpy().copy(), requires_grad=True)
    opt2 = make([w2])
    opt2.load_state_dict(mg.load(tmp_path / "o.npz")["opt"])
    for o, p in ((opt, w), (opt2, w2)):
        o.zero_grad()
        (p ** 2).sum().backward()
        o.step()
    np.testing.assert_array_equal(w.numpy(), w2.numpy())


def test_optimizer_bad_input():
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(mg.ArgumentError, match="lr must be positive"):
        optim.SGD([w], lr=0)
    with pytest.raises(mg.ArgumentError, match="unknown option 'beta'"):
        optim.Adam([w], beta=0.9)
    with pytest.raises(mg.ArgumentError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(mg.ArgumentError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(mg.ArgumentError, match="unknown optimizer 'lbfgs'.*sgd, adam"):
        optim.make_optimizer("lbfgs", [w])
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(optim.OptimizerStateError, match="parameter groups"):
        opt.load_state_dict({"param_groups": [], "state": {}})


@pytest.mark.parametrize("ours,theirs", [
    (lambda o: optim.StepLR(o, 3, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    (lambda o: optim.MultiStepLR(o, [2, 5], 0.1),
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5], 0.1)),
    (lambda o: optim.CosineAnnealingLR(o, 7, 0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.01)),
    (lambda o: optim.LinearWarmup(o, 4, 0.1),
     lambda o: torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, 4)),
])
def test_schedules_match_torch(ours, theirs):
    w = mg.tensor([1.0], requires_grad=True)
    tw = torch.tensor([1.0], requires_grad=True)
    o, to = optim.SGD([w], lr=0.3), torch.optim.SGD([tw], lr=0.3)
    s, ts = ours(o), theirs(to)
    for _ in range(10):
        assert s.get_last_lr()[0] == pytest.approx(ts.get_last_lr()[0], rel=1e-12, abs=1e-15)
        to.step()
        s.step()
        ts.step()


def test_clip_grad_norm_and_value_match_torch(rng):
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ps = [mg.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad, tp.grad = mg.tensor(g.copy()), torch.tensor(g.copy())
    for norm_type in (2.0, 1.0, math.inf):
        n = optim.clip_grad_norm_(ps, 0.5, norm_type)
        tn = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type)
        assert n == pytest.approx(float(tn), rel=1e-12)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
    optim.clip_grad_value_(ps, 0.01)
    torch.nn.utils.clip_grad_value_(tps, 0.01)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy())


def test_gradient_noise_has_the_annealed_variance():
    noise = optim.GradientNoise(eta=0.3, gamma=0.55, generator=np.random.default_rng(0))
    w = mg.zeros(200_000, dtype=np.float64, requires_grad=True)
    for t in range(3):
        w.grad = mg.zeros(200_000, dtype=np.float64)
        noise([w])
        expected = 0.3 / (1 + t) ** 0.55
        assert w.grad.numpy().var() == pytest.approx(expected, rel=0.02)
    assert noise.t == 3
    with pytest.raises(mg.ArgumentError):
        optim.GradientNoise(eta=-1)


def test_loading_another_optimizers_state_is_refused(rng):
    w = mg.nn.Parameter(mg.tensor(rng.standard_normal(3)))
    w.grad = mg.ones(3)
    sgd = mg.optim.SGD([w], lr=0.1, momentum=0.9)
    sgd.step()
    with pytest.raises(mg.optim.OptimizerStateError, match="state is that of a SGD optimizer"):
        mg.optim.Adam([w], lr=0.1).load_state_dict(sgd.state_dict())
