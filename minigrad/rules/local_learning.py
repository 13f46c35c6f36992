"""Local learning: every block of the network learns from a classifier of
its own, and no error crosses from one block into the one before it.

* ``mono_forward`` (Gong, Li & Abdulla 2025, "Mono-Forward:
  Backpropagation-Free Algorithm for Efficient Neural Network Training
  Harnessing Local Errors", arXiv:2501.09238): each hidden layer i has a
  learnable projection Mᵢ (classes × width) and scores the classes by its
  *goodness* Gᵢ = aᵢ Mᵢᵀ, trained with a local softmax cross-entropy.
* ``local_ce`` (deep supervision: Lee et al. 2015, "Deeply-Supervised
  Nets"; greedy layer-wise training: Bengio et al. 2007, Belilovsky,
  Eickenberg & Oyallon 2019, "Greedy Layerwise Learning Can Scale to
  ImageNet"): an auxiliary classifier (a linear layer, or a small MLP) on
  every hidden block; with ``detach=True`` each block learns from its own
  head only, with ``detach=False`` the heads' losses are added to the
  end-to-end loss (DSN).

How the model is cut
--------------------
Both rules train a Sequential chain, cut by :func:`~.base.chain_blocks`
into blocks: a Linear or Conv2d layer and the modules after it up to the
next one (activation, pooling, dropout, flatten). The activity aᵢ of block
i is the block's output flattened to (N, widthᵢ) -- for a convolutional
block, channels × height × width after its pooling. Every block but the
last is a *hidden* block and gets a local classifier. The *last* block is
the model's output layer, producing the C class scores; it is trained by
the task loss (cross-entropy) on its own detached input, so it is one more
local classifier, on a_L, and ``predict(x) = model(x)``: one forward pass
trains and predicts.

To size the classifiers of convolutional blocks before the first batch (the
optimizer must hold them from the start), the rule runs the model once on
a zero input of the shape of one example: ``input_shape=`` (a
hyper-parameter), else the model's own ``input_shape`` (``nn.lenet5`` sets
it), else the input size of a first Linear layer.

Learning block by block
-----------------------
When the blocks are cut (Mono-Forward; ``local_ce`` with ``detach=True``)
each block learns as soon as it has run: its local loss is differentiated
at once with respect to the block's parameters and its classifier's (the
only ones it reaches, the block's input being detached), which frees the
block's graph before the next block runs on the detached output
(:meth:`_LocalRule.learn_block_by_block`). The updates are those of
differentiating L_task + Σᵢ Lᵢ in one go, but only one block's
activations are alive at a time instead of the whole network's -- the
memory local learning saves over backprop
(``minigrad.inspect.activation_memory`` measures it). ``local_ce`` with
``detach=False`` sends every head's error into every layer below it, so it
builds the whole graph and differentiates the sum, as backprop does.

Both rules need class labels (``loss="cross_entropy"``). ``last_loss`` is
the *task* loss of the model's output (comparable with every other rule
and with the test loss); the local losses are in ``last_local_losses``
({layer name: loss}) and their sum is reported by ``step`` as
``"local_loss"``. ``last_signals`` holds, for every layer, the gradient its
output received -- from its own local loss only when the blocks are cut.
"""
from __future__ import annotations

import math
import numbers

from .. import backend as _backend
from .. import nn, ops
from ..autodiff import no_grad
from ..errors import ArgumentError
from ..tensor import Tensor
from .base import Rule, chain_blocks, register, run_modules


