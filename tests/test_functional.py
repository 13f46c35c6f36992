"""Function transforms: jvp, vjp, grad, value_and_grad, hvp, jacobian,
hessian, functional_call; nesting without perturbation confusion; forward
mode without a reverse graph; bad input."""
import gc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ArgumentError, DTypeError, GradientError, ShapeError
from tests.conftest import assert_close


def t64(a):
    return mg.tensor(np.asarray(a, dtype=np.float64))


# --------------------------------------------------------------------------
# jvp and vjp
# --------------------------------------------------------------------------


def test_jvp_of_a_simple_function():
    x, v = t64([0.5, -1.0]), t64([1.0, 2.0])
    out, tangent = mg.jvp(lambda a: mg.sin(a) * a, (x,), (v,))
    xs = x.numpy()
    assert_close(out, np.sin(xs) * xs)
    assert_close(tangent, (np.cos(xs) * xs + np.sin(xs)) * v.numpy())
    assert out._tangents is None and not out.requires_grad


def test_jvp_with_several_inputs_outputs_and_aux():
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    da, db = t64([1.0, 0.0]), t64([0.0, 1.0])
    (s, p), (ds, dp), aux = mg.jvp(lambda x, y: ((x + y, x * y), "aux"), (a, b), (da, db),
                                   has_aux=True)
    assert aux == "aux"
    assert_close(ds, [1.0, 1.0])
    assert_close(dp, [3.0, 2.0])          # b·da + a·db


def test_jvp_of_an_output_that_does_not_depend_on_the_input_is_zero():
    x = t64([1.0, 2.0])
    _, tangent = mg.jvp(lambda a: mg.ones(3, dtype=np.float64), (x,), (x,))
    assert_close(tangent, np.zeros(3))


def test_vjp_returns_a_reusable_function():
    x = t64([1.0, 2.0, 3.0])
    out, f_vjp = mg.vjp(lambda a: a * a, x)
    assert_close(out, [1, 4, 9])
    (g1,) = f_vjp(t64([1.0, 0.0, 0.0]))
    (g2,) = f_vjp(t64([0.0, 1.0, 1.0]))
    assert_close(g1, [2, 0, 0])
    assert_close(g2, [0, 4, 6])
    assert x.grad is None


def test_vjp_and_jvp_satisfy_the_inner_product_identity(rng):
    w = t64(rng.standard_normal((3, 4)))
    f = lambda x: mg.tanh(x @ w)  # noqa: E731
    x = t64(rng.standard_normal((2, 3)))
    u, v = t64(rng.standard_normal((2, 4))), t64(rng.standard_normal((2, 3)))
    _, jv = mg.jvp(f, (x,), (v,))
    _, f_vjp = mg.vjp(f, x)
    (ju,) = f_vjp(u)
    assert np.isclose((u.numpy() * jv.numpy()).sum(), (ju.numpy() * v.numpy()).sum(),
                      rtol=1e-12)


# --------------------------------------------------------------------------
# grad and value_and_grad
# --------------------------------------------------------------------------


def test_grad_and_argnums():
    f = lambda x, y: (x * x * y).sum()  # noqa: E731
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    assert_close(mg.grad(f)(x, y), 2 * x.numpy() * y.numpy())
    gx, gy = mg.grad(f, argnums=(0, 1))(x, y)
    assert_close(gy, x.numpy() ** 2)
    assert_close(mg.grad(f, argnums=-1)(x, y), x.numpy() ** 2)
    value, g = mg.value_and_grad(f)(x, y)
    assert value.item() == pytest.approx(3 + 16)
    (g, aux) = mg.grad(lambda a: ((a * a).sum(), 42), has_aux=True)(x)
    assert aux == 42


def test_grad_of_grad_is_the_second_derivative():
    d2 = mg.grad(lambda x: mg.grad(lambda y: (y ** 4).sum())(x).sum())
    assert_close(d2(t64([1.0, 2.0])), 12 * np.array([1.0, 4.0]))


