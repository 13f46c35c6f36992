"""Local learning rules: Mono-Forward's projections and goodness, local
classifier heads (greedy layer-wise and deeply supervised), locality, the
backprop limit, the rule's own parameters, errors, digits."""
import json

import numpy as np
import pytest

import minigrad as mg
from minigrad import cli, nn, rules
from minigrad.inspect.alignment import update_alignment
from minigrad.rules.base import chain_blocks
from minigrad.train import Run, TrainConfig
from tests.rules.conftest import assert_same_updates, batch, convnet, digits_accuracy, mlp

# (rule, hyper-parameters) of the local variants: blocks cut from each other
LOCAL = [("mono_forward", {}), ("local_ce", {}), ("local_ce", {"head": "mlp", "hidden": 4})]
LOCAL_IDS = ["mono_forward", "local_ce-linear", "local_ce-mlp"]
MODELS = [(mlp, (5,)), (lambda seed=0: _shaped_convnet(seed), (2, 6, 6))]
MODEL_IDS = ["mlp", "convnet"]


def _shaped_convnet(seed=0):
    model = convnet(seed)
    model.input_shape = (2, 6, 6)
    return model


def _layer_of(param_name):
    """The layer a parameter belongs to: "3.weight" -> "3", "rule.3.0.bias" -> "3"."""
    parts = param_name.split(".")
    return parts[1] if parts[0] == "rule" else parts[0]


def _perturb(rule, layers, heads, rng):
    """Add noise to the weights of ``layers`` and of the classifiers of ``heads``."""
    for name, p in [*rule.model.named_parameters(), *rule.named_parameters()]:
        if _layer_of(name) in (heads if name.startswith("rule.") else layers):
            p.data = p.data + 0.3 * rng.standard_normal(p.shape)


def test_both_rules_are_listed_with_their_papers():
    listed = rules.available()
    assert "Gong et al. 2025" in listed["mono_forward"]
    assert "Deeply-Supervised Nets" in listed["local_ce"]
    assert "Belilovsky" in listed["local_ce"]


# -- locality ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make_model,shape", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize("name,opts", LOCAL, ids=LOCAL_IDS)
def test_a_blocks_update_depends_only_on_its_input_weights_and_classifier(
        name, opts, make_model, shape, rng, f64):
    x, y = batch(rng, shape=shape)
    model = make_model()
    rule = rules.make(name, model, seed=3, **opts)
    ups = rule.updates(x, y)
    _, blocks = chain_blocks(name, model)
    layers = [b[0] for b in blocks]
    assert {_layer_of(k) for k in ups} == set(layers)
    for i, layer in enumerate(layers):
        own = [k for k in ups if _layer_of(k) == layer]
        # the layers after it and every other block's classifier: no effect at all
        other = rules.make(name, make_model(), seed=3, **opts)
        _perturb(other, set(layers[i + 1:]), set(layers) - {layer}, np.random.default_rng(i))
        moved = other.updates(x, y)
        assert not np.array_equal(moved[f"{layers[-1]}.weight"], ups[f"{layers[-1]}.weight"]) \
            or i == len(layers) - 1                   # (the perturbation did change things)
        for k in own:
            np.testing.assert_array_equal(moved[k], ups[k], err_msg=k)
        if i == 0:
            continue
        # a layer before it changes its input, hence its update
        earlier = rules.make(name, make_model(), seed=3, **opts)
        _perturb(earlier, set(layers[:i]), set(), np.random.default_rng(i))
        changed = earlier.updates(x, y)
        assert not np.allclose(changed[f"{layer}.weight"], ups[f"{layer}.weight"])


