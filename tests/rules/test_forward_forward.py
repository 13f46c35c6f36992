"""Forward-Forward: the per-layer loss against a torch transcription of the
paper's equations, no gradient between layers, goodness rising on positive
and falling on negative data, the label scan, negative labels, hybrid
images, collaborative FF, peer normalisation, errors, and learning."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn, rules
from minigrad.inspect import update_alignment
from minigrad.rules.forward_forward import hybrid_images, layer_param_groups, negative_labels
from tests.rules.conftest import batch, convnet, mlp


def relu_mlp(sizes=(5, 7, 6, 3), seed=0):
    return mlp(seed, sizes, "relu")


# --------------------------------------------------------------------------
# The updates are the gradients of the paper's per-layer losses
# --------------------------------------------------------------------------


def torch_ff_updates(model, x, y, wrong, value, collaborative=False):
    """The paper's equations in torch: sum-of-squares goodness, θₗ = width,
    softplus losses, detached length-normalised inputs, read-out on the
    neutral label. Returns {param name: gradient}."""
    params = {n: torch.tensor(p.numpy(), requires_grad=True) for n, p in model.named_parameters()}
    x0 = torch.tensor(x.numpy().reshape(len(y), -1))
    c = model[5].out_features

    def overlay(labels):
        z = x0.clone()
        z[:, :c] = 0 if labels is not None else value / c
        if labels is not None:
            z[torch.arange(len(z)), torch.tensor(labels)] = value
        return z

    n = len(y)
    h = torch.cat([overlay(y), overlay(wrong), overlay(None)])
    goods, thetas = [], []
    for name in ("1", "3"):
        a = torch.relu(h @ params[f"{name}.weight"].T + params[f"{name}.bias"])
        goods.append((a ** 2).sum(1))
        thetas.append(a.shape[1])
        h = (a / (a.pow(2).mean(1, keepdim=True).sqrt() + 1e-8)).detach()
    total = 0
    for i in range(2):
        g, theta = goods[i], thetas[i]
        if collaborative:
            g = g + goods[1 - i].detach()
            theta = sum(thetas)
        sp = torch.nn.functional.softplus
        total = total + sp(-(g[:n] - theta)).mean() + sp(g[n:2 * n] - theta).mean()
    logits = h[2 * n:] @ params["5.weight"].T + params["5.bias"]
    total = total + torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    total.backward()
    return {k: p.grad.numpy() for k, p in params.items()}, float(total.detach())


@pytest.mark.parametrize("collaborative", [False, True])
def test_updates_are_the_gradients_of_the_per_layer_losses(rng, f64, collaborative):
    model = relu_mlp()
    x, y = batch(rng)
    rule = rules.make("ff", model, seed=3, collaborative=collaborative)
    ups = rule.updates(x, y)
    wrong = rule.last_negative_labels
    assert rule.label_scale == pytest.approx(float(x.numpy().max()))
    want, loss = torch_ff_updates(model, x, y, wrong, rule.label_scale, collaborative)
    assert set(ups) == set(want)
    for k in want:
        np.testing.assert_allclose(ups[k], want[k], rtol=1e-9, atol=1e-12, err_msg=k)
    assert rule.last_loss == pytest.approx(loss)
    assert rule.last_output.shape == (6, 3)             # the read-out's logits
    assert set(rule.last_signals) == {"1", "3"}         # ∂Lₗ/∂(layer output)


def test_no_gradient_flows_between_layers(rng, f64):
    model = relu_mlp()
    x, y = batch(rng)
    before = rules.make("ff", model, seed=1).updates(x, y)
    model[3].weight.data[...] = rng.standard_normal(model[3].weight.shape)   # layer 2 changes
    after = rules.make("ff", model, seed=1).updates(x, y)
    for k in ("1.weight", "1.bias"):
        np.testing.assert_array_equal(after[k], before[k])
    assert not np.allclose(after["3.weight"], before["3.weight"])


# --------------------------------------------------------------------------
# Positive and negative data
# --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2 ** 32 - 1), st.integers(1, 40))
def test_negative_labels_are_never_the_true_label(num_classes, seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, size=n)
    wrong = negative_labels(y, num_classes, rng)
    assert wrong.shape == y.shape
    assert np.all(wrong != y)
    assert np.all((0 <= wrong) & (wrong < num_classes))


def test_negative_labels_cover_every_wrong_label_and_the_rule_uses_them(rng):
    wrong = negative_labels(np.zeros(400, dtype=int), 4, np.random.default_rng(0))
    assert set(wrong.tolist()) == {1, 2, 3}
    x, y = batch(rng, n=30)
    rule = rules.make("ff", relu_mlp())
    rule.updates(x, y)
    assert np.all(rule.last_negative_labels != y)


def test_unsupervised_negatives_are_hybrids_of_two_different_images(rng):
    x = rng.standard_normal((16, 2, 10, 10))
    hybrids, masks, partner = hybrid_images(x, np.random.default_rng(0))
    assert set(np.unique(masks).tolist()) == {0.0, 1.0}           # binary, both values
    assert 0.2 < masks.mean() < 0.8
    assert np.all(partner != np.arange(16))                       # never mixed with itself
    assert sorted(partner.tolist()) == list(range(16))            # every image used once
    m = masks[:, None]
    np.testing.assert_allclose(hybrids, m * x + (1 - m) * x[partner])
    # blurring makes regions, not salt-and-pepper: most neighbours agree
    assert (masks[:, :, 1:] == masks[:, :, :-1]).mean() > 0.75


def test_unsupervised_variant_trains_the_layers_and_predicts_with_the_readout(rng):
    model = nn.mlp([2 * 6 * 6, 12, 10, 3], "relu", generator=np.random.default_rng(0))
    rule = rules.make("ff", model, variant="unsupervised")
    x, y = batch(rng, n=8, shape=(2, 6, 6))
    ups = rule.updates(x, y)
    assert set(ups) == {n for n, _ in model.named_parameters()}
    assert np.all(rule.last_partners != np.arange(8))
    assert rule.predict(x).shape == (8, 3)
    with pytest.raises(mg.ShapeError, match=r"needs a batch of at least 2 images .* \(6, 72\)"):
        rule.updates(mg.tensor(rng.standard_normal((6, 72))), y[:6])


# --------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------


def wired_network(c=4):
    """Layer 1: unit k fires 2 + x[c + k] when label k is overlaid (else 0),
    plus an always-on unit, so that after normalisation the *direction*
    still says how strongly; layer 2 sums the label units. The network
    prefers the label k with the largest x[c + k]."""
    d = 2 * c + 2
    model = nn.mlp([d, c + 1, 1, c], "relu")
    w1, b1 = np.zeros((c + 1, d)), np.zeros(c + 1)
    for k in range(c):
        w1[k, k], w1[k, c + k], b1[k] = 5.0, 1.0, -3.0
    b1[c] = 1.0
    w2 = np.zeros((1, c + 1))
    w2[0, :c] = 1.0
    model[1].weight.data[...], model[1].bias.data[...] = w1, b1
    model[3].weight.data[...], model[3].bias.data[...] = w2, 0.0
    return model


@pytest.mark.parametrize("goodness,pick", [("sum_squares", np.argmax),
                                           ("neg_sum_squares", np.argmin)])
def test_the_label_scan_picks_the_label_the_network_is_wired_to_prefer(rng, goodness, pick):
    model = wired_network()
    rule = rules.make("ff", model, label_value=1.0, goodness=goodness)
    x = rng.uniform(0, 1, size=(50, 10))
    scores = rule.predict(mg.tensor(x)).numpy()
    assert scores.shape == (50, 4)
    np.testing.assert_array_equal(scores.argmax(1), pick(x[:, 4:8], axis=1))


def test_the_scan_skips_the_first_layer_unless_collaborative():
    """Layer 1 prefers label 1 (a strong unit on its slot), layer 2 label 2
    (it reads a weak unit on slot 2, which normalisation makes count)."""
    model = nn.mlp([6, 3, 1, 4], "relu")
    w1 = np.zeros((3, 6))
    w1[0, 1], w1[2, 2] = 10.0, 1.0
    model[1].weight.data[...], model[1].bias.data[...] = w1, [0.0, 1.0, 0.0]
    model[3].weight.data[...], model[3].bias.data[...] = [[0.0, 0.0, 1.0]], 0.0
    x = mg.tensor(np.random.default_rng(0).uniform(0, 1, size=(5, 6)))
    plain = rules.make("ff", model, label_value=1.0).predict(x).numpy()
    np.testing.assert_array_equal(plain.argmax(1), 2)
    np.testing.assert_allclose(plain[:, 2], 1.5, rtol=1e-6)        # G₂ = (1·√3/√2)²
    collab = rules.make("ff", model, label_value=1.0, collaborative=True).predict(x).numpy()
    np.testing.assert_array_equal(collab.argmax(1), 1)              # G₁ + G₂ = 101


def test_the_readout_predicts_from_the_neutral_label(rng, f64):
    model = relu_mlp()
    rule = rules.make("ff", model, predict="readout", label_value=2.0)
    x, _ = batch(rng)
    z = x.numpy().copy()
    z[:, :3] = 2.0 / 3
    h1 = np.maximum(z @ model[1].weight.numpy().T + model[1].bias.numpy(), 0)
    h1 = h1 / (np.sqrt((h1 ** 2).mean(1, keepdims=True)) + 1e-8)
    h2 = np.maximum(h1 @ model[3].weight.numpy().T + model[3].bias.numpy(), 0)
    h2 = h2 / (np.sqrt((h2 ** 2).mean(1, keepdims=True)) + 1e-8)
    want = h2 @ model[5].weight.numpy().T + model[5].bias.numpy()
    np.testing.assert_allclose(rule.predict(x).numpy(), want, rtol=1e-10)
    # a rule that scans labels gives the same read-out when asked for it
    scan = rules.make("ff", model, label_value=2.0)
    assert scan.prediction == "goodness"
    np.testing.assert_allclose(scan.predict(x, prediction="readout").numpy(), want, rtol=1e-10)
    assert not np.allclose(scan.predict(x).numpy()[:, :3], want)
    with pytest.raises(mg.ArgumentError, match="prediction must be None or one of"):
        scan.predict(x, prediction="vote")


def test_with_three_hidden_layers_the_readout_reads_all_but_the_first(rng, f64):
    """Hinton's read-out: one linear map of the normalised activities of
    hidden layers 2 and 3 (neutral label), the model's last Linear reading
    layer 3 and a rule-owned matrix, zero at the start, reading layer 2."""
    model = relu_mlp(sizes=(5, 7, 6, 4, 3))
    rule = rules.make("ff", model, predict="readout", label_value=2.0)
    (name, extra), = rule.named_parameters()
    assert name == "rule.3.weight" and extra.shape == (3, 6)
    np.testing.assert_array_equal(extra.numpy(), 0)
    x, y = batch(rng)
    extra.data[...] = rng.standard_normal((3, 6))
    z = x.numpy().copy()
    z[:, :3] = 2.0 / 3
    hs = []
    for i in (1, 3, 5):
        z = np.maximum(z @ model[i].weight.numpy().T + model[i].bias.numpy(), 0)
        z = z / (np.sqrt((z ** 2).mean(1, keepdims=True)) + 1e-8)
        hs.append(z)
    want = hs[2] @ model[7].weight.numpy().T + model[7].bias.numpy() + hs[1] @ extra.numpy().T
    np.testing.assert_allclose(rule.predict(x).numpy(), want, rtol=1e-10)
    # it learns by the read-out's cross-entropy, and the optimizer must hold it
    ups = rule.updates(x, y)
    p = np.exp(want - want.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(p)), y] -= 1
    np.testing.assert_allclose(ups["rule.3.weight"], p.T @ hs[1] / len(p), rtol=1e-8)
    with pytest.raises(mg.ArgumentError, match="optimizer does not hold"):
        rule.step(x, y, mg.optim.SGD(model.parameters(), lr=0.1))
    rule.step(x, y, mg.optim.SGD(list(model.parameters()) + list(rule.parameters()), lr=0.1))


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------


def test_collaborative_differs_with_two_layers_and_is_plain_ff_with_one(rng, f64):
    x, y = batch(rng)
    model = relu_mlp()
    plain = rules.make("ff", model, seed=2).updates(x, y)
    collab = rules.make("ff", model, seed=2, collaborative=True).updates(x, y)
    assert not np.allclose(plain["1.weight"], collab["1.weight"])
    assert not np.allclose(plain["3.weight"], collab["3.weight"])
    np.testing.assert_array_equal(plain["5.weight"], collab["5.weight"])   # same read-out
    one = relu_mlp(sizes=(5, 7, 3))
    a = rules.make("ff", one, seed=2).updates(x, y)
    b = rules.make("ff", one, seed=2, collaborative=True).updates(x, y)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_peer_normalisation_changes_the_hidden_updates_only_when_on(rng, f64):
    x, y = batch(rng, n=12)
    model = relu_mlp()
    base = rules.make("ff", model, seed=2).updates(x, y)
    off = rules.make("ff", model, seed=2, peer_normalization=0.0).updates(x, y)
    on_rule = rules.make("ff", model, seed=2, peer_normalization=0.5)
    on = on_rule.updates(x, y)
    for k in base:
        np.testing.assert_array_equal(off[k], base[k])
    assert not np.allclose(on["1.weight"], base["1.weight"])
    np.testing.assert_array_equal(on["5.weight"], base["5.weight"])
    # r ← 0.9·r + 0.1·(mean positive activity), starting from 0
    z = x.numpy().copy()
    z[:, :3] = 0
    z[np.arange(12), y] = on_rule.label_scale
    a1 = np.maximum(z @ model[1].weight.numpy().T + model[1].bias.numpy(), 0)
    np.testing.assert_allclose(on_rule.running_means[0], 0.1 * a1.mean(0), rtol=1e-10)


def test_bounded_activations_get_a_threshold_they_can_cross():
    rule = rules.make("ff", mlp(sizes=(5, 8, 6, 3), act="tanh"))
    assert rule.thresholds == [4.0, 3.0]                    # half of the largest goodness
    assert rules.make("ff", relu_mlp(sizes=(5, 8, 6, 3))).thresholds == [8.0, 6.0]
    with pytest.raises(mg.ArgumentError, match=r"threshold 8 can never be crossed by layer "
                                               r"'1': its activation bounds the goodness by 8"):
        rules.make("ff", mlp(sizes=(5, 8, 6, 3), act="tanh"), threshold=8)


def test_layer_param_groups_give_each_layer_its_learning_rate():
    model = relu_mlp()
    groups = layer_param_groups(model, {"1": 0.5, "5": 0.01})
    opt = mg.optim.SGD(groups, lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1, 0.01]
    assert [len(g["params"]) for g in opt.param_groups] == [2, 2, 2]
    with pytest.raises(mg.ArgumentError, match="2 learning rates for 3 layers"):
        layer_param_groups(model, [0.1, 0.2])


def test_update_alignment_runs_on_ff(rng, f64):
    model = relu_mlp()
    x, y = batch(rng)
    al = update_alignment(rules.make("ff", model), model, x, y)
    assert set(al) == {n for n, _ in model.named_parameters()}
    assert all(0 <= v["angle"] <= 180 and v["norm_ratio"] > 0 for v in al.values())


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


def test_an_input_too_small_for_the_labels_is_refused():
    with pytest.raises(mg.ShapeError, match=r"too small to overlay the labels: the first layer "
                                            r"'1' reads 3 features, but the one-hot label of "
                                            r"5 classes"):
        rules.make("ff", nn.mlp([3, 8, 5]))
    rules.make("ff", nn.mlp([3, 8, 5]), variant="unsupervised")      # no labels to overlay


@pytest.mark.parametrize("model,match", [
    (convnet(), r"cannot train layer '0' \(Conv2d\): it trains a chain of Linear layers"),
    (nn.resnet(8, width=2), r"cannot train layer '\d' \((Conv2d|ResidualBlock)\)"),
    (nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(),
                   nn.Linear(5, 3)), r"cannot train layer '2' \(BatchNorm1d\)"),
    (nn.mlp([6, 3]), "needs at least one hidden Linear layer before the read-out"),
])
def test_layers_ff_cannot_train_are_named(model, match):
    with pytest.raises(mg.ArgumentError, match=match):
        rules.make("ff", model)


@pytest.mark.parametrize("options,match", [
    ({"goodness": "cubes"}, "goodness must be one of sum_squares, mean_squares"),
    ({"goodness": "mean_squares", "threshold": -0.5},
     r"threshold must be None or a finite number >= 0 .*'mean_squares'.*got -0.5"),
    ({"threshold": float("nan")}, "threshold must be None or a finite number"),
    ({"variant": "supervized"}, "variant must be one of supervised, unsupervised"),
    ({"predict": "vote"}, "predict must be None or one of goodness, readout"),
    ({"variant": "unsupervised", "predict": "goodness"}, "use predict='readout'"),
    ({"label_value": 0}, "label_value must be None or a finite number > 0"),
    ({"peer_normalization": -1}, "peer_normalization must be a finite number >= 0"),
    ({"peer_momentum": 1.0}, r"peer_momentum must be in \[0, 1\)"),
    ({"collaborative": "yes"}, "collaborative must be True or False"),
    ({"loss": "mse"}, "cannot use the loss 'mse'"),
])
def test_bad_hyper_parameters_are_refused_with_a_clear_message(options, match):
    with pytest.raises(mg.ArgumentError, match=match):
        rules.make("ff", relu_mlp(), **options)


def test_bad_labels_are_refused(rng):
    rule = rules.make("ff", relu_mlp())
    x, _ = batch(rng)
    with pytest.raises(mg.ArgumentError, match=r"labels must be integers in \[0, 3\)"):
        rule.updates(x, np.array([0, 1, 2, 3, 0, 1]))
    with pytest.raises(mg.ShapeError, match="expected 6 labels"):
        rule.updates(x, np.array([0, 1]))


# --------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------


def test_goodness_rises_on_positive_and_falls_on_negative_data():
    split = mg.data.load_dataset("digits")
    model = nn.mlp([64, 32, 32, 10], "relu", generator=np.random.default_rng(0))
    # θ near the initial goodness (≈ 4.4), so both directions are asked for at once
    rule = rules.make("ff", model, seed=0, threshold=4.0, label_value=2.0)
    opt = mg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = mg.tensor(split.test.x[:200]), split.test.y[:200]
    wrong = negative_labels(y, 10, np.random.default_rng(5))
    pos0, neg0 = rule.layer_goodness(x, y), rule.layer_goodness(x, wrong)
    for xb, yb in mg.data.DataLoader(split.train, 32, shuffle=True, seed=0):
        rule.step(xb, yb, opt)
    pos1, neg1 = rule.layer_goodness(x, y), rule.layer_goodness(x, wrong)
    for name in ("1", "3"):
        assert pos1[name].mean() > pos0[name].mean() + 0.2, name
        assert neg1[name].mean() < neg0[name].mean() - 0.2, name


def _digits_accuracy(name, epochs, lr, activation, seed=0, **options):
    split = mg.data.load_dataset("digits")
    mg.manual_seed(seed)
    model = nn.mlp([64, 32, 32, 10], activation, generator=np.random.default_rng(seed))
    rule = rules.make(name, model, seed=seed, **options)
    opt = mg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loader = mg.data.DataLoader(split.train, 32, shuffle=True, seed=seed)
    for _ in range(epochs):
        for x, y in loader:
            rule.step(x, y, opt)
    model.eval()
    out = rule.predict(mg.tensor(split.test.x)).numpy()
    return float((out.argmax(1) == split.test.y).mean())


def test_ff_beats_the_shallow_control_on_digits():
    shallow = _digits_accuracy("shallow", 5, 0.05, "tanh")     # as in test_learning.py
    # FF's losses have larger gradients than a softmax's: a smaller step, more epochs
    ff = _digits_accuracy("ff", 10, 0.003, "relu")             # the goodness scan
    assert ff > shallow + 0.05, (ff, shallow)
    assert ff > 0.9


def test_a_training_run_with_ff_and_its_saved_state(tmp_path):
    from minigrad.serialization import load, save
    from minigrad.train import Run, TrainConfig

    cfg = TrainConfig(rule="ff", epochs=1, lr=0.005, hidden=(32,),
                      rule_options={"peer_normalization": 0.03})
    run = Run(cfg, None, progress=False, log=lambda *a: None)
    rec = run.run_epochs()[-1]
    assert rec["test_accuracy"] > 0.5 and rec["train_accuracy"] is not None
    save(run.rule.state_dict(), tmp_path / "rule.npz")
    again = rules.make("ff", run.model, peer_normalization=0.03)
    again.load_state_dict(load(tmp_path / "rule.npz"))
    assert again.label_scale == run.rule.label_scale
    np.testing.assert_array_equal(again.running_means[0], run.rule.running_means[0])
    x = mg.tensor(run.split.test.x[:20])
    np.testing.assert_array_equal(again.predict(x).numpy(), run.rule.predict(x).numpy())

