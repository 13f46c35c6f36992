"""Backend parity: one seeded computation on NumPy and on ``backend`` agrees.

Every layer (forward and backward), every optimizer, every learning rule and
the device plumbing around them (``Module.to``, DataLoader, save/load) is run
twice from the same seed, once on NumPy and once on the ``backend`` parameter,
and the numbers must agree to float32 tolerance. On a GPU that checks CuPy's
numerics; on a CPU the ``fake-cupy`` parameter checks the plumbing (no host
array sneaks into a device op, everything the run creates lives on the
device, nothing needs an API CuPy lacks). The op registry's gradient checks
run per backend in ``tests/ops/test_registry.py``.
"""
import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim, rules

RTOL, ATOL = 2e-4, 2e-5          # float32: reductions may sum in another order on a GPU


def close(a, b, what):
    np.testing.assert_allclose(mg.backend.to_numpy(a), mg.backend.to_numpy(b),
                               rtol=RTOL, atol=ATOL, err_msg=what)


def on(backend, array):
    return mg.tensor(array).to(backend)


def assert_on(backend, tensors, what):
    wrong = [name for name, t in tensors if t.backend != backend]
    assert not wrong, f"{what}: {wrong} are not on {backend}"


# --------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------
def _g():
    return np.random.default_rng(5)


LAYERS = {
    "Linear": (lambda: nn.Linear(6, 4, generator=_g()), (3, 6)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1, generator=_g()), (2, 2, 6, 6)),
    "Conv2d-stride": (lambda: nn.Conv2d(2, 3, (3, 2), stride=2, generator=_g()), (2, 2, 7, 6)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2), (2, 3, 7, 7)),
    "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), (2, 3, 4, 4)),
    "Flatten": (lambda: nn.Flatten(), (2, 3, 4)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(5), (8, 5)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 3, 3)),
    "LayerNorm": (lambda: nn.LayerNorm(5), (4, 5)),
    "ReLU": (lambda: nn.ReLU(), (4, 5)),
    "Tanh": (lambda: nn.Tanh(), (4, 5)),
    "Sigmoid": (lambda: nn.Sigmoid(), (4, 5)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), (4, 5)),
    "ELU": (lambda: nn.ELU(), (4, 5)),
    "GELU": (lambda: nn.GELU(), (4, 5)),
    "Softplus": (lambda: nn.Softplus(), (4, 5)),
    "Softmax": (lambda: nn.Softmax(), (4, 5)),
    "LogSoftmax": (lambda: nn.LogSoftmax(), (4, 5)),
    "ResidualBlock": (lambda: nn.resnet(8, num_classes=3, in_channels=2, width=2,
                                        generator=_g()), (2, 2, 8, 8)),
    "lenet5": (lambda: nn.lenet5(generator=_g()), (2, 1, 28, 28)),
}


def _layer_run(name, backend, train=True):
    factory, shape = LAYERS[name]
    data = np.random.default_rng(1)
    x_host = data.standard_normal(shape).astype(np.float32)
    layer = factory().to(backend)
    layer.train(train)
    x = on(backend, x_host).requires_grad_()
    out = layer(x)
    cot = on(backend, data.standard_normal(out.shape).astype(np.float32))
    (out * cot).sum().backward()
    grads = {n: p.grad for n, p in layer.named_parameters()}
    return out, x.grad, grads, layer


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_forward_and_backward_agree(name, train, backend):
    ref = _layer_run(name, "numpy", train)
    got = _layer_run(name, backend, train)
    close(got[0].data, ref[0].data, f"{name} output")
    assert got[0].backend == backend and got[1].backend == backend
    close(got[1].data, ref[1].data, f"{name} input gradient")
    for k in ref[2]:
        assert got[2][k].backend == backend, f"{name}.{k}.grad not on {backend}"
        close(got[2][k].data, ref[2][k].data, f"{name}.{k} gradient")
    for k, b in ref[3].named_buffers():           # running statistics of batch norm
        close(dict(got[3].named_buffers())[k].data, b.data, f"{name} buffer {k}")
    assert_on(backend, got[3].named_buffers(), name)


def test_dropout_runs_on_the_device_with_the_device_generator(backend):
    layer = nn.Dropout(0.5).to(backend)
    x = on(backend, np.ones((50, 40), np.float32)).requires_grad_()
    y = layer(x)
    y.sum().backward()
    kept = mg.backend.to_numpy(y.data) != 0
    assert y.backend == backend and 0.35 < kept.mean() < 0.65
    np.testing.assert_array_equal(mg.backend.to_numpy(x.grad.data), 2.0 * kept)


# --------------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": dict(lr=1e-2, amsgrad=True),
    "adamw": dict(lr=1e-2, weight_decay=0.1),
    "rmsprop": dict(lr=1e-2, momentum=0.5, centered=True),
    "adagrad": dict(lr=0.1),
}


