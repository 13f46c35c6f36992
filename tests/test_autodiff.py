"""Reverse mode: graph walking, accumulation, freeing, higher order, hooks,
grad mode, anomaly detection."""
import gc
import threading
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import autodiff
from minigrad.errors import AnomalyError, GradientError, ShapeError
from tests.conftest import assert_close


def leaf(data, **kw):
    return mg.tensor(np.asarray(data, dtype=np.float64), requires_grad=True, **kw)


# --------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------


def test_a_10000_op_chain_backpropagates_without_recursion():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    assert_close(x.grad, np.full(2, 1.0001 ** 10_000), rtol=1e-9)


def test_a_deep_chain_can_be_freed_without_recursion():
    x = leaf([1.0])
    y = x
    for _ in range(50_000):
        y = y + 1.0
    del y
    gc.collect()


def test_diamond_graph_accumulates_both_paths():
    x = leaf([3.0])
    a = x * 2      # da/dx = 2
    b = x * x      # db/dx = 2x = 6
    (a + b).sum().backward()
    assert_close(x.grad, [8.0])


def test_shared_subexpression_is_differentiated_once():
    x = leaf([1.5, -0.5])
    h = mg.tanh(x)
    y = (h * h + h).sum()
    y.backward()
    t = np.tanh(np.array([1.5, -0.5]))
    assert_close(x.grad, (2 * t + 1) * (1 - t ** 2))


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert_close(x.grad, [3 + 2, 3 + 4])


def test_leaves_never_share_a_gradient_array():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = leaf([[1.0, 2.0], [3.0, 4.0]])
    (mg.concatenate([a, b]) + c.reshape(-1)).sum().backward()
    arrays = [a.grad.data, b.grad.data, c.grad.data]
    for i in range(3):
        assert arrays[i].flags.writeable
        for j in range(i + 1, 3):
            assert not np.shares_memory(arrays[i], arrays[j])
    a.grad.mul_(0)          # an in-place update of one gradient ...
    assert_close(b.grad, [1.0, 1.0])   # ... leaves the others alone
    assert_close(c.grad, np.ones((2, 2)))


def test_the_callers_gradient_is_not_stored_in_grad():
    x = leaf([1.0, 2.0])
    seed = mg.tensor([5.0, 6.0], dtype=np.float64)
    (x + 0).backward(seed)
    seed.data[0] = 100.0
    assert_close(x.grad, [5.0, 6.0])


# --------------------------------------------------------------------------
# freeing the graph
# --------------------------------------------------------------------------