@pytest.mark.parametrize("make_model,shape", MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize("name,opts", LOCAL, ids=LOCAL_IDS)
def test_same_input_same_update_the_block_alone_gives_it(name, opts, make_model, shape, rng,
                                                          f64):
    """Block i with its classifier, fed the input the chain gave it, cut from
    everything else, reproduces the rule's update for block i."""
    x, y = batch(rng, shape=shape)
    model = make_model()
    rule = rules.make(name, model, seed=3, **opts)
    ups = rule.updates(x, y)
    prefix, blocks = chain_blocks(name, model)
    h = mg.tensor(x.numpy())
    for m in prefix:
        h = m(h)
    for i, (layer_name, layer, after) in enumerate(blocks):
        inp = mg.tensor(h.numpy())                    # the same input, a fresh leaf
        a = inp
        for m in [layer, *after]:
            a = m(a)
        params = [(f"{layer_name}.{k}", p) for k, p in layer.named_parameters()]
        if i < len(blocks) - 1:
            classifier = getattr(rule.local, layer_name)
            params += [(f"rule.{layer_name}.{k}", p) for k, p in classifier.named_parameters()]
            loss = mg.cross_entropy(classifier(a.flatten(1)), y)
        else:
            loss = mg.cross_entropy(a, y)             # the output layer: the task loss
        grads = mg.autograd.grad(loss, [p for _, p in params])
        for (k, _), g in zip(params, grads):
            np.testing.assert_allclose(ups[k], g.numpy(), rtol=1e-12, atol=1e-14, err_msg=k)
        h = a


# -- Mono-Forward's equations -----------------------------------------------------------------


def test_mono_forward_goodness_projection_update_and_signal(rng, f64):
    """Gᵢ = aᵢ Mᵢᵀ; ΔMᵢ = (softmax(Gᵢ) − Y)ᵀ aᵢ / N; δᵢ = ((softmax(Gᵢ) − Y) Mᵢ / N) ⊙ f′(zᵢ)."""
    x, y = batch(rng)
    model = mlp()
    rule = rules.make("mono_forward", model)
    ups = rule.updates(x, y)
    assert [n for n, _ in rule.named_parameters()] == ["rule.1.weight", "rule.3.weight"]
    xn, n = x.numpy(), len(y)
    z1 = xn @ model[1].weight.numpy().T + model[1].bias.numpy()
    z3 = np.tanh(z1) @ model[3].weight.numpy().T + model[3].bias.numpy()
    onehot = np.eye(3)[y]
    for layer, z in (("1", z1), ("3", z3)):
        a, m = np.tanh(z), getattr(rule.local, layer).weight.numpy()
        g = a @ m.T
        p = np.exp(g - g.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        np.testing.assert_allclose(ups[f"rule.{layer}.weight"], (p - onehot).T @ a / n,
                                   atol=1e-12)
        delta = ((p - onehot) @ m / n) * (1 - a ** 2)
        np.testing.assert_allclose(rule.last_signals[layer], delta, atol=1e-12)
        np.testing.assert_allclose(rule.last_local_losses[layer],
                                   -np.log(p[np.arange(n), y]).mean(), rtol=1e-12)
    # the output layer: the task loss on its (detached) input, as backprop's last layer
    bp = rules.make("bp", model).updates(x, y)
    assert_same_updates({k: ups[k] for k in ("5.weight", "5.bias")},
                        {k: bp[k] for k in ("5.weight", "5.bias")})
    assert rule.last_loss == pytest.approx(float(mg.cross_entropy(model(x), y).item()))
    assert rule.measures()["local_loss"] == pytest.approx(sum(rule.last_local_losses.values()))


def test_mono_forward_on_conv_nets_projects_the_flattened_block_output(rng, f64):
    x, y = batch(rng, shape=(2, 6, 6))
    model = convnet()
    rule = rules.make("mono_forward", model, input_shape=(2, 6, 6))
    # 3 maps of 3×3 after pooling; 4 maps of 1×1, flattened; 5 units
    assert [(n, p.shape) for n, p in rule.named_parameters()] == [
        ("rule.0.weight", (3, 27)), ("rule.3.weight", (3, 4)), ("rule.6.weight", (3, 5))]
    ups = rule.updates(x, y)
    assert set(ups) == {n for n, _ in model.named_parameters()} | \
        {n for n, _ in rule.named_parameters()}
    assert set(rule.last_signals) == {"0", "3", "6", "8"}
    assert rule.last_signals["0"].shape == (6, 3, 6, 6)
    angles = update_alignment(rule, model, x, y)
    assert angles["8.weight"]["angle"] == pytest.approx(0, abs=1e-6)   # the output layer
    assert set(angles) == {n for n, _ in model.named_parameters()}
    lenet = rules.make("mono_forward", nn.lenet5(generator=np.random.default_rng(0)))
    assert [p.shape for p in lenet.parameters()] == [(10, 6 * 14 * 14), (10, 400), (10, 120),
                                                     (10, 84)]


def test_mono_forward_predicts_from_the_output_or_from_the_goodness(rng, f64):
    x, y = batch(rng)
    model = mlp()
    out = rules.make("mono_forward", model)
    np.testing.assert_array_equal(out.predict(x).numpy(), model(x).numpy())
    last = rules.make("mono_forward", model, predict="goodness")
    a3 = model[4](model[3](model[2](model[1](model[0](x)))))
    g3 = a3.numpy() @ getattr(last.local, "3").weight.numpy().T
    np.testing.assert_allclose(last.predict(x).numpy(), g3, atol=1e-12)
    last.updates(x, y)
    np.testing.assert_allclose(last.last_output.numpy(), g3, atol=1e-12)
    total = rules.make("mono_forward", model, predict="goodness_sum")
    a1 = model[2](model[1](model[0](x)))
    g1 = a1.numpy() @ getattr(total.local, "1").weight.numpy().T
    np.testing.assert_allclose(total.predict(x).numpy(), g1 + g3, atol=1e-12)


# -- local heads: the deeply supervised limit -------------------------------------------------


@pytest.mark.parametrize("make_model,shape", MODELS, ids=MODEL_IDS)
def test_local_ce_with_zero_aux_weight_and_no_detaching_is_backprop(make_model, shape, rng, f64):
    x, y = batch(rng, shape=shape)
    model = make_model()
    rule = rules.make("local_ce", model, detach=False, aux_weight=0.0)
    ups = rule.updates(x, y)
    bp = rules.make("bp", model)
    grads = bp.updates(x, y)
    assert_same_updates({k: v for k, v in ups.items() if not k.startswith("rule.")}, grads,
                        rtol=0, atol=1e-15)
    heads = [k for k in ups if k.startswith("rule.")]
    assert heads and all(not np.any(ups[k]) for k in heads)       # exactly zero
    assert rule.last_signals.keys() == bp.last_signals.keys()
    for k in bp.last_signals:
        np.testing.assert_allclose(rule.last_signals[k], bp.last_signals[k], atol=1e-15)
    assert rule.last_loss == pytest.approx(bp.last_loss)
    # with a weight the heads' errors join backprop's in every hidden layer
    dsn = rules.make("local_ce", model, detach=False, aux_weight=0.5).updates(x, y)
    first = chain_blocks("x", model)[1][0][0]
    assert not np.allclose(dsn[f"{first}.weight"], grads[f"{first}.weight"])
    np.testing.assert_allclose(dsn[list(grads)[-1]], grads[list(grads)[-1]], atol=1e-15)


def test_deep_supervision_adds_the_weighted_head_losses(rng, f64):
    x, y = batch(rng)
    model = mlp()
    rule = rules.make("local_ce", model, detach=False, aux_weight=0.7)
    ups = rule.updates(x, y)
    h1 = model[2](model[1](model[0](x)))
    h3 = model[4](model[3](h1))
    total = mg.cross_entropy(model[5](h3), y) + 0.7 * (
        mg.cross_entropy(getattr(rule.local, "1")(h1), y)
        + mg.cross_entropy(getattr(rule.local, "3")(h3), y))
    names, params = zip(*[*model.named_parameters(), *rule.named_parameters()])
    for k, g in zip(names, mg.autograd.grad(total, list(params))):
        np.testing.assert_allclose(ups[k], g.numpy(), rtol=1e-12, atol=1e-15, err_msg=k)


# -- the rule's own parameters ----------------------------------------------------------------


@pytest.mark.parametrize("name,opts", LOCAL + [("local_ce", {"detach": False})],
                         ids=LOCAL_IDS + ["local_ce-dsn"])
def test_classifiers_learn_through_step_and_round_trip(name, opts, rng, tmp_path, f64):
    x, y = batch(rng)
    model = mlp()
    rule = rules.make(name, model, seed=2, **opts)
    with pytest.raises(mg.ArgumentError, match="learns parameters of its own"):
        rule.step(x, y, mg.optim.SGD(model.parameters(), lr=0.1))
    own = {k: p.numpy().copy() for k, p in rule.named_parameters()}
    ups = rule.updates(x, y)
    stats = rule.step(x, y, mg.optim.SGD(list(model.parameters()) + list(rule.parameters()),
                                         lr=0.1))
    assert stats["loss"] == pytest.approx(rule.last_loss) and stats["local_loss"] > 0
    for k, p in rule.named_parameters():
        np.testing.assert_allclose(p.numpy(), own[k] - 0.1 * ups[k], atol=1e-14)
        assert not np.array_equal(p.numpy(), own[k])
    mg.save(rule.state_dict(), tmp_path / "rule.npz")
    other = rules.make(name, mlp(), seed=9, **opts)
    other.load_state_dict(mg.load(tmp_path / "rule.npz"))
    assert other.steps == 1
    for (k, p), (_, q) in zip(rule.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)


def test_classifiers_are_seeded_by_the_rule(f64):
    a, b = rules.make("local_ce", mlp(), seed=1), rules.make("local_ce", mlp(), seed=1)
    c = rules.make("local_ce", mlp(), seed=2)
    pa, pb, pc = ([p.numpy() for p in r.parameters()] for r in (a, b, c))
    assert all(np.array_equal(u, v) for u, v in zip(pa, pb))
    assert not np.array_equal(pa[0], pc[0])


def test_sizing_runs_do_not_touch_dropout_or_batch_norm_state(f64):
    g = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(5, 4, generator=g), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Dropout(0.5, generator=np.random.default_rng(1)),
                          nn.Linear(4, 3, generator=g))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    dropout_state = model[3].generator.bit_generator.state
    rules.make("mono_forward", model)
    assert model.training and model[1].training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    assert model[3].generator.bit_generator.state == dropout_state     # no mask drawn


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,opts,message", [
    ("local_ce", {"aux_weight": -0.5}, r"aux_weight must be a number >= 0, got -0.5"),
    ("local_ce", {"aux_weight": float("nan")}, r"aux_weight must be a number >= 0"),
    ("local_ce", {"head": "conv"}, r"unknown head 'conv'; choose one of linear, mlp"),
    ("local_ce", {"head": "mlp", "hidden": 0}, r"hidden \(the hidden size of an mlp head\) "
                                               r"must be an integer >= 1, got 0"),
    ("local_ce", {"detach": "no"}, r"detach must be true or false, got 'no'"),
    ("local_ce", {"depth": 2}, r"unknown hyper-parameter\(s\) depth; valid: detach"),
    ("mono_forward", {"predict": "vote"}, r"predict must be one of output, goodness, "
                                          r"goodness_sum; got 'vote'"),
    ("mono_forward", {"input_shape": (0, 3)}, r"input_shape must be the shape of one example"),
    ("mono_forward", {"lr": 1}, r"unknown hyper-parameter\(s\) lr; valid: predict"),
])
def test_hyper_parameters_out_of_range(name, opts, message):
    with pytest.raises(mg.ArgumentError, match=message):
        rules.make(name, mlp(), **opts)