def test_no_perturbation_confusion_in_reverse_mode():
    # d/dx [ x · d/dy (x + y) ] = d/dx [ x · 1 ] = 1   (a confused engine gives 2)
    def f(x):
        inner = mg.grad(lambda y: (x + y).sum())(x)
        return (x * inner).sum()

    assert_close(mg.grad(f)(t64([1.0])), [1.0])


def test_no_perturbation_confusion_in_forward_mode():
    # the same with nested jvps (Siskind & Pearlmutter's example)
    def f(x):
        _, inner = mg.jvp(lambda y: x + y, (x,), (mg.ones_like(x),))
        return x * inner

    _, d = mg.jvp(f, (t64([1.0]),), (t64([1.0]),))
    assert_close(d, [1.0])


def test_grad_bad_input():
    x = t64([1.0, 2.0])
    with pytest.raises(GradientError, match=r"scalar.*shape \(2,\)"):
        mg.grad(lambda a: a * 2)(x)
    with pytest.raises(ArgumentError, match="argnums 2 is out of range.*2 positional"):
        mg.grad(lambda a, b: (a * b).sum(), argnums=2)(x, x)
    with pytest.raises(TypeError, match="only Tensors"):
        mg.grad(lambda a: a, argnums=0)(3.0)
    with pytest.raises(DTypeError, match="int64"):
        mg.grad(lambda a: a.sum())(mg.tensor([1, 2]))