def _optimizer_run(name, backend):
    model = nn.mlp([4, 6, 3], "tanh", generator=np.random.default_rng(2)).to(backend)
    opt = optim.make_optimizer(name, model.parameters(), **OPTIMIZERS[name])
    sched = optim.CosineAnnealingLR(opt, 5)
    data = np.random.default_rng(3)
    x = on(backend, data.standard_normal((5, 4)).astype(np.float32))
    y = on(backend, np.arange(5) % 3)
    for _ in range(3):
        opt.zero_grad()
        mg.cross_entropy(model(x), y).backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    return model, opt


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_agree(name, backend):
    ref, _ = _optimizer_run(name, "numpy")
    got, opt = _optimizer_run(name, backend)
    for (k, p), (_, q) in zip(ref.named_parameters(), got.named_parameters()):
        assert q.backend == backend
        close(q.data, p.data, f"{name}: {k}")
    state = opt.state_dict()
    restored = optim.make_optimizer(name, got.parameters(), **OPTIMIZERS[name])
    restored.load_state_dict(copy.deepcopy(state))    # a GPU optimizer's state reloads


# --------------------------------------------------------------------------------
# learning rules
# --------------------------------------------------------------------------------
def _mlp():
    return nn.mlp([5, 7, 6, 3], "tanh", generator=np.random.default_rng(0))


def _relu_mlp():
    return nn.mlp([5, 7, 6, 3], "relu", generator=np.random.default_rng(0))


def _single():
    return nn.Sequential(nn.Linear(5, 3, generator=np.random.default_rng(0)))


def _convnet():
    g = np.random.default_rng(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, generator=g), nn.Tanh(),
                         nn.MaxPool2d(2), nn.Conv2d(3, 4, 3, generator=g), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4, 5, generator=g), nn.Tanh(),
                         nn.Linear(5, 3, generator=g))


RULES = {
    "bp": (_mlp, {}), "shallow": (_mlp, {}),
    "delta": (_single, {}), "perceptron": (_single, {}),
    "fa": (_mlp, {}), "usf": (_mlp, {}), "frsf": (_mlp, {}), "brsf": (_mlp, {}),
    "kp": (_mlp, {}), "dfa": (_mlp, {}), "pfa": (_mlp, {}),
    "ff": (_relu_mlp, {}), "mono_forward": (_relu_mlp, {}), "local_ce": (_mlp, {}),
    "pepita": (_relu_mlp, {}),
    "forward_gradient": (_mlp, {}), "activity_forward_gradient": (_mlp, {}),
    "spsa": (_mlp, {}), "node_perturbation": (_mlp, {}),
    "predictive_coding": (_mlp, {}),
    "binary_connect": (_mlp, {}), "straight_through": (_mlp, {}),
    "bp-conv": (_convnet, {}), "fa-conv": (_convnet, {}), "dfa-conv": (_convnet, {}),
    "usf-conv": (_convnet, {}),
}


def test_every_rule_has_a_parity_case():
    assert set(rules.available()) <= set(RULES)


def _rule_run(case, backend, steps=2):
    factory, options = RULES[case]
    name = case.removesuffix("-conv")
    model = factory().to(backend)
    rule = rules.make(name, model, seed=3, **options)
    opt = optim.SGD(list(model.parameters()) + list(rule.parameters()), lr=0.05, momentum=0.9)
    data = np.random.default_rng(4)
    shape = (6, 2, 6, 6) if case.endswith("-conv") else (6, 5)
    x = on(backend, data.standard_normal(shape).astype(np.float32))
    y = on(backend, np.arange(6) % 3)
    losses = [rule.step(x, y, opt)["loss"] for _ in range(steps)]
    with mg.no_grad():
        prediction = rule.predict(x)
    return model, rule, losses, prediction


@pytest.mark.parametrize("case", sorted(RULES))
def test_rule_steps_agree(case, backend):
    ref_model, ref_rule, ref_losses, ref_pred = _rule_run(case, "numpy")
    model, rule, losses, pred = _rule_run(case, backend)
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL, atol=ATOL)
    assert pred.backend == backend
    close(pred.data, ref_pred.data, f"{case}: prediction")
    assert_on(backend, model.named_parameters(), case)
    assert_on(backend, rule.named_parameters() if hasattr(rule, "named_parameters") else
              [(str(i), p) for i, p in enumerate(rule.parameters())], f"{case} rule state")
    for (k, p), (_, q) in zip(ref_model.named_parameters(), model.named_parameters()):
        close(q.data, p.data, f"{case}: {k}")
    for i, (p, q) in enumerate(zip(ref_rule.parameters(), rule.parameters())):
        close(q.data, p.data, f"{case}: rule parameter {i}")
    state = copy.deepcopy(rule.state_dict())        # a GPU rule checkpoints and resumes
    rule.load_state_dict(state)