@pytest.mark.parametrize("name", ["mono_forward", "local_ce"])
def test_models_the_rules_cannot_train(name):
    with pytest.raises(mg.ArgumentError, match=rf"{name!r} cannot train a model with "
                                               r"ResidualBlock \(layer '3'\)"):
        rules.make(name, nn.resnet(8, width=2))
    nested = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3)), nn.Tanh(),
                           nn.Linear(3, 2))
    with pytest.raises(mg.ArgumentError, match=rf"{name!r} cannot train layer '1' \(Sequential\)"):
        rules.make(name, nested)
    with pytest.raises(mg.ArgumentError, match=r"pass input_shape=\(channels, height, width\)"):
        rules.make(name, convnet())
    with pytest.raises(mg.ArgumentError, match=r"cannot run on inputs of shape \(2, 5, 5\)"):
        rules.make(name, convnet(), input_shape=(2, 5, 5))
    with pytest.raises(mg.ArgumentError, match="local cross-entropy on class labels"):
        rules.make(name, mlp(), loss="mse")


def test_goodness_prediction_needs_a_hidden_layer():
    with pytest.raises(mg.ArgumentError, match=r"the model has none \(one layer, '1'\)"):
        rules.make("mono_forward", nn.mlp([4, 3]), predict="goodness")
    assert rules.make("mono_forward", nn.mlp([4, 3])).local is not None


