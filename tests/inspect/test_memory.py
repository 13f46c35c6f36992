"""Activation memory: the engine's count of what the graph keeps for its vjps
against hand-counted array sizes (an MLP, a conv net), no leak after the
backward, per-layer numbers that add up to the peak, the local rules
keeping less than backprop, PEPITA's own arrays, and runs without a
tracker left alone.

Sizes are in float64 (8 bytes); the index arrays cross_entropy keeps are
int64 (8 bytes)."""
import gc

import numpy as np
import pytest

import minigrad as mg
from minigrad import autodiff, nn, rules
from minigrad.inspect import activation_memory
from tests.rules.conftest import convnet, mlp

N = 6
F = 8                    # bytes per float64 (and per int64 index)
RULES = [("bp", {}), ("mono_forward", {}), ("local_ce", {}), ("ff", {}), ("pepita", {}),
         ("predictive_coding", {}), ("predictive_coding", {"fixed_prediction": True})]


@pytest.fixture(autouse=True)
def f64():
    mg.set_default_dtype(np.float64)


def _batch(shape, seed=0):
    rng = np.random.default_rng(seed)
    return mg.tensor(rng.standard_normal((N,) + shape)), np.arange(N) % 3


def cross_entropy_bytes(n, classes):
    """What ``cross_entropy(logits (n, C), labels)`` keeps: log_softmax its
    output (n·C); getitem its index, arange(n) and the labels (2n int64).
    With every label a class and none ignored there is no weight array, and
    the negation and the mean keep nothing."""
    return (n * classes + 2 * n) * F


# -- hand-counted sizes -----------------------------------------------------------------------


def test_backprop_on_an_mlp_keeps_exactly_the_hand_counted_arrays():
    """mlp([5, 7, 6, 3], "tanh"): Flatten, L1, tanh, L3, tanh, L5. linear keeps
    its input (not W, b: parameters), tanh its output, cross_entropy the above;
    the tanh outputs are the next layers' inputs (one buffer each)."""
    x, y = _batch((5,))
    report = activation_memory(rules.make("bp", mlp()), x, y)
    first = N * 5 * F + N * 7 * F          # x, saved by L1; tanh's output
    assert report.per_layer == {"1": first, "3": N * 6 * F, "5": cross_entropy_bytes(N, 3)}
    assert report.peak == first + N * 6 * F + cross_entropy_bytes(N, 3) == 1104
    assert report.total == report.peak      # backprop frees nothing before its backward
    assert report.left == 0


def test_the_shallow_control_keeps_only_what_its_last_layer_needs():
    """Only the last layer learns, so the fixed hidden layers record no graph:
    what is kept is the last layer's input (the second tanh's output, which
    the Linear saves) and the loss's arrays -- not the hidden layers'."""
    x, y = _batch((5,))
    report = activation_memory(rules.make("shallow", mlp()), x, y)
    assert report.per_layer == {"1": 0, "3": 0, "5": N * 6 * F + cross_entropy_bytes(N, 3)}
    assert report.peak == N * 6 * F + cross_entropy_bytes(N, 3)


def test_backprop_on_a_conv_net_keeps_exactly_the_hand_counted_arrays():
    """Conv(2→3, 3×3, pad 1), tanh, maxpool 2, Conv(3→4, 3×3), relu, Flatten,
    Linear(4, 5), tanh, Linear(5, 3) on (N, 2, 6, 6). conv2d = W @ unfold(x):
    the matmul keeps the unfolded columns (N, C·9, positions), not the input
    (which needs no gradient); max pooling keeps the mask [x = max], one
    byte per element of its input windows, and each window's number of ties;
    relu and tanh keep their outputs; the flattened relu output is a view of
    it (one buffer)."""
    x, y = _batch((2, 6, 6))
    report = activation_memory(rules.make("bp", convnet()), x, y)
    expected = {
        # columns, tanh output; the pool's mask (bool) and ties (one per window)
        "0": N * (2 * 9 * 36 + 3 * 36) * F + N * 3 * 36 + N * 3 * 9 * F,
        "3": N * (3 * 9 * 1 + 4) * F,                   # columns (1 position), relu output
        "6": N * 5 * F,                                 # tanh output
        "8": cross_entropy_bytes(N, 3),
    }
    assert report.per_layer == expected
    assert report.peak == sum(expected.values()) == 40200
    assert report.left == 0


def test_the_tracker_counts_buffers_not_views_and_leaves_parameters_out():
    w = mg.tensor(np.ones(10), requires_grad=True)
    base = mg.tensor(np.ones((10, 10)))
    with autodiff.track_saved_memory() as mem:
        v = mg.reshape(w, (2, 5)) @ mg.tensor(np.ones((5, 3)))   # a view of w: not counted
        assert mem.current == 5 * 3 * F
        y = base[:1] * w                 # mul keeps a view of one row of base: base is kept
        z = w * w                        # keeps only the parameter: nothing counted
    assert mem.peak == mem.current == 5 * 3 * F + 10 * 10 * F
    del y, z, v
    gc.collect()
    assert mem.current == 0