def test_rule_and_optimizer_follow_a_model_moved_between_steps(backend):
    """A step on NumPy, ``model.to(backend)``, a second step: the rule's
    feedback matrices and the optimizer's momentum follow the model, and the
    result is that of two steps on NumPy."""
    def run(move_to):
        model = _mlp()
        rule = rules.make("kp", model, seed=3)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x = np.random.default_rng(4).standard_normal((6, 5)).astype(np.float32)
        rule.step(mg.tensor(x), mg.tensor(np.arange(6) % 3), opt)
        model.to(move_to)
        rule.step(on(move_to, x), on(move_to, np.arange(6) % 3), opt)
        return model, rule, opt

    ref_model, ref_rule, _ = run("numpy")
    model, rule, opt = run(backend)
    assert rule.backend == backend
    assert all(mg.backend.backend_of(b) == backend for b in rule.feedback.values())
    assert all(mg.backend.backend_of(v) == backend for s in opt.state.values()
               for v in s.values() if hasattr(v, "shape"))
    for (k, p), (_, q) in zip(ref_model.named_parameters(), model.named_parameters()):
        close(q.data, p.data, f"kp after the move: {k}")
    for k in ref_rule.feedback:
        close(rule.feedback[k], ref_rule.feedback[k], f"kp feedback {k}")
    rule.to("numpy")
    assert all(isinstance(b, np.ndarray) for b in rule.feedback.values())


# --------------------------------------------------------------------------------
# data and files
# --------------------------------------------------------------------------------
class _CountingDataset(mg.data.Dataset):
    gathers = 0

    def __getitem__(self, index):
        type(self).gathers += 1
        return super().__getitem__(index)


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "in-order"])
@pytest.mark.parametrize("preload", ["auto", True, False])
def test_dataloader_batches_agree_and_live_on_the_device(backend, preload, shuffle):
    data = np.random.default_rng(6)
    ds = _CountingDataset(data.standard_normal((23, 4)), np.arange(23) % 5)
    ref = _second_epoch(ds, shuffle)
    _CountingDataset.gathers = 0
    loader = mg.data.DataLoader(ds, 8, shuffle=shuffle, seed=1, backend=backend,
                                preload=preload)
    for _ in range(2):                                  # the second epoch reuses the copy
        got = list(loader)
    on_device = backend != "numpy" and preload is not False
    assert loader.preloaded() == on_device
    assert _CountingDataset.gathers == (0 if on_device else 6)
    assert len(got) == len(ref) == 3
    for (x, y), (rx, ry) in zip(got, ref):
        assert x.backend == y.backend == backend
        assert x.dtype == rx.dtype and y.dtype == ry.dtype
        close(x.data, rx.data, "batch inputs")
        np.testing.assert_array_equal(mg.backend.to_numpy(y.data), ry.numpy())


def _second_epoch(ds, shuffle):
    loader = mg.data.DataLoader(ds, 8, shuffle=shuffle, seed=1, backend="numpy")
    list(loader)
    return list(loader)


def test_preload_refuses_a_bad_value():
    with pytest.raises(mg.ArgumentError, match="preload must be 'auto', True or False"):
        mg.data.DataLoader(mg.data.Dataset(np.ones((2, 1)), np.ones(2)), preload="yes")