# -- learning ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shallow_accuracy():
    return digits_accuracy("shallow")


# seen (seed 0): shallow 0.858, bp 0.967; mono_forward 0.972 (0.972 from the last goodness,
# 0.975 from the summed goodness); local_ce 0.975, mlp heads 0.978, detach=False 0.975
@pytest.mark.parametrize("name,opts", [
    ("mono_forward", {}), ("mono_forward", {"predict": "goodness"}), ("local_ce", {}),
    ("local_ce", {"head": "mlp", "hidden": 32}), ("local_ce", {"detach": False})],
    ids=["mono_forward", "mono_forward-goodness", "local_ce", "local_ce-mlp", "local_ce-dsn"])
def test_rule_beats_the_shallow_control_on_digits(name, opts, shallow_accuracy):
    acc = digits_accuracy(name, **opts)
    assert acc > shallow_accuracy + 0.05, (name, acc, shallow_accuracy)
    assert acc > 0.93


@pytest.mark.parametrize("rule,extra", [
    ("mono_forward", []), ("local_ce", ["--rule-opt", "detach=false", "--rule-opt", "head=mlp"])])
def test_the_rules_train_from_the_command_line(rule, extra, tmp_path, capsys):
    rc = cli.main(["train", "--rule", rule, "--epochs", "2", "--hidden", "32,32",
                   "--out", str(tmp_path), "--no-progress"] + extra)
    assert rc == 0, capsys.readouterr().err
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["test_accuracy"] > 0.9
    state = mg.load(tmp_path / "checkpoint.npz")
    assert state["config"]["rule"] == rule
    assert any(k.startswith("1.") for k in state["rule"]["local"])


def test_resume_restores_the_classifiers_and_their_optimizer_state(tmp_path):
    cfg = TrainConfig(epochs=2, hidden=(16, 16), rule="mono_forward", seed=4, train_subset=300)
    straight = Run(cfg, None, progress=False, log=lambda s: None)     # writes nothing
    straight.run_epochs()
    interrupted = Run(cfg, None, progress=False, log=lambda s: None)
    interrupted.run_epoch()
    mg.save(interrupted.checkpoint(), tmp_path / "checkpoint.npz")
    resumed = Run.resume(tmp_path, progress=False, log=lambda s: None)
    resumed.run_epochs()
    for (k, p), (_, q) in zip([*straight.model.named_parameters(),
                               *straight.rule.named_parameters()],
                              [*resumed.model.named_parameters(),
                               *resumed.rule.named_parameters()]):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)