def test_what_a_backward_frees_leaves_the_count_and_retained_graphs_stay():
    x = mg.tensor(np.ones((4, 3)))
    w = mg.tensor(np.ones(3), requires_grad=True)
    with autodiff.track_saved_memory() as mem:
        loss = mg.tanh(x * w).sum()      # mul keeps x; tanh keeps its output
        assert mem.current == 2 * 4 * 3 * F
        loss.backward(retain_graph=True)
        assert mem.current == 2 * 4 * 3 * F      # retained: still kept
        loss.backward()
        assert mem.current == 0                  # freed after each node's vjp
    assert mem.peak == 2 * 4 * 3 * F
    with autodiff.track_saved_memory() as mem:
        loss = mg.tanh(x * w).sum()
        del loss                                 # dropped without a backward
        gc.collect()
        assert mem.current == 0 and mem.peak == 2 * 4 * 3 * F


def test_scopes_and_holds():
    x = mg.tensor(np.ones(5))
    w = mg.tensor(np.ones(5), requires_grad=True)
    with autodiff.track_saved_memory() as mem:
        assert autodiff.active_memory_tracker() is mem
        mem.scope = "a"
        y = x * w                                # x: 40 bytes in "a"
        mem.scope = "b"
        held = np.ones(7)
        mem.hold("mine", [held, held[2:]])       # one buffer, counted once, in "b"
        z = mg.tanh(y)                           # tanh's output: 40 bytes in "b"
        assert mem.by_scope == {"a": 5 * F, "b": 7 * F + 5 * F}
        mem.release("mine")
        mem.release("mine")                      # idempotent
        assert mem.current == 10 * F
    assert autodiff.active_memory_tracker() is None
    assert mem.peak == 17 * F and mem.peak_by_scope == {"a": 5 * F, "b": 12 * F}
    del y, z


# -- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,opts", RULES + [("local_ce", {"detach": False}),
                                               ("ff", {"collaborative": True}), ("fa", {})],
                         ids=lambda v: v if isinstance(v, str) else str(v or ""))
def test_per_layer_adds_up_to_the_peak_and_nothing_is_left(name, opts):
    model = mlp(act="relu")
    x, y = _batch((5,))
    report = activation_memory(rules.make(name, model, **opts), x, y)
    assert report.peak > 0
    assert sum(report.per_layer.values()) == report.peak
    assert list(report.per_layer) == ["1", "3", "5"]
    assert all(report.layer_peaks[k] >= report.per_layer[k] for k in report.per_layer)
    assert report.left == 0


def test_the_local_rules_on_the_small_mlp_keep_one_block_at_a_time():
    """Mono-Forward: block 1 keeps x, its tanh output and its goodness's
    cross-entropy (the projection keeps its input, the tanh output); block
    2 keeps its detached input (block 1's output), its tanh output and its
    cross-entropy; each block's graph is freed before the next runs, so the
    peak is the larger block, not their sum. local_ce's linear head keeps
    the same, plus α·Lᵢ's two scalars."""
    x, y = _batch((5,))
    ce = cross_entropy_bytes(N, 3)
    block1, block2, out = N * (5 + 7) * F + ce, N * (7 + 6) * F + ce, N * 6 * F + ce
    mf = activation_memory(rules.make("mono_forward", mlp()), x, y)
    assert mf.layer_peaks == {"1": block1, "3": block2, "5": out}
    assert mf.peak == max(block1, block2, out) == 864
    assert mf.per_layer == {"1": 0, "3": block2, "5": 0}
    assert mf.total == block1 + block2 + out   # block 1's output counted again in block 2
    lce = activation_memory(rules.make("local_ce", mlp()), x, y)
    assert lce.peak == block2 + 2 * F == 880


def test_local_rules_keep_less_than_backprop_on_the_same_model_and_batch():
    """Six hidden layers of 8 units, N = 6. Backprop keeps every layer's
    activity until its backward (2832 bytes); Mono-Forward and local_ce one
    block's (1008, 1024); FF one layer's, but for 2N rows -- positive and
    negative; the neutral rows run without a graph -- which is why it needs
    a deeper net than the others to win (1744); its peak is the read-out's,
    one linear map of the activities of hidden layers 2-6, which it keeps
    for its weights' gradients (2160). The whole-graph variants keep at
    least backprop's."""
    sizes = [6] + [8] * 6 + [3]
    x, y = mg.tensor(np.random.default_rng(0).standard_normal((N, 6))), np.arange(N) % 3

    def measure(name, **opts):
        model = nn.mlp(sizes, "relu", generator=np.random.default_rng(0))
        return activation_memory(rules.make(name, model, **opts), x, y)

    bp = measure("bp").peak
    assert bp == N * (6 + 8 * 6) * F + cross_entropy_bytes(N, 3) == 2832
    local = {name: measure(name) for name in ("mono_forward", "local_ce", "ff")}
    assert {k: r.peak for k, r in local.items()} == {"mono_forward": 1008, "local_ce": 1024,
                                                     "ff": 2160}
    assert all(r.peak < bp for r in local.values())
    # FF's layer: its 2N-row input and relu output, and its loss: s·(G − θ) keeps
    # G − θ and the constant s for each half, softplus its input (2N)
    layer = (2 * N * (8 + 8) + 2 * (N + 1) + 2 * N) * F
    ff = local["ff"]
    assert [ff.layer_peaks[k] for k in ("3", "5", "7", "9", "11")] == [layer] * 5
    # the read-out: the neutral rows' normalised activities of layers 2-6, and its loss
    assert ff.peak == 5 * N * 8 * F + cross_entropy_bytes(N, 3) > layer
    assert measure("local_ce", detach=False).peak >= bp
    assert measure("ff", collaborative=True).peak > 2 * layer