def test_a_device_model_saves_host_arrays_and_loads_on_either_backend(backend, tmp_path):
    model = nn.lenet5(generator=np.random.default_rng(0)).to(backend)
    mg.save(model.state_dict(), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert len(f.files) > 0                      # plain host arrays, no pickles
    for target in ("numpy", backend):
        state = mg.load(tmp_path / "m.npz", backend=target)
        fresh = nn.lenet5(generator=np.random.default_rng(9)).to(target)
        fresh.load_state_dict(state)
        for (k, p), (_, q) in zip(model.named_parameters(), fresh.named_parameters()):
            assert q.backend == target
            np.testing.assert_array_equal(mg.backend.to_numpy(q.data),
                                          mg.backend.to_numpy(p.data), err_msg=k)


# --------------------------------------------------------------------------------
# function transforms, inspection and a training run
# --------------------------------------------------------------------------------
def _f(w, x):
    return (mg.tanh(x @ w) ** 2).sum() + (w * w).sum() * 0.1


def _transforms(backend):
    data = np.random.default_rng(8)
    w = on(backend, data.standard_normal((4, 3)).astype(np.float32))
    x = on(backend, data.standard_normal((5, 4)).astype(np.float32))
    v = on(backend, data.standard_normal((4, 3)).astype(np.float32))
    F = mg.functional
    out = {"grad": F.grad(_f)(w, x),
           "jvp": F.jvp(lambda w: _f(w, x), (w,), (v,))[1],
           "vjp": F.vjp(lambda w: mg.tanh(x @ w), w)[1](on(backend, np.ones((5, 3),
                                                                            np.float32)))[0],
           "hvp": F.hvp(lambda w: _f(w, x), (w,), (v,)),
           "hessian": F.hessian(lambda w: _f(w, x))(w),
           "jacobian-fwd": F.jacobian(lambda w: mg.tanh(x @ w), mode="fwd")(w),
           "jacobian-rev": F.jacobian(lambda w: mg.tanh(x @ w), mode="rev")(w)}
    return {k: (v[0] if isinstance(v, tuple) else v) for k, v in out.items()}


def test_function_transforms_agree(backend):
    ref, got = _transforms("numpy"), _transforms(backend)
    for k in ref:
        assert got[k].backend == backend, k
        close(got[k].data, ref[k].data, k)


def _alignment(backend):
    model = _mlp().to(backend)
    data = np.random.default_rng(9)
    x = on(backend, data.standard_normal((8, 5)).astype(np.float32))
    y = on(backend, np.arange(8) % 3)
    report = mg.inspect.alignment_report(rules.make("fa", model, seed=2), x, y)
    stats = mg.inspect.estimator_statistics(rules.make("forward_gradient", model, seed=2),
                                            x, y, draws=4)
    return report, stats


def test_alignment_angles_and_estimator_statistics_agree(backend):
    (ref_report, ref_stats), (report, stats) = _alignment("numpy"), _alignment(backend)
    assert len(_numbers(report)) > 30
    assert _numbers(report) == pytest.approx(_numbers(ref_report), rel=1e-3, abs=1e-3)
    assert _numbers(stats) == pytest.approx(_numbers(ref_stats), rel=1e-3, abs=1e-4)


def _numbers(obj):
    """Every float in a nested report (dicts, lists, dataclasses), in order."""
    if hasattr(obj, "__dataclass_fields__"):
        obj = vars(obj)
    if isinstance(obj, dict):
        return [n for k in sorted(obj, key=str) for n in _numbers(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [n for v in obj for n in _numbers(v)]
    if isinstance(obj, (int, float, np.number)) and not isinstance(obj, bool):
        return [float(obj)]
    return []


def test_a_training_run_agrees_and_resumes_on_the_device(backend, tmp_path):
    from minigrad.train import Run, TrainConfig

    def config():
        return TrainConfig(data="digits", hidden=(16,), epochs=2, batch_size=64,
                           train_subset=256, rule="dfa", backend=backend)

    ref = Run(TrainConfig(**{**vars(config()), "backend": "numpy"}), progress=False,
              log=lambda *a: None)
    ref.run_epochs()
    run = Run(TrainConfig(**{**vars(config()), "epochs": 1}), out=tmp_path,
              progress=False, log=lambda *a: None)
    run.run_epochs()
    resumed = Run.resume(tmp_path, epochs=2, progress=False, log=lambda *a: None)
    resumed.run_epochs()
    assert_on(backend, resumed.model.named_parameters(), "resumed run")
    for key in ("train_loss", "test_loss", "test_accuracy"):
        assert resumed.metrics[-1][key] == pytest.approx(ref.metrics[-1][key], rel=1e-3), key


def test_a_resumed_run_with_dropout_draws_what_an_uninterrupted_one_does(backend, tmp_path):
    """CuPy's generator state cannot be saved, so every epoch reseeds it
    from (seed, epoch): stopping after an epoch and resuming changes nothing."""
    from minigrad.train import Run, TrainConfig

    def config(epochs):
        return TrainConfig(data="digits", hidden=(16,), epochs=epochs, batch_size=64,
                           train_subset=256, dropout=0.3, backend=backend)

    straight = Run(config(2), progress=False, log=lambda *a: None)
    straight.run_epochs()
    Run(config(1), out=tmp_path, progress=False, log=lambda *a: None).run_epochs()
    resumed = Run.resume(tmp_path, epochs=2, progress=False, log=lambda *a: None)
    resumed.run_epochs()
    for (k, p), (_, q) in zip(straight.model.named_parameters(),
                              resumed.model.named_parameters()):
        np.testing.assert_array_equal(mg.backend.to_numpy(q.data),
                                      mg.backend.to_numpy(p.data), err_msg=k)


def test_the_cupy_generator_state_error_says_what_to_do_instead(backend):
    if backend == "numpy":
        assert isinstance(mg.backend.get_rng_state("numpy"), dict)
        return
    with pytest.raises(mg.BackendError, match="cannot be read or restored.*reseed"):
        mg.backend.get_rng_state("cupy")
    mg.backend.reseed("cupy", [1, 2])
    a = mg.randn(3, backend="cupy").numpy()
    mg.backend.reseed("cupy", [1, 2])
    np.testing.assert_array_equal(mg.randn(3, backend="cupy").numpy(), a)