class _LocalRule(Rule):
    """What both rules share: the chain of blocks, the sizes of their
    activities, a forward pass that can cut the graph between blocks."""

    unsupported = (nn.ResidualBlock,)

    def check_model(self):
        super().check_model()
        self.prefix, self.blocks = chain_blocks(self.name, self.model)
        if self.loss_name != "cross_entropy":
            raise ArgumentError(f"rule {self.name!r} trains every block with a local "
                                f"cross-entropy on class labels; it cannot use the loss "
                                f"{self.loss_name!r} (a regression task)")

    @property
    def hidden_blocks(self):
        """``[(layer name, layer, followers)]`` of every block but the output layer's."""
        return self.blocks[:-1]

    # -- sizes --------------------------------------------------------------------
    def _input_shape(self):
        shape = self.options.get("input_shape")
        if shape is None:
            shape = getattr(self.model, "input_shape", None)
        if shape is None:
            first = self.blocks[0][1]
            if isinstance(first, nn.Linear):
                return (first.in_features,)
            raise ArgumentError(
                f"rule {self.name!r}: the model starts with a convolution ({self.blocks[0][0]!r}"
                f"), so the size of its blocks' flattened outputs depends on the image size; "
                f"pass input_shape=(channels, height, width), or build the model with "
                f"input_shape set (nn.lenet5 does)")
        if isinstance(shape, numbers.Integral):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not shape or not all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
                for s in shape):
            raise ArgumentError(f"rule {self.name!r}: input_shape must be the shape of one "
                                f"example, positive integers such as (1, 28, 28); got {shape!r}")
        return tuple(int(s) for s in shape)

    def _activity_widths(self):
        """``[width of block i's flattened output]`` for every block, from one
        forward pass on a zero example (in eval mode, so dropout draws no
        random numbers and batch norm keeps its statistics)."""
        shape = self._input_shape()
        weight = self.blocks[0][1].weight
        xp = _backend.get_xp(weight.backend)
        h = Tensor(xp.zeros((1,) + shape, dtype=weight.data.dtype))
        modes = [(m, m.training) for m in self.model.modules()]
        widths = []
        try:
            self.model.eval()
            with no_grad():
                h = run_modules(self.prefix, h)
                for _, layer, after in self.blocks:
                    h = run_modules(after, layer(h))
                    widths.append(h.size)
        except ValueError as exc:       # ShapeError: the input shape does not fit
            raise ArgumentError(f"rule {self.name!r}: the model cannot run on inputs of shape "
                                f"{shape}: {exc}") from None
        finally:
            for m, mode in modes:
                m.training = mode
        return widths

    def _new_module(self, make):
        """``make(dtype)`` built on NumPy from the rule's generator (the same
        numbers on every backend), then moved to the model's backend."""
        weight = self.blocks[0][1].weight
        module = make(weight.data.dtype)
        if weight.backend != "numpy":
            module.to(weight.backend)
        return module

    def _make_classifiers(self, make):
        """``self.local``: one classifier per hidden block, named by its layer,
        ``make(width of the block's activity, classes, dtype)`` (built on NumPy
        from the rule's generator, moved to the model's backend)."""
        widths = self._activity_widths()
        classes = widths[-1]
        self.local = nn.Module()
        for (name, _, _), width in zip(self.hidden_blocks, widths):
            setattr(self.local, name, self._new_module(
                lambda dtype, width=width: make(width, classes, dtype)))

    # -- running ------------------------------------------------------------------
    def run_block(self, name, layer, after, h):
        """Block ``name``'s output on input ``h``: the layer, then the modules
        after it. The layer's output keeps the gradient it receives in
        ``last_signals``."""
        return run_modules(after, self._record_signal(name, layer(h)))

    def run_blocks(self, x, detach):
        """Every block's output ``[a₁, ..., a_L]`` (a_L: the model's output).
        With ``detach`` each block's input is cut from the graph, so no error
        reaches a block from the blocks after it."""
        h = run_modules(self.prefix, x)
        activities = []
        for i, (name, layer, after) in enumerate(self.blocks):
            if detach and i > 0:
                h = h.detach()
            h = self.run_block(name, layer, after, h)
            activities.append(h)
        return activities

    # -- learning block by block ------------------------------------------------------
    def classify(self, name, activity):
        """The class scores of block ``name``'s local classifier on its activity."""
        raise NotImplementedError

    def weighted(self, local_loss):
        """A block's local loss as the rule differentiates it (α Lᵢ for local_ce)."""
        return local_loss

    def learn_block_by_block(self, x, y):
        """Run the blocks one at a time, each learning as soon as it has run.

        Block i runs on the detached output of block i − 1; its local
        classifier scores its activity, Lᵢ = CE(scores, y), and Lᵢ is
        differentiated at once. Block i's input is detached, so Lᵢ reaches
        only block i's parameters and its classifier's: the gradients are
        those of the whole sum L_task + Σᵢ Lᵢ, and the backward frees block
        i's graph before block i + 1 runs -- one block's activations are
        alive at a time, not the whole network's (what local learning saves
        over backprop; ``minigrad.inspect.activation_memory`` measures it).
        The output layer learns last, from the task loss on its detached input.

        Returns ``(updates, output, task loss, {layer name: Lᵢ}, [scores of
        every hidden block, detached])``."""
        ups, local, scores = {}, {}, []
        h = run_modules(self.prefix, x)
        for name, layer, after in self.hidden_blocks:
            a = self.run_block(name, layer, after, h)        # aᵢ
            s = self.classify(name, a)                       # the local classifier's scores
            local[name] = ops.cross_entropy(s, y)            # Lᵢ
            self.learn_now(self.weighted(local[name]), ups)     # ∂Lᵢ/∂(block i, its classifier)
            scores.append(s.detach())
            h = a.detach()                                   # no error crosses into block i
        name, layer, after = self.blocks[-1]
        out = self.run_block(name, layer, after, h)
        task = self.loss(out, y)                             # the output layer: the task loss
        self.learn_now(task, ups)
        return self.in_parameter_order(ups), out, task, local, scores

    def measures(self):
        return {"local_loss": sum(self.last_local_losses.values())}

    def _finish(self, out, task, local, scores=None):
        self.last_output = out if scores is None else scores
        self.last_loss = float(task.item())
        self.last_local_losses = {n: float(v.item()) for n, v in local.items()}