def test_pepita_reports_the_activities_it_keeps_between_its_passes():
    """The standard pass keeps the input (until x + Fe is formed) and every
    hidden activity (until the modulated pass reaches its layer); the
    output error is used at once. With dropout, the masks are kept for the
    second pass too. Without a tracker the rule computes the same."""
    x, y = _batch((5,))
    report = activation_memory(rules.make("pepita", mlp()), x, y)
    assert report.per_layer == {"1": N * (5 + 7) * F, "3": N * 6 * F, "5": 0}
    assert report.peak == N * (5 + 7 + 6) * F and report.left == 0
    dropout = nn.mlp([5, 7, 6, 3], "relu", dropout=0.5, generator=np.random.default_rng(0))
    mg.manual_seed(1)
    report = activation_memory(rules.make("pepita", dropout), x, y)
    assert report.peak == N * (5 + 7 + 6) * F + N * (7 + 6) * F          # + the masks
    assert report.left == 0


def test_predictive_coding_reports_its_value_nodes_errors_and_derivatives():
    """mlp([5, 7, 6, 3]): during inference layer l keeps its presynaptic
    value node xₗ₋₁ (x itself for the first), its error εₗ and σ′(zₗ) (N
    rows of its width each). With the fixed-prediction assumption it also
    keeps x̄ₗ₋₁, μ̄ₗ and σ′(z̄ₗ) of the feedforward pass to the end; each
    buffer counts once, for the first layer that keeps it: μ̄ₗ is x̄ₗ (layer
    l's, so not again for layer l+1), σ′(z̄ₗ) is the derivative the inference
    uses, and the clamped x is x̄₀. After the first inference step the value
    nodes are new arrays."""
    x, y = _batch((5,))
    report = activation_memory(rules.make("predictive_coding", mlp()), x, y)
    assert report.per_layer == {"1": N * (5 + 7 + 7) * F, "3": N * (7 + 6 + 6) * F,
                                "5": N * (6 + 3 + 3) * F}
    assert report.left == 0
    fixed = activation_memory(rules.make("predictive_coding", mlp(), fixed_prediction=True),
                              x, y)
    assert fixed.per_layer == {"1": N * (5 + 7 + 7 + 7) * F,       # x, μ̄₁, σ′(z̄₁), ε₁
                               "3": N * (6 + 6 + 7 + 6) * F,       # μ̄₂, σ′(z̄₂), x₁, ε₂
                               "5": N * (3 + 3 + 6 + 3) * F}       # μ̄₃, σ′(z̄₃), x₂, ε₃
    assert fixed.left == 0


def test_fa_keeps_what_backprop_keeps_its_feedback_matrices_excluded():
    """FA runs its layers through functions of its own (instance forwards)
    and its ops hold B; the scopes still follow the layers, and B, which
    exists anyway, is not counted."""
    x, y = _batch((2, 6, 6))
    bp = activation_memory(rules.make("bp", convnet()), x, y)
    fa = activation_memory(rules.make("fa", convnet()), x, y)
    assert fa.per_layer == bp.per_layer and fa.peak == bp.peak


@pytest.mark.parametrize("name,opts", RULES)
def test_a_run_without_a_tracker_is_unaffected(name, opts):
    x, y = _batch((5,))

    def updates(measure):
        mg.manual_seed(3)
        rule = rules.make(name, mlp(act="relu"), seed=1, **opts)
        if not measure:
            return rule.updates(x, y)
        with autodiff.track_saved_memory():
            return rule.updates(x, y)

    plain, measured = updates(False), updates(True)
    assert plain.keys() == measured.keys()
    for k in plain:
        np.testing.assert_array_equal(plain[k], measured[k], err_msg=k)
    assert autodiff.active_memory_tracker() is None
    # the methods activation_memory wraps to see which block runs are restored
    methods = lambda: (nn.Module.__call__, nn.Linear.forward, nn.ReLU.forward,  # noqa: E731
                       nn.Flatten.forward, "forward" in vars(nn.ReLU))
    before = methods()
    activation_memory(rules.make(name, mlp(act="relu"), **opts), x, y)
    assert methods() == before
    # a node recorded without a tracker carries nothing of it
    w = mg.tensor(np.ones(3), requires_grad=True)
    assert (w * w).grad_fn._memory is None