def test_jvp_bad_tangents_name_both_shapes_and_dtypes():
    x = t64([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"tangent has shape \(3,\) but the primal has shape \(2,\)"):
        mg.jvp(mg.sin, (x,), (t64([1.0, 2.0, 3.0]),))
    with pytest.raises(DTypeError, match="tangent has dtype float32 but the primal has dtype float64"):
        mg.jvp(mg.sin, (x,), (mg.tensor([1.0, 2.0]),))
    with pytest.raises(ArgumentError, match="2 primals but 1 tangents"):
        mg.jvp(lambda a, b: a + b, (x, x), (x,))
    with pytest.raises(DTypeError, match="floating-point"):
        mg.jvp(lambda a: a, (mg.tensor([1, 2]),), (mg.tensor([1, 2]),))


def test_vjp_cotangent_shape_is_checked():
    _, f_vjp = mg.vjp(mg.sin, t64([1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"cotangent has shape \(3,\).*\(2,\)"):
        f_vjp(t64([1.0, 2.0, 3.0]))


# --------------------------------------------------------------------------
# higher order: hvp, hessian, jacobian -- against finite differences and torch
# --------------------------------------------------------------------------


def _mlp_loss(w1, b1, w2, x, y):
    h = mg.tanh(x @ w1 + b1)
    return mg.cross_entropy(h @ w2, y)


@pytest.fixture
def mlp(rng):
    params = [t64(rng.standard_normal(s) * 0.5) for s in ((3, 4), (4,), (4, 3))]
    x = t64(rng.standard_normal((5, 3)))
    y = np.array([0, 2, 1, 1, 0])
    return params, x, y


def test_hvp_matches_finite_differences_of_the_gradient(mlp, rng):
    params, x, y = mlp
    v = tuple(t64(rng.standard_normal(p.shape)) for p in params)
    f = lambda *ps: _mlp_loss(*ps, x, y)  # noqa: E731
    hv = mg.hvp(f, tuple(params), v)
    g = mg.grad(f, argnums=(0, 1, 2))
    eps = 1e-6
    plus = g(*[t64(p.numpy() + eps * vi.numpy()) for p, vi in zip(params, v)])
    minus = g(*[t64(p.numpy() - eps * vi.numpy()) for p, vi in zip(params, v)])
    for h, gp, gm in zip(hv, plus, minus):
        assert_close(h, (gp.numpy() - gm.numpy()) / (2 * eps), atol=1e-7, rtol=1e-5)


def test_hvp_and_hessian_match_torch(mlp, rng):
    torch = pytest.importorskip("torch")
    import torch.func as tf
    params, x, y = mlp
    v = tuple(t64(rng.standard_normal(p.shape)) for p in params)

    def torch_loss(w1, b1, w2):
        h = torch.tanh(torch.tensor(x.numpy()) @ w1 + b1)
        return torch.nn.functional.cross_entropy(h @ w2, torch.tensor(y))

    tp = tuple(torch.tensor(p.numpy()) for p in params)
    tv = tuple(torch.tensor(t.numpy()) for t in v)
    _, t_hv = tf.jvp(tf.grad(torch_loss, argnums=(0, 1, 2)), tp, tv)
    hv = mg.hvp(lambda *ps: _mlp_loss(*ps, x, y), tuple(params), v)
    for a, b in zip(hv, t_hv):
        assert_close(a, b.numpy(), atol=1e-12, rtol=1e-9)

    hess = mg.hessian(lambda w1: _mlp_loss(w1, params[1], params[2], x, y))(params[0])
    t_hess = torch.autograd.functional.hessian(lambda w1: torch_loss(w1, tp[1], tp[2]), tp[0])
    assert hess.shape == (3, 4, 3, 4)
    assert_close(hess, t_hess.numpy(), atol=1e-12, rtol=1e-9)


def test_jacobian_forward_equals_reverse_and_torch(rng):
    torch = pytest.importorskip("torch")
    w = t64(rng.standard_normal((3, 2)))
    f = lambda a: mg.softmax(mg.tanh(a @ w), axis=-1)  # noqa: E731
    x = t64(rng.standard_normal((4, 3)))
    jr = mg.jacobian(f, mode="rev")(x)
    jf = mg.jacobian(f, mode="fwd")(x)
    assert jr.shape == (4, 2, 4, 3)
    assert_close(jr, jf, atol=1e-14)
    tw = torch.tensor(w.numpy())
    tj = torch.func.jacrev(lambda a: torch.softmax(torch.tanh(a @ tw), -1))(
        torch.tensor(x.numpy()))
    assert_close(jr, tj.numpy(), atol=1e-12)


def test_jacobian_with_several_arguments():
    f = lambda a, b: a * b  # noqa: E731
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    ja, jb = mg.jacobian(f, argnums=(0, 1), mode="fwd")(a, b)
    assert_close(ja, np.diag([3.0, 4.0]))
    assert_close(jb, np.diag([1.0, 2.0]))
    with pytest.raises(ArgumentError, match="mode"):
        mg.jacobian(f, mode="sideways")


def test_nested_forward_mode_gives_exact_higher_derivatives():
    x = t64([0.3, -0.8])
    one = mg.ones_like(x)

    def d(f):
        return lambda a: mg.jvp(f, (a,), (one,))[1]

    assert_close(d(d(mg.exp))(x), np.exp(x.numpy()))
    assert_close(d(d(d(mg.tanh)))(x),
                 # tanh''' = -2 sech²(x) (1 - 3 tanh²(x)) ... via the identity below
                 -2 * (1 - np.tanh(x.numpy()) ** 2) * (1 - 3 * np.tanh(x.numpy()) ** 2))
    assert_close(d(d(mg.sin))(x), -np.sin(x.numpy()))


def test_forward_over_reverse_equals_reverse_over_reverse(rng):
    f = lambda a: (mg.exp(a) * mg.sin(a)).sum()  # noqa: E731
    x, v = t64(rng.standard_normal(4)), t64(rng.standard_normal(4))
    fwd_over_rev = mg.hvp(f, x, v)
    rev_over_rev = mg.grad(lambda a: (mg.grad(f)(a) * v).sum())(x)
    rev_over_fwd = mg.grad(lambda a: mg.jvp(f, (a,), (v,))[1])(x)
    assert_close(fwd_over_rev, rev_over_rev, atol=1e-13)
    assert_close(rev_over_fwd, rev_over_rev, atol=1e-13)


def test_forward_mode_through_a_vjp_carries_the_cotangents_tangent(rng):
    """The pullback uᵀJ(w) is differentiated in forward mode along w and
    along u: the cotangent's own tangent must reach the backward pass (it
    was once dropped when the seed gradient was copied: d/du came out 0)."""
    W, x = t64(rng.standard_normal((3, 4))), t64(rng.standard_normal(4))
    u = t64(rng.standard_normal(3))

    def pullback(W, x, u):
        return mg.vjp(lambda W, x: mg.tanh(W @ x), W, x)[1](u)

    mg.check_grads(pullback, (W, x, u), modes=("fwd", "rev"), order=2)
    # the tangent along u alone: the pullback is linear in u
    zero = (mg.zeros_like(W), mg.zeros_like(x))
    _, (dW, dx) = mg.jvp(pullback, (W, x, u), zero + (mg.ones_like(u),))
    expect_W, expect_x = pullback(W, x, mg.ones_like(u))
    assert_close(dW, expect_W, atol=1e-13)
    assert_close(dx, expect_x, atol=1e-13)


# --------------------------------------------------------------------------
# forward mode keeps no reverse graph
# --------------------------------------------------------------------------


def _tanh_chain(steps, scale):
    """A function running ``steps`` tanh layers, and weak references to the
    activations it makes (to count how many stay alive)."""
    refs = []

    def f(a):
        h = a
        for _ in range(steps):
            h = mg.tanh(h * scale)
            refs.append(weakref.ref(h.data))
        return h.sum()

    return f, refs


def test_forward_mode_holds_no_references_to_intermediate_activations():
    x = t64(np.ones(10_000))
    f, refs = _tanh_chain(200, 1.01)
    out, tangent = mg.jvp(f, (x,), (t64(np.ones(10_000)),))
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert alive <= 1           # only the last activation, which `out` was made from
    assert out.grad_fn is None and tangent.grad_fn is None
    assert np.isfinite(tangent.item())


def test_the_inputs_of_jvp_are_not_modified():
    x = t64([1.0, 2.0])
    mg.jvp(mg.exp, (x,), (x,))
    assert x._tangents is None


# --------------------------------------------------------------------------
# models: functional_call
# --------------------------------------------------------------------------


class TinyNet:
    """A model in the shape minigrad.nn will give it: parameters as
    attributes, named_parameters(), callable."""

    def __init__(self, rng):
        self.w = t64(rng.standard_normal((3, 2)))
        self.b = t64(np.zeros(2))

    def named_parameters(self):
        return [("w", self.w), ("b", self.b)]

    def __call__(self, x):
        return mg.tanh(x @ self.w + self.b)


def test_forward_gradient_of_a_model_through_functional_call(rng):
    net = TinyNet(rng)
    x = t64(rng.standard_normal((4, 3)))
    y = np.array([0, 1, 1, 0])
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p for _, p in net.named_parameters())

    def loss_of(*ps):
        return mg.cross_entropy(mg.functional_call(net, dict(zip(names, ps)), x), y)

    v = tuple(t64(rng.standard_normal(p.shape)) for p in params)
    loss, directional = mg.jvp(loss_of, params, v)
    grads = mg.grad(loss_of, argnums=(0, 1))(*params)
    expected = sum((g.numpy() * vi.numpy()).sum() for g, vi in zip(grads, v))
    assert directional.item() == pytest.approx(expected, rel=1e-12)
    assert net.w is params[0] and net.b is params[1]      # originals restored


def test_functional_call_errors_leave_the_model_intact(rng):
    net = TinyNet(rng)
    w = net.w
    with pytest.raises(ArgumentError, match="no parameter 'v'"):
        mg.functional_call(net, {"w": t64(np.ones((3, 2))), "v": t64([1.0])}, t64(np.ones(3)))
    with pytest.raises(ShapeError, match="parameter 'w' has shape"):
        mg.functional_call(net, {"w": t64(np.ones((2, 2)))}, t64(np.ones(3)))
    assert net.w is w


def test_jvp_errors_name_jvp_and_the_argument():
    x = t64([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"^jvp: tangent 1: the tangent has shape \(3,\)"):
        mg.jvp(lambda a, b: a * b, (x, x), (x, t64([1.0, 2.0, 3.0])))
    with pytest.raises(DTypeError, match=r"^vjp_fn: the cotangent has dtype float32 but the "
                                         r"output has dtype float64"):
        mg.vjp(mg.sin, x)[1](mg.tensor([1.0, 1.0]))


def test_value_and_grad_does_not_keep_the_graph_alive():
    """A loop that keeps its losses must not keep every step's graph."""
    w = t64(np.full(1000, 0.1))
    f, refs = _tanh_chain(30, 1.1)
    value, g = mg.value_and_grad(f)(w)
    gc.collect()
    assert not value.requires_grad and value.grad_fn is None
    assert sum(r() is not None for r in refs) <= 1
    assert_close(g, mg.grad(f)(w))
    # ... but a value that depends on an outer tensor requiring grad stays attached
    s = t64(2.0).requires_grad_()
    value, _ = mg.value_and_grad(lambda a: (a * s).sum())(w)
    value.backward()
    assert s.grad.item() == pytest.approx(w.numpy().sum())


def test_forward_mode_through_value_and_grads_value():
    x, v = t64([0.3, -0.7]), t64([1.0, 0.5])
    (value, grad), (dvalue, dgrad) = mg.jvp(lambda a: mg.value_and_grad(
        lambda b: (mg.sin(b) ** 2).sum())(a), (x,), (v,))
    xs, vs = x.numpy(), v.numpy()
    assert dvalue.item() == pytest.approx((2 * np.sin(xs) * np.cos(xs) * vs).sum(), rel=1e-12)
    assert_close(dgrad, 2 * np.cos(2 * xs) * vs)


def test_hessian_matches_finite_differences_of_the_gradient(mlp):
    params, x, y = mlp
    f = lambda w2: _mlp_loss(params[0], params[1], w2, x, y)  # noqa: E731
    hess = mg.hessian(f)(params[2]).numpy().reshape(12, 12)
    g = mg.grad(f)
    eps, w = 1e-6, params[2].numpy()
    numeric = np.empty((12, 12))
    for k in range(12):
        e = np.zeros(12)
        e[k] = eps
        plus = g(t64(w + e.reshape(w.shape))).numpy().ravel()
        minus = g(t64(w - e.reshape(w.shape))).numpy().ravel()
        numeric[:, k] = (plus - minus) / (2 * eps)
    assert_close(hess, numeric, atol=1e-8, rtol=1e-6)
    assert_close(hess, hess.T, atol=1e-14)


def test_forward_gradient_with_an_nn_models_detached_parameters_keeps_no_graph(rng):
    """The recipe in functional_call's docstring: with detached parameters,
    jvp through an nn model records no reverse graph."""
    model = mg.nn.mlp([3, 8, 8, 2], "tanh", generator=rng, dtype=np.float64)
    x = t64(rng.standard_normal((4, 3)))
    y = np.array([0, 1, 1, 0])
    names, params = zip(*((n, p.detach()) for n, p in model.named_parameters()))
    v = tuple(t64(rng.standard_normal(p.shape)) for p in params)

    def loss_of(*ps):
        return mg.cross_entropy(mg.functional_call(model, dict(zip(names, ps)), x), y)

    loss, directional = mg.jvp(loss_of, params, v)
    assert not loss.requires_grad and not directional.requires_grad
    grads = mg.grad(loss_of, argnums=tuple(range(len(params))))(*params)
    expected = sum((g.numpy() * vi.numpy()).sum() for g, vi in zip(grads, v))
    assert directional.item() == pytest.approx(expected, rel=1e-10)