def _check_number(rule, key, value, low, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if not isinstance(value, kind) or isinstance(value, bool) or not math.isfinite(value) \
            or value < low:
        what = "an integer" if integer else "a number"
        raise ArgumentError(f"rule {rule!r}: {key} must be {what} >= {low}, got {value!r}")


# --------------------------------------------------------------------------
# Mono-Forward
# --------------------------------------------------------------------------


@register
class MonoForward(_LocalRule):
    """Gᵢ = aᵢ Mᵢᵀ,  Lᵢ = CE(softmax(Gᵢ), y): each layer learns from its goodness.

    Gong, Li & Abdulla 2025 (arXiv:2501.09238). For every hidden block i,
    with activity aᵢ (N × widthᵢ) and a learnable projection Mᵢ (C × widthᵢ,
    no bias):

        Gᵢ = aᵢ Mᵢᵀ                                  (goodness, N × C)
        Lᵢ = −(1/N) Σₙ log softmax(Gᵢ)ₙ,ᵧₙ            (local cross-entropy)
        ΔWᵢ = −η ∂Lᵢ/∂Wᵢ,   ΔMᵢ = −η ∂Lᵢ/∂Mᵢ = −η (1/N)(softmax(Gᵢ) − Y)ᵀ aᵢ

    with the block's input aᵢ₋₁ detached: the error δᵢ = ∂Lᵢ/∂zᵢ =
    (Mᵢᵀ(softmax(Gᵢ) − Y)/N) ⊙ f′(zᵢ) is built from the layer's own
    projection, never from the layers after it. Mᵢ is initialised like a
    bias-free ``nn.Linear(widthᵢ, C)``: U(−1/√widthᵢ, 1/√widthᵢ), from the
    rule's seeded generator (the paper does not fix an initialisation).

    Prediction. The paper predicts in one forward pass from the last layer's
    goodness ("FF-style"; summing the goodness of all layers is its variant),
    or with a final layer trained by backprop on the last hidden layer
    ("BP-style"). Here the model's own output layer is that final layer, and
    it is trained on its *detached* input a_L with the task loss -- which is
    exactly a local cross-entropy classifier of a_L, Mono-Forward's loss with
    a bias -- so no error crosses a block either way. ``predict`` chooses the
    scores (the default first):

    * ``"output"``: the model's output (what ``model(x)`` gives);
    * ``"goodness"``: G of the last hidden block;
    * ``"goodness_sum"``: Σᵢ Gᵢ over the hidden blocks.
    """

    name = "mono_forward"
    summary = "Mono-Forward: each layer learns from the local cross-entropy of its goodness aMᵀ"
    paper = "Gong et al. 2025"
    hparams = {"predict": "output", "input_shape": None}
    PREDICT = ("output", "goodness", "goodness_sum")

    def setup(self):
        how = self.options["predict"]
        if how not in self.PREDICT:
            raise ArgumentError(f"rule 'mono_forward': predict must be one of "
                                f"{', '.join(self.PREDICT)}; got {how!r}")
        if how != "output" and not self.hidden_blocks:
            raise ArgumentError(f"rule 'mono_forward': predict={how!r} reads the goodness of "
                                f"the hidden layers, but the model has none (one layer, "
                                f"{self.blocks[0][0]!r})")
        self.last_local_losses = {}
        self._make_classifiers(                      # the projections Mᵢ
            lambda width, classes, dtype: nn.Linear(width, classes, bias=False, dtype=dtype,
                                                    backend="numpy", generator=self.generator))

    def projection(self, name):
        """Mᵢ of layer ``name``, as a bias-free Linear: ``projection(name)(a) = a Mᵢᵀ``."""
        return getattr(self.local, name)

    def goodness(self, name, activity):
        """Gᵢ = aᵢ Mᵢᵀ for the block of layer ``name`` (N × C)."""
        return self.projection(name)(activity.flatten(1))

    def classify(self, name, activity):
        return self.goodness(name, activity)

    def _combine(self, goodness):
        """The scores ``predict`` chooses from ``[Gᵢ of every hidden block]``."""
        if self.options["predict"] == "goodness":
            return goodness[-1]
        total = None
        for g in goodness:
            total = g if total is None else total + g
        return total

    def _scores(self, activities):
        how = self.options["predict"]
        if how == "output":
            return activities[-1]
        names = [name for name, _, _ in self.hidden_blocks]
        if how == "goodness":
            return self.goodness(names[-1], activities[len(names) - 1])
        return self._combine([self.goodness(n, a) for n, a in zip(names, activities)])

    def updates(self, x, y):
        """Each hidden block learns from Lᵢ = CE(aᵢMᵢᵀ, y) as soon as it has
        run, the output layer from the task loss (see
        :meth:`~_LocalRule.learn_block_by_block`)."""
        self.follow_model()
        self.last_signals = {}
        ups, out, task, local, goodness = self.learn_block_by_block(x, y)
        scores = None
        if self.options["predict"] != "output":
            scores = self._combine(goodness)
        self._finish(out, task, local, scores)
        return self.adjust(ups)

    def predict(self, x):
        self.follow_model()
        if self.options["predict"] == "output":
            return self.model(x)
        return self._scores(self.run_blocks(x, detach=False))


# --------------------------------------------------------------------------
# Local classifier heads (deep supervision / greedy layer-wise)
# --------------------------------------------------------------------------


@register
class LocalCrossEntropy(_LocalRule):
    """Lᵢ = CE(hᵢ(aᵢ), y): an auxiliary classifier hᵢ on every hidden block.

    After Deeply-Supervised Nets (Lee, Xie, Gallagher, Zhang & Tu 2015) and
    greedy layer-wise training (Bengio, Lamblin, Popovici & Larochelle 2007;
    Belilovsky, Eickenberg & Oyallon 2019). Every hidden block i gets a head
    hᵢ on its flattened activity aᵢ -- ``head="linear"``: hᵢ(a) = a Vᵢᵀ + cᵢ;
    ``head="mlp"``: Linear(widthᵢ, hidden) → ReLU → Linear(hidden, C) -- and a
    local loss Lᵢ = CE(softmax(hᵢ(aᵢ)), y). The rule differentiates

        L = L_task(y_L) + α Σᵢ Lᵢ          (α = ``aux_weight`` ≥ 0)

    * ``detach=True`` (default; true local learning, greedy layer-wise
      training done simultaneously): each block's input is detached, so block
      i and its head learn from α Lᵢ alone (backprop *inside* the block and
      its head, none across blocks), and the output layer from L_task on its
      detached input. α only scales the hidden blocks' steps.
    * ``detach=False`` (DSN): nothing is detached; every layer gets the
      backprop gradient of L_task plus α times the gradients of the heads
      above it. With α = 0 this is backprop exactly, and the heads get
      updates of exactly zero (they stay in the update dictionary, as every
      parameter the rule holds does).

    Heads are initialised like ``nn.Linear`` (U(−1/√fan_in, 1/√fan_in)) from
    the rule's seeded generator. Prediction is the model's output.
    """

    name = "local_ce"
    summary = "local classifier heads on every block (deep supervision / greedy layer-wise)"
    paper = ("Lee et al. 2015 (Deeply-Supervised Nets); Bengio et al. 2007 / Belilovsky et "
             "al. 2019 (greedy layer-wise)")
    hparams = {"detach": True, "aux_weight": 1.0, "head": "linear", "hidden": 100,
               "input_shape": None}
    HEADS = ("linear", "mlp")

    def setup(self):
        o = self.options
        if not isinstance(o["detach"], bool):
            raise ArgumentError(f"rule 'local_ce': detach must be true or false, got "
                                f"{o['detach']!r}")
        _check_number("local_ce", "aux_weight", o["aux_weight"], 0)
        if o["head"] not in self.HEADS:
            raise ArgumentError(f"rule 'local_ce': unknown head {o['head']!r}; choose one of "
                                f"{', '.join(self.HEADS)}")
        _check_number("local_ce", "hidden (the hidden size of an mlp head)", o["hidden"], 1,
                      integer=True)
        self.last_local_losses = {}
        self._make_classifiers(self._make_head)      # the heads hᵢ

    def _make_head(self, width, classes, dtype):
        kw = dict(dtype=dtype, backend="numpy", generator=self.generator)
        if self.options["head"] == "linear":
            return nn.Linear(width, classes, **kw)
        hidden = int(self.options["hidden"])
        return nn.Sequential(nn.Linear(width, hidden, **kw), nn.ReLU(),
                             nn.Linear(hidden, classes, **kw))

    def head(self, name):
        """The auxiliary classifier hᵢ of layer ``name``'s block."""
        return getattr(self.local, name)

    def classify(self, name, activity):
        return self.head(name)(activity.flatten(1))

    def weighted(self, local_loss):
        return float(self.options["aux_weight"]) * local_loss

    def updates(self, x, y):
        """``detach=True``: block by block, each hidden block learning from
        α Lᵢ as soon as it has run (:meth:`~_LocalRule.learn_block_by_block`).
        ``detach=False``: every head's loss reaches every layer below it, so
        the whole network's graph is built and L_task + α Σᵢ Lᵢ differentiated
        at once (:meth:`signals_and_loss`), as backprop does."""
        self.follow_model()
        if not self.options["detach"]:
            return super().updates(x, y)
        self.last_signals = {}
        ups, out, task, local, _ = self.learn_block_by_block(x, y)
        self._finish(out, task, local)
        return self.adjust(ups)

    def signals_and_loss(self, x, y):
        """The whole-graph path of ``detach=False`` (deep supervision)."""
        activities = self.run_blocks(x, detach=False)
        out = activities[-1]
        task = self.loss(out, y)
        local = {name: ops.cross_entropy(self.classify(name, a), y)
                 for (name, _, _), a in zip(self.hidden_blocks, activities)}
        self._finish(out, task, local)
        # the gradients of several outputs add up: ∇(L_task + α Σᵢ Lᵢ)
        return [task, *(self.weighted(v) for v in local.values())], [None] * (1 + len(local))
