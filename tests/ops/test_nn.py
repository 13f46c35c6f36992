"""Neural-network functions: loss conventions, dropout statistics, batch norm
running statistics, bad labels."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ArgumentError, DTypeError, ShapeError
from tests.conftest import assert_close


def leaf(a):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    logits = leaf(rng.standard_normal((4, 3)))
    y = np.array([0, 2, 1, 2])
    mg.cross_entropy(logits, y).backward()
    p = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)
    onehot = np.eye(3)[y]
    assert_close(logits.grad, (p - onehot) / 4)


def test_cross_entropy_rejects_bad_labels():
    logits = mg.ones(3, 4)
    with pytest.raises(ArgumentError, match=r"class index 7, outside \[0, 4\)"):
        mg.cross_entropy(logits, np.array([0, 7, 1]))
    with pytest.raises(ShapeError, match=r"target has shape \(2,\).*needs a target of shape \(3,\)"):
        mg.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ShapeError, match="probability targets"):
        mg.cross_entropy(logits, np.ones((3, 3)))
    with pytest.raises(ArgumentError, match="reduction"):
        mg.cross_entropy(logits, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(DTypeError, match="integer class indices"):
        mg.nll_loss(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(DTypeError, match="floating-point"):
        mg.cross_entropy(mg.tensor([[1, 2]]), np.array([0]))


TARGET_CASES = [        # (targets, ignore_index): the unmasked path, then the masked one
    ([0, 2, 1, 2, 0, 1], -100),
    ([0, 2, 1, 2, 0, 1], 5),            # an ignore_index no class uses
    ([0, 2, 1, 2, 0, 1], 1),            # a class that is ignored
    ([0, 2, 2, 2, 0, 0], 1),            # ignore_index within [min, max] but absent
    ([0, -100, 1, 2, -100, 1], -100),
    ([-100] * 6, -100),                 # everything ignored: the mean is NaN, as torch
]


@pytest.mark.parametrize("case", TARGET_CASES, ids=str)
def test_nll_loss_with_ignored_targets_matches_torch(case, rng):
    import torch

    targets, ignore = case
    x = rng.standard_normal((6, 3))
    with np.errstate(invalid="ignore"):
        loss = mg.nll_loss(leaf(x), np.array(targets), ignore_index=ignore)
    tl = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(targets), ignore_index=ignore)
    np.testing.assert_allclose(loss.numpy(), tl.numpy(), rtol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", TARGET_CASES, ids=str)
def test_cross_entropy_with_ignored_targets_matches_torch(case, reduction, weighted, smoothing,
                                                          rng):
    import torch

    targets, ignore = case
    x = rng.standard_normal((6, 3))
    w = np.array([0.5, 2.0, 1.5]) if weighted else None
    logits = leaf(x)
    with np.errstate(invalid="ignore"):            # 0/0 where every target is ignored
        loss = mg.cross_entropy(logits, np.array(targets), weight=w, ignore_index=ignore,
                                reduction=reduction, label_smoothing=smoothing)
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(
        tx, torch.tensor(targets), weight=None if w is None else torch.tensor(w),
        ignore_index=ignore, reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(loss.numpy(), tl.detach().numpy(), rtol=1e-12, atol=1e-12)
    if np.all(np.isfinite(tl.detach().numpy())):
        loss.sum().backward()
        tl.sum().backward()
        np.testing.assert_allclose(logits.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_an_out_of_range_target_is_an_error_beside_ignored_ones():
    with pytest.raises(ArgumentError, match=r"class index 3, outside \[0, 3\)"):
        mg.cross_entropy(mg.ones(3, 3), np.array([-100, 3, 0]))
    with pytest.raises(ArgumentError, match=r"class index -1, outside \[0, 3\)"):
        mg.cross_entropy(mg.ones(3, 3), np.array([1, -1, 0]), ignore_index=1)


def test_cross_entropy_errors_name_cross_entropy_not_its_inner_nll_loss():
    logits = mg.randn(4, 3)
    with pytest.raises(ShapeError, match=r"^cross_entropy: target has shape \(3,\) but input "
                                         r"of shape \(4, 3\) needs a target of shape \(4,\)"):
        mg.cross_entropy(logits, mg.tensor([0, 1, 2]))
    with pytest.raises(ArgumentError, match=r"^cross_entropy: target contains class index 5, "
                                            r"outside \[0, 3\) \(input shape \(4, 3\)\)"):
        mg.cross_entropy(logits, mg.tensor([0, 5, 1, 2]))
    with pytest.raises(ArgumentError, match=r"^cross_entropy: target contains class index -2"):
        mg.cross_entropy(logits, np.array([0, -2, 1, 2]), label_smoothing=0.1)
    with pytest.raises(ShapeError, match=r"^cross_entropy: target has shape \(2, 3\) but "
                                         r"input of shape \(2, 3, 2\) needs a target of "
                                         r"shape \(2, 2\)"):
        mg.cross_entropy(mg.randn(2, 3, 2), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(DTypeError, match=r"^cross_entropy: target must hold integer class "
                                         r"indices, got dtype bool"):
        mg.cross_entropy(logits, np.array([True, False, True, True]))
    with pytest.raises(ShapeError, match=r"^cross_entropy: weight must have shape \(3,\)"):
        mg.cross_entropy(logits, np.array([0, 1, 2, 0]), weight=mg.ones(2))
    # called directly, nll_loss names itself
    with pytest.raises(ShapeError, match=r"^nll_loss: target has shape \(3,\) but input of "
                                         r"shape \(4, 3\)"):
        mg.nll_loss(logits, mg.tensor([0, 1, 2]))
    with pytest.raises(ArgumentError, match=r"^nll_loss: target contains class index 5"):
        mg.nll_loss(logits, mg.tensor([0, 5, 1, 2]))


def test_nll_and_mse_are_aliases():
    assert mg.nll is mg.nll_loss is mg.ops.nll_loss is mg.ops.nll
    assert mg.mse is mg.mse_loss is mg.ops.mse_loss is mg.ops.mse
    assert "nll" in mg.ops.__all__ and "mse" in mg.ops.__all__
    assert "nll" in mg.nll.__doc__ and "mse" in mg.mse.__doc__


def test_softmax_over_an_empty_axis_is_empty():
    for f in (mg.softmax, mg.log_softmax):
        x = mg.tensor(np.zeros((3, 0)), requires_grad=True)
        y = f(x, axis=-1)
        assert y.shape == (3, 0)
        y.sum().backward()
        assert x.grad.shape == (3, 0)


def test_mse_refuses_to_broadcast():
    with pytest.raises(ShapeError, match=r"mse_loss: input shape \(3, 1\).*\(3,\)"):
        mg.mse_loss(mg.ones(3, 1), mg.ones(3))


def test_bce_with_logits_at_zero_logit_has_the_right_gradient():
    x = leaf([0.0, 0.0])
    mg.bce_with_logits(x, mg.tensor([1.0, 0.0], dtype=np.float64), reduction="sum").backward()
    assert_close(x.grad, [-0.5, 0.5])


def test_dropout_is_seeded_scaled_and_off_in_eval():
    x = mg.ones(10_000, dtype=np.float64)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    a = mg.dropout(x, 0.3, generator=g1).numpy()
    b = mg.dropout(x, 0.3, generator=g2).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1 / 0.7}
    assert abs((a == 0).mean() - 0.3) < 0.02          # binomial sd ~ 0.005
    assert abs(a.mean() - 1.0) < 0.03                 # expectation preserved
    assert mg.dropout(x, 0.3, training=False) is x
    with pytest.raises(ArgumentError, match=r"p must be in \[0, 1\]"):
        mg.dropout(x, 1.5)


def test_batch_norm_updates_running_statistics_like_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((8, 3, 2, 2))
    rm, rv = mg.zeros(3, dtype=np.float64), mg.ones(3, dtype=np.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):
        mg.batch_norm(mg.tensor(x), rm, rv, training=True, momentum=0.2)
        torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
    assert_close(rm, trm.numpy())
    assert_close(rv, trv.numpy())
    out = mg.batch_norm(mg.tensor(x), rm, rv, training=False)
    ref = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=False)
    assert_close(out, ref.numpy())


def test_batch_norm_errors():
    with pytest.raises(ShapeError, match="more than one value per channel"):
        mg.batch_norm(mg.ones(1, 3), training=True)
    with pytest.raises(ArgumentError, match="running_mean and running_var"):
        mg.batch_norm(mg.ones(2, 3), training=False)
    with pytest.raises(ShapeError, match=r"weight must have shape \(3,\)"):
        mg.batch_norm(mg.ones(2, 3), weight=mg.ones(4))


def test_layer_norm_errors():
    with pytest.raises(ShapeError, match=r"normalized_shape \(4,\).*\(2, 3\)"):
        mg.layer_norm(mg.ones(2, 3), 4)


def test_linear_errors():
    with pytest.raises(ShapeError, match=r"linear: input of shape \(2, 3\).*\(4, 5\)"):
        mg.linear(mg.ones(2, 3), mg.ones(4, 5))
    with pytest.raises(ShapeError, match="bias"):
        mg.linear(mg.ones(2, 3), mg.ones(4, 3), mg.ones(3))


def test_softmax_rows_sum_to_one_and_are_stable():
    x = mg.tensor([[1000.0, 1000.0, -1000.0]], dtype=np.float64)
    p = mg.softmax(x, axis=1)
    assert_close(p, [[0.5, 0.5, 0.0]])
    assert_close(mg.log_softmax(x, axis=1)[0, :2], [-np.log(2)] * 2)