def test_second_backward_through_a_freed_graph_raises_a_clear_error():
    x = leaf([1.0, 2.0])
    y = (mg.exp(x) * x).sum()
    y.backward()
    with pytest.raises(GradientError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (mg.exp(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    assert_close(x.grad, 2 * first)


def test_backward_frees_saved_arrays():
    x = leaf(np.ones(1000))
    y = mg.exp(x)                  # exp saves its output for the vjp
    z = y.sum()
    saved = weakref.ref(y.data)
    del y
    gc.collect()
    assert saved() is not None     # kept alive by the graph ...
    z.backward()
    gc.collect()
    assert saved() is None         # ... and released by backward


# --------------------------------------------------------------------------
# seeds and outputs
# --------------------------------------------------------------------------


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(GradientError, match=r"scalar output.*shape \(3,\)"):
        (x * 2).backward()


def test_backward_with_an_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(mg.tensor([1.0, 0.0, 2.0], dtype=np.float64))
    assert_close(x.grad, [2.0, 0.0, 12.0])


def test_gradient_of_the_wrong_shape_is_rejected():
    x = leaf([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(mg.ones(3, dtype=np.float64))


def test_backward_on_a_tensor_without_graph_raises():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(GradientError, match="does not require grad"):
        (x * 2).sum().backward()


def test_requires_grad_on_integers_is_rejected():
    with pytest.raises(mg.DTypeError, match="floating-point.*int64"):
        mg.tensor([1, 2, 3], requires_grad=True)
    x = mg.tensor([1, 2])
    with pytest.raises(mg.DTypeError):
        x.requires_grad_()


def test_integer_results_are_not_differentiable():
    x = leaf([1.5, 2.5])
    i = x.astype(np.int64)
    assert not i.requires_grad and i.grad_fn is None
    assert not (x > 2).requires_grad
    assert not mg.argmax(x).requires_grad


# --------------------------------------------------------------------------
# grad(): gradients of chosen inputs, pruning, allow_unused
# --------------------------------------------------------------------------


def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (gx,) = mg.autograd.grad((x * w).sum(), [x])
    assert_close(gx, [3.0, 4.0])
    assert x.grad is None and w.grad is None


def test_grad_only_differentiates_what_leads_to_the_inputs():
    calls = []

    class Spy(mg.Op):
        name = "spy"
        saves_inputs = False

        def forward(self, x):
            return x * 1

        def vjp(self, g):
            calls.append(1)
            return g

        def jvp(self, dx):
            return dx

    x, w = leaf([1.0]), leaf([2.0])
    y = (mg.apply(Spy(), w) + x).sum()
    mg.autograd.grad(y, [x])
    assert calls == []           # the branch to w was not needed


def test_grad_with_an_unused_input():
    x, z = leaf([1.0]), leaf([2.0])
    with pytest.raises(GradientError, match="not reachable"):
        mg.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = mg.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None
    assert_close(gx, [2.0])


def test_grad_of_an_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    (gh,) = mg.autograd.grad(y, [h])
    assert_close(gh, 2 * np.array([3.0, 6.0]))


def test_backward_inputs_restricts_which_leaves_get_gradients():
    x, w = leaf([1.0]), leaf([2.0])
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    assert_close(w.grad, [1.0])


def test_needs_input_grad_skips_unneeded_matmul_gradients():
    a = mg.tensor(np.ones((2, 3)))                 # a constant input
    w = leaf(np.ones((3, 4)))
    y = (a @ w).sum()
    node = y._node._edges[0]
    y.backward(retain_graph=True)
    assert node._needs == [False, True]


# --------------------------------------------------------------------------
# higher order: create_graph
# --------------------------------------------------------------------------


def test_second_derivative_of_a_scalar_function():
    x = leaf([0.3, -1.2, 2.0])
    (g,) = mg.autograd.grad((x ** 3).sum(), [x], create_graph=True)
    (h,) = mg.autograd.grad(g.sum(), [x])
    assert_close(g, 3 * x.numpy() ** 2)
    assert_close(h, 6 * x.numpy())


def _tanh_mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = mg.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    return ((out - y) ** 2).mean()


def test_second_derivatives_of_a_tanh_mlp_match_finite_differences_of_the_gradient(rng):
    x = mg.tensor(rng.standard_normal((5, 3)))
    y = mg.tensor(rng.standard_normal((5, 2)))
    params = [leaf(rng.standard_normal(s) * 0.7) for s in ((3, 4), (4,), (4, 2), (2,))]
    v = [rng.standard_normal(p.shape) for p in params]

    def grad_fn(ps):
        return mg.autograd.grad(_tanh_mlp_loss(ps, x, y), ps, create_graph=True)

    # Hessian-vector product by reverse over reverse ...
    grads = grad_fn(params)
    dot = sum((g * mg.tensor(vi)).sum() for g, vi in zip(grads, v))
    hvp = mg.autograd.grad(dot, params)
    # ... against central differences of the gradient along v
    eps = 1e-6

    def shifted(sign):
        ps = [leaf(p.numpy() + sign * eps * vi) for p, vi in zip(params, v)]
        return [g.numpy() for g in grad_fn(ps)]

    plus, minus = shifted(+1), shifted(-1)
    for h, gp, gm in zip(hvp, plus, minus):
        assert_close(h, (gp - gm) / (2 * eps), atol=1e-7, rtol=1e-5)


def test_backward_with_create_graph_gives_differentiable_grad():
    x = leaf([2.0])
    y = (x ** 4).sum()
    y.backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = mg.autograd.grad(x.grad.sum(), [x])
    assert_close(gg, [12 * 4.0])


def test_third_derivative():
    x = leaf([0.7])
    g1, = mg.autograd.grad(mg.sin(x).sum(), [x], create_graph=True)
    g2, = mg.autograd.grad(g1.sum(), [x], create_graph=True)
    g3, = mg.autograd.grad(g2.sum(), [x])
    assert_close(g3, -np.cos([0.7]))


# --------------------------------------------------------------------------
# retain_grad, hooks, detach
# --------------------------------------------------------------------------


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    assert_close(h.grad, [6.0, 12.0])


def test_non_leaf_grad_is_not_kept_by_default():
    x = leaf([1.0])
    h = x * 3
    (h * h).sum().backward()
    assert h.grad is None


def test_hooks_see_and_replace_gradients():
    x = leaf([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    (x * 2).sum().backward()
    assert_close(seen[0], [2.0, 2.0])
    assert_close(x.grad, [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert_close(x.grad, [2.0, 2.0])


def test_hook_on_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 0)
    (h * h).sum().backward()
    assert_close(x.grad, [0.0, 0.0])


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).detach() * x
    y.sum().backward()
    assert_close(x.grad, [1.0, 4.0])
    assert y.detach().is_leaf and not y.detach().requires_grad


# --------------------------------------------------------------------------
# grad mode
# --------------------------------------------------------------------------


def test_no_grad_records_nothing():
    x = leaf([1.0])
    with mg.no_grad():
        y = x * 2
        with mg.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_as_a_decorator():
    @mg.no_grad()
    def f(t):
        return t * 2

    assert not f(leaf([1.0])).requires_grad


def test_set_grad_enabled():
    x = leaf([1.0])
    with mg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


# --------------------------------------------------------------------------
# in-place modification
# --------------------------------------------------------------------------


def test_in_place_update_of_a_leaf_that_requires_grad_needs_no_grad():
    w = leaf([1.0, 2.0])
    with pytest.raises(GradientError, match="no_grad"):
        w.sub_(1.0)
    with mg.no_grad():
        w.sub_(1.0)
    assert_close(w, [0.0, 1.0])


def test_modifying_a_saved_tensor_is_detected():
    x = leaf([1.0, 2.0])
    a = mg.tensor([3.0, 4.0], dtype=np.float64)
    y = (a * x).sum()
    a.add_(1.0)
    with pytest.raises(GradientError, match="'mul' was modified in place"):
        y.backward()


# --------------------------------------------------------------------------
# detect_anomaly
# --------------------------------------------------------------------------


def test_detect_anomaly_names_the_forward_op():
    x = leaf([1.0, -1.0])
    with mg.detect_anomaly():
        with pytest.raises(AnomalyError, match="'log'.*NaN"):
            mg.log(x)


def test_detect_anomaly_names_the_op_whose_gradient_is_not_finite():
    x = leaf([0.0, 1.0])
    with mg.detect_anomaly():
        y = mg.sqrt(x).sum()       # forward is fine: sqrt(0) = 0
        with pytest.raises(AnomalyError, match="(?s)vjp of 'sqrt'.*Inf.*test_autodiff.py"):
            y.backward()


def test_without_detect_anomaly_nan_passes_silently():
    x = leaf([-1.0])
    y = mg.log(x)
    assert np.isnan(y.item())


# --------------------------------------------------------------------------
# custom ops
# --------------------------------------------------------------------------


class Cube(mg.Op):
    """y = x³ with hand-written rules, as a user would add an op."""

    name = "cube"

    def forward(self, x):
        return x ** 3

    def vjp(self, g):
        (x,) = self.inputs
        return g * 3 * x * x

    def jvp(self, dx):
        (x,) = self.inputs
        return dx * 3 * x * x


def test_a_user_defined_op_passes_gradcheck():
    x = mg.tensor(np.array([0.5, -1.5, 2.0]))
    rep = mg.gradcheck(lambda t: mg.apply(Cube(), t), (x,))
    assert rep.ok


def test_an_op_that_reads_an_unsaved_input_fails_loudly():
    class Bad(mg.Op):
        name = "bad"
        saves_inputs = False

        def forward(self, x):
            return x * 2

        def vjp(self, g):
            return g * self.inputs[0]

    x = leaf([1.0])
    with pytest.raises(GradientError, match="saves_inputs = False"):
        mg.apply(Bad(), x).sum().backward()


def test_a_vjp_returning_too_few_gradients_is_reported():
    class Bad(mg.Op):
        name = "bad2"

        def forward(self, a, b):
            return a + b

        def vjp(self, g):
            return (g,)

    a, b = leaf([1.0]), leaf([2.0])
    with pytest.raises(GradientError, match="'bad2' returned 1 gradients for 2 inputs"):
        mg.apply(Bad(), a, b).sum().backward()


# --------------------------------------------------------------------------
# apply's fast path (one or two inputs, no forward level, no anomaly mode)
# must build exactly what the general path builds
# --------------------------------------------------------------------------


def _node_summary(out, inputs):
    """What apply recorded for ``out``, in terms that do not depend on which
    path ran."""
    def position(t):                 # which of the inputs ``t`` is
        return [t is x for x in inputs].index(True)

    def describe(edge):
        if edge is None:
            return None
        if isinstance(edge, mg.Tensor):
            return f"leaf {position(edge)}"
        return f"node {edge.name}"

    node = out.grad_fn
    if node is None:
        return ("no node", out.requires_grad, out.dtype)
    saved = None if node._inputs is None else [position(t) for t in node._inputs]
    return (node.name, [describe(e) for e in node._edges], node._out_meta, saved,
            node._versions, node._out_data is not None, out.requires_grad)


class _CountLarger(mg.Op):
    """An op with an integer result: it must not be recorded."""

    name = "count_larger"

    def forward(self, a, b):
        return (a > b).astype(np.int64)


FAST_PATH_CASES = {
    "add, broadcasting": (lambda a, b: a + b, [(2, 3), (3,)], [True, False]),
    "mul saves its inputs": (lambda a, b: a * b, [(3,), (3,)], [False, True]),
    "exp saves its output": (lambda a: mg.exp(a), [(3,)], [True]),
    "an input made by an op": (lambda a, b: (a * 2) - b, [(3,), (3,)], [True, True]),
    "nothing requires grad": (lambda a, b: a / b, [(3,), (3,)], [False, False]),
    "an integer result": (lambda a: a.astype(np.int64), [(3,)], [True]),
    "an integer result of two inputs": (lambda a, b: mg.apply(_CountLarger(), a, b),
                                        [(3,), (3,)], [True, True]),
    "three inputs (general path only)": (lambda x, w, b: mg.linear(x, w, b),
                                         [(2, 3), (4, 3), (4,)], [True, True, False]),
}


@pytest.mark.parametrize("case", list(FAST_PATH_CASES))
def test_fast_and_general_path_record_the_same_node_and_gradients(case, rng):
    f, shapes, requires = FAST_PATH_CASES[case]
    arrays = [rng.standard_normal(s) + 3.0 for s in shapes]

    def run():
        inputs = [mg.tensor(a, requires_grad=r) for a, r in zip(arrays, requires)]
        out = f(*inputs)
        summary = _node_summary(out, inputs)
        grads = None
        if out.requires_grad:
            out.sum().backward()
            grads = [None if t.grad is None else t.grad.numpy() for t in inputs]
        return out.numpy(), summary, grads

    assert autodiff._state.fast_grad_mode is True
    fast = run()
    with mg.dual_level():            # an active level: the general path runs
        assert autodiff._state.fast_grad_mode is None
        general = run()
    np.testing.assert_array_equal(fast[0], general[0])
    assert fast[1] == general[1]
    assert (fast[2] is None) == (general[2] is None)
    for a, b in zip(fast[2] or [], general[2] or []):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_both_paths_name_the_op_and_shapes_in_a_forward_error():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((4,)))
    with pytest.raises(ShapeError, match=r"add: .*\(2, 3\), \(4,\)"):
        a + b
    with mg.dual_level(), pytest.raises(ShapeError, match=r"add: .*\(2, 3\), \(4,\)"):
        a + b


def test_the_fast_path_flag_follows_every_mode_change_even_on_errors():
    state = autodiff._state

    def flag():
        return state.fast_grad_mode

    assert flag() is True
    with pytest.raises(RuntimeError):
        with mg.dual_level():
            with mg.detect_anomaly():
                assert flag() is None
            assert flag() is None
            raise RuntimeError("leave both blocks by an exception")
    assert flag() is True
    with mg.detect_anomaly():
        assert flag() is None
        with mg.detect_anomaly(enabled=False):
            assert flag() is True
            with mg.no_grad():
                assert flag() is False
        assert flag() is None
    with mg.dual_level():
        with mg.dual_level():
            pass
        assert flag() is None
        with mg.no_grad():
            assert flag() is None
    with mg.no_grad():
        assert flag() is False
        with mg.enable_grad():
            assert flag() is True
        with mg.set_grad_enabled(True):
            assert flag() is True
        assert flag() is False
        with mg.dual_level():
            assert flag() is None
        assert flag() is False
    mode = mg.set_grad_enabled(False)    # takes effect at once, like torch
    assert flag() is False
    mode.__exit__(None, None, None)
    assert flag() is True

    @mg.no_grad()
    def inside():
        return flag()

    assert inside() is False and flag() is True


def test_forward_mode_and_anomaly_checks_still_run_for_two_input_ops():
    x = mg.tensor([1.0, 2.0], dtype=np.float64)
    with mg.dual_level():
        xd = mg.make_dual(x, mg.tensor([1.0, 0.0], dtype=np.float64))
        y = xd * xd + x
        assert_close(mg.unpack_dual(y)[1], [2.0, 0.0])
    with mg.detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(AnomalyError, match="'div'"):
        leaf([1.0]) / mg.tensor([0.0], dtype=np.float64)


def test_grad_mode_levels_and_anomaly_mode_are_per_thread():
    """Each thread has its own grad mode, forward levels and anomaly mode,
    so one thread's no_grad / dual_level / detect_anomaly never sends
    another thread's ops down the wrong path."""
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        with mg.no_grad(), mg.dual_level(), mg.detect_anomaly():
            x = leaf([1.0])
            seen["other records"] = (x * 2).requires_grad
            seen["other flag"] = autodiff._state.fast_grad_mode
            entered.set()
            done.wait(10)

    t = threading.Thread(target=other_thread)
    t.start()
    try:
        assert entered.wait(10)
        x = leaf([-1.0])
        assert autodiff._state.fast_grad_mode is True and mg.is_grad_enabled()
        assert (x * 2).requires_grad
        with np.errstate(invalid="ignore"):
            assert np.isnan(mg.log(x).item())   # no anomaly mode in this thread
    finally:
        done.set()
        t.join()
    assert seen == {"other records": False, "other flag": None}


def test_release_drops_what_the_op_stashed_but_keeps_hooks_and_retained_grads():
    class Masked(mg.Op):
        name = "masked"
        saves_inputs = False

        def forward(self, x):
            self.mask = x > 0          # stashed by the forward for the vjp
            return x * self.mask

        def vjp(self, g):
            return g * mg.Tensor(self.mask)

    x = leaf([1.0, -1.0])
    h = mg.apply(Masked(), x)
    node = h.grad_fn
    mask = weakref.ref(node.mask)
    seen = []
    h.retain_grad()
    h.register_hook(lambda g: seen.append(1))
    (h * 3).sum().backward()
    gc.collect()
    assert mask() is None                        # the stash is freed
    assert node._released and node._hooks and node._retained() is h
    assert seen == [1]
    assert_close(h.grad, [3.0, 3.0])
    assert_close(x.grad, [3.0, 0.0])
    with pytest.raises(GradientError, match="second time"):
        (h * 3).sum().backward()


def test_parents_walk_the_graph_from_the_loss():
    """``grad_fn.parents``: the node that made each input, the leaf itself,
    or None for an input that needs no gradient."""
    x = mg.randn(3, requires_grad=True)
    w = mg.randn(3)                                   # a constant
    loss = mg.tanh(x * w).sum()
    (tanh,) = loss.grad_fn.parents
    (mul,) = tanh.parents
    assert (loss.grad_fn.name, tanh.name, mul.name) == ("sum", "tanh", "mul")
    assert mul.parents[0] is x and mul.parents[1] is None


def test_a_vjp_called_by_hand_outside_backward_wants_every_input():
    x, y = mg.randn(3, requires_grad=True), mg.randn(3, requires_grad=True)
    node = (x * y).grad_fn
    assert list(node.needs_input_grad) == [True, True]
    gx, gy = node.vjp(mg.ones(3))
    assert_close(gx, y.numpy())
    assert_close(gy, x.numpy())


def test_reading_the_inputs_of_an_op_that_does_not_save_them_says_so():
    out = mg.randn(3, requires_grad=True).sum()
    with pytest.raises(mg.GradientError, match="'sum' does not save its inputs.*parents"):
        out.grad_fn.inputs
