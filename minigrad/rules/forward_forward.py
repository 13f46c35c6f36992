"""The Forward-Forward algorithm (Hinton 2022, "The Forward-Forward
Algorithm: Some Preliminary Investigations"), with the collaborative
variant of Lorberbom, Gat, Adi, Schwing & Hazan (AAAI 2024, arXiv 2023, "Layer Collaboration
in the Forward-Forward Algorithm").

No error travels backward. Each hidden layer l has its own objective: a
*goodness* Gₗ of its activity hₗ that should be high for positive (real)
data and low for negative data,

    Gₗ = Σⱼ hₗⱼ²          (``goodness="sum_squares"``, the paper's choice)
    Gₗ = (1/width) Σⱼ hₗⱼ² (``"mean_squares"``),

and the probability that the input is positive is the logistic

    p(positive) = σ(s·(Gₗ − θₗ)),

with s = +1, or s = −1 for the negative variants the paper mentions
(``"neg_sum_squares"``, ``"neg_mean_squares"``: positive data get *low*
sum of squares). The layer's loss is the logistic loss on a batch of N
positive and N negative examples,

    Lₗ = mean_pos softplus(−s(G⁺ₗ − θₗ)) + mean_neg softplus(s(G⁻ₗ − θₗ))

(softplus(−z) = −log σ(z)), and the update is ∂Lₗ/∂Wₗ alone: the
activity is *length normalised* before it is passed on,

    hₗ ↦ hₗ / (√(mean_j hₗⱼ²) + ε)

(the paper's length normalisation up to the constant √width, as in
Hinton's and common re-implementations' code), so the next layer sees only
the *direction* of hₗ -- the goodness that layer l used to decide is
removed -- and the normalised activity is detached: no gradient crosses
from one layer into the previous one. In the code each layer learns as
soon as it has run: the engine differentiates Lₗ with respect to Wₗ (the
only weights Lₗ reaches, its input being detached), which frees layer l's
graph before layer l + 1 runs, so one layer's activations are alive at a
time, not the whole network's (``minigrad.inspect.activation_memory``).
Positive and negative rows go through each layer together, so a layer
keeps 2N rows where backprop keeps N: FF keeps less than backprop in
networks of three or more hidden layers of equal width. (The neutral rows
the read-out reads run afterwards without a graph: no loss of a hidden
layer depends on them.)

Positive and negative data
--------------------------
``variant="supervised"`` (section 3.3 of the paper): the label is written
over the first C input features (C = number of classes, the model's
output size) as a one-hot vector of height ``label_value``. Positive
data carry the true label y; negative data the same input with a wrong
label (y + k) mod C, k uniform in 1..C−1, which is never y.

``variant="unsupervised"`` (section 3.2): positive data are the real
inputs; negative data are hybrid images m·x₁ + (1 − m)·x₂ of two different
images of the batch, mixed through a mask m made by blurring a random bit
image ``MASK_BLUR_REPEATS`` times with the filter [¼, ½, ¼] horizontally
and vertically and thresholding at ½: large regions from one image, large
regions from the other -- short-range correlations of real images, wrong
long-range ones.

Prediction
----------
``predict="goodness"`` (the default of the supervised variant): run the
input once with each candidate label c overlaid and accumulate the
goodness s·Gₗ of every hidden layer except the first (when there are at
least two; the paper skips the first), giving an (N, C) matrix whose
argmax is the prediction. With ``collaborative=True`` the scan sums every
layer, first included: that total is what collaborative FF trains.

``predict="readout"`` (the paper's cheaper alternative, the only one of
the unsupervised variant): the model's last Linear layer is a softmax
classifier trained with cross-entropy on the normalised activities of
the hidden layers but the first (of the only one, when there is one), as
in the paper, computed on the input with a *neutral* label (1/C of
``label_value`` in every label slot; Hinton's 0.1 for 10 classes): one
linear map of their concatenation, whose block for the last hidden layer
is the model's own last Linear and whose other blocks are C × width
matrices the rule owns (``rule.parameters()``, zero at the start, so the
optimizer must hold them, as for the local rules). Its input is detached,
so it never changes the hidden layers.

Whatever :meth:`ForwardForward.predict` returns, the trainer takes its
argmax for the accuracy and its cross-entropy as the "test loss": for the
read-out that is the usual loss; for the goodness scan it is the
cross-entropy of a softmax over the labels' accumulated goodness -- a
calibration-free number (goodness has an arbitrary scale) that is only
comparable between runs of the same goodness and width.

``last_output`` after a training step holds the read-out's logits on the
batch (what the trainer's train accuracy counts), and ``last_loss`` the
sum of the layers' FF losses and the read-out's cross-entropy.

Hyper-parameters (``rules.make("ff", model, **hparams)``)
---------------------------------------------------------
* ``goodness="sum_squares"``: or ``"mean_squares"``, ``"neg_sum_squares"``,
  ``"neg_mean_squares"`` (above).
* ``threshold=None``: θ ≥ 0, the same for every layer; None gives each
  layer the goodness of a mean square activity of 1 (its width for
  ``sum_squares``, 1 for ``mean_squares``), or half the largest goodness
  after an activation bounded by 1 (tanh, sigmoid), which could never
  cross the former (a θ it can never cross is an error).
* ``variant="supervised"`` or ``"unsupervised"``; ``predict=None`` (the
  variant's default), ``"goodness"`` or ``"readout"``.
* ``label_value=None``: the height of the overlaid label; None takes the
  largest input value seen in training so far (so standardised data get
  a label as bright as their brightest pixel, as re-implementations that
  use ``x.max()`` do, and prediction uses the same value; the rule keeps
  it as ``rule.label_scale`` and in its state).
* ``peer_normalization=0.0``, ``peer_momentum=0.9``, ``collaborative=False``
  (below).

The goodness gradient 2h·σ(·) is far larger than a softmax's, so FF wants
smaller steps than backprop: on the digits SGD with momentum 0.9 learns
at lr 0.003-0.01 and lets units die at 0.05 (Adam: 1e-3 to 1e-2). The
training CLI's default learning rate is scaled by ``lr_scale`` = 0.1.

Options
-------
* ``peer_normalization`` (weight λ, default 0: off): each layer keeps a
  running mean r of its units' activity on positive data (momentum
  ``peer_momentum``, the old r detached) and adds λ·mean_j (r̄ − rⱼ)²,
  which keeps units from dying or dominating (the paper mentions peer
  normalisation; the form is that of the loeweX/Forward-Forward
  re-implementation, whose default weight is 0.03). Any constant start
  for r gives the same loss (only differences between units count); it
  starts at 0.
* ``collaborative=True`` (Lorberbom et al.): layer l judges positivity by
  the goodness of the whole network, its own term live and the others'
  detached (sg = stop-gradient),

      p(positive) = σ(s·(Gₗ + Σ_{k≠l} sg(Gₖ) − Σₖ θₖ)),

  against the summed thresholds (each layer's goodness sits near its own
  θ, so the total sits near their sum). The update of layer l is still
  ∂/∂Wₗ of a loss of its own; only its value now depends on the other
  layers. With one hidden layer it is plain FF. Because every layer's
  loss needs every other layer's goodness, collaborative FF builds the
  whole network's graph before differentiating (the sum of the layers'
  losses, each term reaching only its own layer), and keeps every
  layer's activations alive at once.
* Per-layer optimizers: each layer's update depends on its own loss only,
  so one elementwise optimizer (SGD, Adam, ...) over all parameters is the
  same as one optimizer per layer. Per-layer learning rates are optimizer
  parameter groups; :func:`layer_param_groups` builds them::

      rule = rules.make("ff", model)
      opt = optim.Adam(layer_param_groups(model, {"1": 1e-3, "3": 3e-4}), lr=1e-3)

Models: a Sequential chain of Linear layers with parameter-free modules
between them (activation, dropout; a leading Flatten), e.g.
``nn.mlp([d, h₁, ..., h_k, C], "relu")``: the hidden blocks are the FF
layers, the last Linear the read-out. ``model(x)`` on its own is not FF's
prediction (it has no label, no normalisation between layers): use
:meth:`ForwardForward.predict`. Convolutions are not supported: a
per-channel goodness needs choices the paper does not make (normalising
over channels or positions, a threshold per channel, pooling between
layers), so a Conv2d is refused by name.

``last_goodness`` holds each layer's mean goodness on the last batch's
positive and negative data; :meth:`ForwardForward.layer_goodness` measures
it on any inputs and labels; ``last_negative_labels`` (supervised) and
``last_masks``/``last_partners`` (unsupervised) the negative data drawn.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend as _backend
from .. import nn, ops
from ..autodiff import no_grad
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from .base import Rule, chain_blocks, register, run_modules

#: goodness name -> (reduction over the units, sign s of p = σ(s(G − θ)))
GOODNESS = {
    "sum_squares": ("sum", 1.0),
    "mean_squares": ("mean", 1.0),
    "neg_sum_squares": ("sum", -1.0),
    "neg_mean_squares": ("mean", -1.0),
}
VARIANTS = ("supervised", "unsupervised")
PREDICTIONS = ("goodness", "readout")
#: activations with |h| ≤ 1, which bound the goodness by the layer's width
BOUNDED = (nn.Tanh, nn.Sigmoid)
#: times the random bit image is blurred before thresholding (the paper says
#: "repeatedly"; 6 passes give blobs of a few pixels on 8x8 to 28x28 images)
MASK_BLUR_REPEATS = 6
BLUR_FILTER = (0.25, 0.5, 0.25)
#: ε of the length normalisation h / (√mean(h²) + ε)
NORM_EPS = 1e-8


# ==========================================================================
# The pieces, as in the paper
# ==========================================================================


def goodness(h, kind="sum_squares"):
    """Gᵢ = Σⱼ hᵢⱼ² (or the mean over the units j): one number per example."""
    reduce, _ = GOODNESS[kind]
    sq = h * h
    return sq.sum(axis=1) if reduce == "sum" else sq.mean(axis=1)


def length_normalize(h, eps=NORM_EPS):
    """hᵢ / (√(mean_j hᵢⱼ²) + ε): the direction of each example's activity,
    scaled to unit root-mean-square (unit length up to √width)."""
    return h / ((h * h).mean(axis=1, keepdims=True).sqrt() + eps)


def ff_loss(logit_pos, logit_neg):
    """mean softplus(−z⁺) + mean softplus(z⁻) with z = s(G − θ): the
    logistic loss −log σ(z⁺) − log(1 − σ(z⁻)) averaged over each half."""
    return ops.softplus(-logit_pos).mean() + ops.softplus(logit_neg).mean()


def negative_labels(labels, num_classes, rng):
    """(y + k) mod C with k drawn uniformly from 1..C−1: a wrong label for
    every example, uniform over the C − 1 wrong ones (NumPy arrays)."""
    labels = np.asarray(labels)
    k = rng.integers(1, num_classes, size=labels.shape)
    return (labels + k) % num_classes


def overlay_labels(x, labels, num_classes, value):
    """``x`` (N, D) array with its first C features replaced by the one-hot
    code of ``labels`` (N,) at height ``value``; ``labels=None`` writes the
    neutral label value/C into every slot."""
    xp = _backend.get_array_module(x)
    out = x.copy()
    if labels is None:
        out[:, :num_classes] = value / num_classes
        return out
    out[:, :num_classes] = 0
    labels = _backend.to_backend(np.asarray(labels), _backend.backend_of(x))
    out[xp.arange(len(out)), labels] = value
    return out


def blur_masks(shape, rng, repeats=MASK_BLUR_REPEATS):
    """Binary masks (N, H, W): random bits blurred ``repeats`` times with
    [¼, ½, ¼] along both axes (edges repeated, so the filter keeps the mean)
    and thresholded at ½ (NumPy arrays)."""
    m = rng.integers(0, 2, size=shape).astype(np.float64)
    a, b, c = BLUR_FILTER
    for _ in range(repeats):
        for axis in (1, 2):
            p = np.pad(m, [(0, 0)] + [(1, 1) if ax == axis else (0, 0) for ax in (1, 2)],
                       mode="edge")
            n = m.shape[axis]
            lo, mid, hi = (np.take(p, np.arange(i, i + n), axis=axis) for i in range(3))
            m = a * lo + b * mid + c * hi
    return (m > 0.5).astype(np.float64)


def hybrid_images(x, rng, repeats=MASK_BLUR_REPEATS):
    """Negative data for unsupervised FF: ``(hybrids, masks, partner)`` with
    hybrids[i] = m[i]·x[i] + (1 − m[i])·x[partner[i]] for images ``x``
    (N, C, H, W) or (N, H, W) (an array). ``partner`` is a random
    derangement, partner[i] ≠ i: no image is mixed with itself."""
    n = len(x)
    order = rng.permutation(n)                  # one random cycle through the batch
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, -1)
    masks = blur_masks((n,) + tuple(x.shape[-2:]), rng, repeats)
    backend = _backend.backend_of(x)
    m = _backend.to_backend(masks.astype(x.dtype), backend)
    if x.ndim == 4:
        m = m[:, None]
    other = x[_backend.to_backend(partner, backend)]
    return m * x + (1 - m) * other, masks, partner


def layer_param_groups(model, lrs):
    """Optimizer parameter groups, one per learnable layer of ``model``, with
    the learning rate ``lrs[name]`` (a dict by layer name; layers it leaves
    out take the optimizer's ``lr``) or ``lrs[i]`` (a list, one per layer)."""
    layers = [(n, m) for n, m in model.named_children() if list(m.parameters())]
    if not isinstance(lrs, dict):
        lrs = list(lrs)
        if len(lrs) != len(layers):
            raise ArgumentError(f"layer_param_groups: {len(lrs)} learning rates for "
                                f"{len(layers)} layers ({', '.join(n for n, _ in layers)})")
        lrs = {n: lr for (n, _), lr in zip(layers, lrs)}
    unknown = set(lrs) - {n for n, _ in layers}
    if unknown:
        raise ArgumentError(f"layer_param_groups: no learnable layer named "
                            f"{', '.join(sorted(unknown))}; the layers are "
                            f"{', '.join(n for n, _ in layers)}")
    groups = []
    for name, module in layers:
        group = {"params": list(module.parameters())}
        if name in lrs:
            group["lr"] = lrs[name]
        groups.append(group)
    return groups


# ==========================================================================
# The rule
# ==========================================================================


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@register
class ForwardForward(Rule):
    """Lₗ = softplus(−s(G⁺ₗ − θₗ)) + softplus(s(G⁻ₗ − θₗ)), each layer on its
    detached, length-normalised input; prediction by label scan or read-out."""

    name = "ff"
    summary = ("forward-forward: each layer raises goodness on positive data, lowers it on "
               "negative data (collaborative option: Lorberbom et al. 2024)")
    paper = "Hinton 2022"
    lr_scale = 0.1        # the CLI's default step, 0.05 on the digits, lets units die
    hparams = {"goodness": "sum_squares", "threshold": None, "variant": "supervised",
               "label_value": None, "predict": None, "peer_normalization": 0.0,
               "peer_momentum": 0.9, "collaborative": False}
    supported = (nn.Linear,)
    unsupported = (nn.Conv2d, nn.ResidualBlock)

    # -- model and options ------------------------------------------------------------
    def check_model(self):
        _, blocks = chain_blocks(self.name, self.model)
        for name, module in self.model.named_children():
            if isinstance(module, nn.Linear):
                continue
            if list(module.parameters()) or any(isinstance(m, self.unsupported)
                                                for _, m in module.named_modules()):
                raise ArgumentError(
                    f"rule 'ff' cannot train layer {name!r} ({type(module).__name__}): it trains "
                    "a chain of Linear layers with parameter-free modules (activations, "
                    "dropout, a leading Flatten) between them")
        if len(blocks) < 2:
            raise ArgumentError(
                "rule 'ff' needs at least one hidden Linear layer before the read-out "
                f"(the last Linear); the model has {len(blocks)} Linear layer")
        super().check_model()

    def setup(self):
        self.prefix, blocks = chain_blocks(self.name, self.model)
        self.ff_blocks, self.readout_block = blocks[:-1], blocks[-1]
        self.num_classes = self.readout_block[1].out_features
        self._check_options()
        o = self.options
        self.reduce, self.sign = GOODNESS[o["goodness"]]
        self.variant = o["variant"]
        self.prediction = o["predict"] or ("goodness" if self.variant == "supervised"
                                           else "readout")
        first = self.ff_blocks[0][1]
        if self.variant == "supervised":
            if self.num_classes < 2:
                raise ArgumentError(f"rule 'ff': the supervised variant needs at least 2 "
                                    f"classes; the read-out layer "
                                    f"{self.readout_block[0]!r} has {self.num_classes} output")
            if first.in_features < self.num_classes:
                raise ShapeError(
                    f"rule 'ff': the input is too small to overlay the labels: the first layer "
                    f"{self.ff_blocks[0][0]!r} reads {first.in_features} features, but the "
                    f"one-hot label of {self.num_classes} classes needs the first "
                    f"{self.num_classes}; use a larger input or variant='unsupervised'")
        # θₗ: given, or the goodness of a mean square activity of 1 -- half the
        # largest goodness after an activation bounded by 1 (tanh, sigmoid)
        self.thresholds = []
        for name, layer, followers in self.ff_blocks:
            unit = float(layer.out_features) if self.reduce == "sum" else 1.0
            bounded = any(isinstance(m, BOUNDED) for m in followers)
            t = o["threshold"]
            if t is None:
                t = unit / 2 if bounded else unit
            elif bounded and t >= unit:
                raise ArgumentError(
                    f"rule 'ff': threshold {t} can never be crossed by layer {name!r}: its "
                    f"activation bounds the goodness by {unit:g}; choose a threshold below it "
                    f"(the default is {unit / 2:g})")
            self.thresholds.append(float(t))
        self._make_readout_extras()
        self.running_means = [None] * len(self.ff_blocks)   # peer normalisation
        self.label_scale = None          # the label height: largest input seen so far
        self.last_goodness = {}

    def _make_readout_extras(self):
        """``self.local``: a C × width matrix (no bias, zeros at the start) for
        every hidden layer the read-out reads besides the last -- all but the
        first and the last -- so that the read-out is one linear map of their
        concatenated normalised activities, the model's last Linear reading
        the last hidden layer's part. None with one or two hidden layers."""
        middle = self.ff_blocks[1:-1]
        if not middle:
            return
        weight = self.readout_block[1].weight
        self.local = nn.Module()
        for name, layer, _ in middle:
            extra = nn.Linear(layer.out_features, self.num_classes, bias=False,
                              dtype=weight.data.dtype, backend="numpy",
                              generator=self.generator)
            extra.weight.data[...] = 0
            setattr(self.local, name, extra.to(weight.backend))

    def _check_options(self):
        o = self.options

        def bad(name, must):
            raise ArgumentError(f"rule 'ff': {name} must be {must}, got {o[name]!r}")

        if o["goodness"] not in GOODNESS:
            bad("goodness", "one of " + ", ".join(GOODNESS))
        if o["variant"] not in VARIANTS:
            bad("variant", "one of " + ", ".join(VARIANTS))
        if o["predict"] is not None and o["predict"] not in PREDICTIONS:
            bad("predict", "None or one of " + ", ".join(PREDICTIONS))
        if o["variant"] == "unsupervised" and o["predict"] == "goodness":
            raise ArgumentError("rule 'ff': predict='goodness' scans the labels overlaid on "
                                "the input, which the unsupervised variant does not have; use "
                                "predict='readout'")
        if o["threshold"] is not None and not (_is_number(o["threshold"])
                                               and o["threshold"] >= 0):
            bad("threshold", f"None or a finite number >= 0 (the goodness "
                             f"{o['goodness']!r} of squared activities is never negative)")
        if o["label_value"] is not None and not (_is_number(o["label_value"])
                                                 and o["label_value"] > 0):
            bad("label_value", "None or a finite number > 0")
        if not (_is_number(o["peer_normalization"]) and o["peer_normalization"] >= 0):
            bad("peer_normalization", "a finite number >= 0 (0: off)")
        if not (_is_number(o["peer_momentum"]) and 0 <= o["peer_momentum"] < 1):
            bad("peer_momentum", "in [0, 1)")
        if o["collaborative"] not in (True, False):
            bad("collaborative", "True or False")
        if self.loss_name != "cross_entropy":
            raise ArgumentError(f"rule 'ff' learns classification (labels on the input, a "
                                f"softmax read-out); it cannot use the loss {self.loss_name!r}")

    # -- inputs --------------------------------------------------------------------------
    def _flat_input(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        h = run_modules(self.prefix, x)
        first_name, first, _ = self.ff_blocks[0]
        if h.ndim != 2 or h.shape[1] != first.in_features:
            raise ShapeError(f"rule 'ff': the first layer {first_name!r} reads "
                             f"{first.in_features} features, but the input reaches it with "
                             f"shape {h.shape}")
        return h.data

    def _labels(self, y, n):
        y = y.data if isinstance(y, Tensor) else y
        labels = _backend.to_numpy(y) if hasattr(y, "shape") else np.asarray(y)
        if labels.shape != (n,):
            raise ShapeError(f"rule 'ff': expected {n} labels for {n} inputs, got shape "
                             f"{labels.shape}")
        if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= self.num_classes:
            raise ArgumentError(f"rule 'ff': labels must be integers in [0, "
                                f"{self.num_classes}), got {labels.dtype} from {labels.min()} "
                                f"to {labels.max()}")
        return labels

    def _label_value(self, x0, training):
        """The height of the overlaid one-hot label: ``label_value``, else the
        largest input value seen in training (the batch's own at the first
        step, or when predicting before any training; 1 if it is not positive)."""
        if self.options["label_value"] is not None:
            return float(self.options["label_value"])
        batch_max = float(x0.max())
        if training:
            self.label_scale = batch_max if self.label_scale is None else \
                max(self.label_scale, batch_max)
        value = self.label_scale if self.label_scale is not None else batch_max
        return value if value > 0 else 1.0

    # -- running the hidden layers ------------------------------------------------------
    def _layer(self, i, h, record=False):
        """The activity (before normalisation) of FF layer ``i`` on rows ``h``."""
        name, layer, followers = self.ff_blocks[i]
        a = type(layer).forward(layer, h)
        if record:
            a = self._record_signal(name, a)
        return run_modules(followers, a)

    def _run_layers(self, h, record=False):
        """``(activities, normalised activities)`` of every FF layer on rows
        ``h`` (a Tensor), each layer computed from the detached, normalised
        activity of the layer before."""
        acts, normed = [], []
        for i in range(len(self.ff_blocks)):
            a = self._layer(i, h, record)
            acts.append(a)
            h = length_normalize(a).detach()
            normed.append(h)
        return acts, normed

    def _readout(self, normed):
        """The read-out's logits from the normalised activities ``normed`` of
        every hidden layer: the model's last Linear on the last one plus the
        rule's matrices on the others but the first (with two or more)."""
        _, layer, followers = self.readout_block
        logits = type(layer).forward(layer, normed[-1])
        for (name, _, _), h in zip(self.ff_blocks[1:-1], normed[1:-1]):
            logits = logits + getattr(self.local, name)(h)
        return run_modules(followers, logits)

    def _peer_loss(self, index, a_pos):
        """mean_j (r̄ − rⱼ)², r ← m·sg(r) + (1 − m)·mean over the batch of aⱼ."""
        m = self.options["peer_momentum"]
        old = self.running_means[index]
        batch_mean = a_pos.mean(axis=0)
        r = batch_mean * (1 - m) if old is None else Tensor(old) * m + batch_mean * (1 - m)
        self.running_means[index] = r.data.copy()
        return ((r.mean() - r) ** 2).mean()

    # -- the rule ------------------------------------------------------------------------
    def positive_negative(self, x, y):
        """``(positive rows, negative rows, neutral rows or None)`` as arrays
        (N, D) for the batch ``(x, y)``."""
        x0 = self._flat_input(x)
        if self.variant == "unsupervised":
            xd = x.data if isinstance(x, Tensor) else x
            if xd.ndim not in (3, 4) or len(xd) < 2:
                raise ShapeError(
                    "rule 'ff': the unsupervised variant mixes pairs of images through masks "
                    "and needs a batch of at least 2 images (N, C, H, W) or (N, H, W); got "
                    f"inputs of shape {tuple(xd.shape)}")
            hybrids, self.last_masks, self.last_partners = hybrid_images(xd, self.generator)
            return x0, self._flat_input(Tensor(hybrids)), None
        labels = self._labels(y, len(x0))
        wrong = negative_labels(labels, self.num_classes, self.generator)
        self.last_negative_labels = wrong
        value = self._label_value(x0, training=True)
        c = self.num_classes
        return (overlay_labels(x0, labels, c, value), overlay_labels(x0, wrong, c, value),
                overlay_labels(x0, None, c, value))

    def _layer_loss(self, i, g_pos, g_neg, a_pos, theta):
        """Lₗ = mean softplus(−s(G⁺ − θ)) + mean softplus(s(G⁻ − θ)) (+ λ·peer term)."""
        s, lam = self.sign, self.options["peer_normalization"]
        loss = ff_loss(s * (g_pos - theta), s * (g_neg - theta))
        if lam > 0:
            loss = loss + lam * self._peer_loss(i, a_pos)
        return loss

    def updates(self, x, y):
        """Layer by layer: layer l runs on the positive and negative rows,
        learns from Lₗ at once -- ∂Lₗ/∂Wₗ: its input is detached, so Lₗ
        reaches nothing else, and the backward frees layer l's graph -- and
        passes its normalised, detached activity on. The read-out learns
        last. Only one layer's activations are alive at a time. Collaborative
        FF puts every layer's goodness in every layer's loss, so it builds the
        whole graph first (:meth:`signals_and_loss`)."""
        self.follow_model()
        if self.options["collaborative"] and len(self.ff_blocks) > 1:
            return super().updates(x, y)
        self.last_signals, self.last_goodness, ups = {}, {}, {}
        pos, neg, neutral = self.positive_negative(x, y)
        xp = _backend.get_array_module(pos)
        n = len(pos)
        h = Tensor(xp.concatenate([pos, neg]))
        total, normed = None, []
        for i, (name, _, _) in enumerate(self.ff_blocks):
            a = self._layer(i, h, record=True)                # hₗ
            g = goodness(a, self.options["goodness"])         # Gₗ
            loss = self._layer_loss(i, g[:n], g[n:], a[:n], self.thresholds[i])
            self.learn_now(loss, ups)                         # ∂Lₗ/∂Wₗ; frees layer l's graph
            total = loss.data if total is None else total + loss.data
            self.last_goodness[name] = (float(g.data[:n].mean()), float(g.data[n:].mean()))
            with no_grad():
                h = length_normalize(a)                       # the next layer's input, detached
            if neutral is None:
                normed.append(h[:n])
        # the read-out: softmax on the detached, normalised activities of the
        # neutral-label rows (run now, without a graph), or of the positives
        if neutral is not None:
            with no_grad():
                _, normed = self._run_layers(Tensor(neutral))
        logits = self._readout(normed)
        target = _backend.to_backend(self._labels(y, n), _backend.backend_of(pos))
        loss = ops.cross_entropy(logits, target)
        self.learn_now(loss, ups)
        self.last_output, self.last_loss = logits, float(total + loss.data)
        return self.in_parameter_order(ups)

    def signals_and_loss(self, x, y):
        """Collaborative FF's whole graph: every layer's loss, one scalar."""
        pos, neg, neutral = self.positive_negative(x, y)
        xp = _backend.get_array_module(pos)
        n = len(pos)
        rows = [pos, neg] + ([neutral] if neutral is not None else [])
        acts, normed = self._run_layers(Tensor(xp.concatenate(rows)), record=True)
        goods = [goodness(a, self.options["goodness"]) for a in acts]
        g_pos = [g[:n] for g in goods]
        g_neg = [g[n:2 * n] for g in goods]
        total = None
        self.last_goodness = {}
        for i, (name, _, _) in enumerate(self.ff_blocks):
            gp, gn, theta = g_pos[i], g_neg[i], self.thresholds[i]
            if self.options["collaborative"] and len(self.ff_blocks) > 1:
                others = [k for k in range(len(self.ff_blocks)) if k != i]
                gp = gp + sum(g_pos[k].detach() for k in others)
                gn = gn + sum(g_neg[k].detach() for k in others)
                theta = sum(self.thresholds)
            loss = self._layer_loss(i, gp, gn, acts[i][:n], theta)
            total = loss if total is None else total + loss
            self.last_goodness[name] = (float(g_pos[i].data.mean()),
                                        float(g_neg[i].data.mean()))
        # the read-out: softmax on the detached, normalised activities (neutral label)
        part = slice(2 * n, None) if neutral is not None else slice(0, n)
        logits = self._readout([h[part] for h in normed])
        target = _backend.to_backend(self._labels(y, n), _backend.backend_of(pos))
        total = total + ops.cross_entropy(logits, target)
        self.last_output, self.last_loss = logits, float(total.item())
        return [total], [None]

    def layer_goodness(self, x, labels=None):
        """``{layer name: array (N,)}``: each FF layer's goodness (s·G is not
        applied) on inputs ``x`` with ``labels`` overlaid (supervised; None:
        the neutral label), or on ``x`` itself (unsupervised). No gradient."""
        with no_grad():
            x0 = self._flat_input(x)
            if self.variant == "supervised":
                value = self._label_value(x0, training=False)
                lab = None if labels is None else self._labels(labels, len(x0))
                x0 = overlay_labels(x0, lab, self.num_classes, value)
            acts, _ = self._run_layers(Tensor(x0))
            return {name: goodness(a, self.options["goodness"]).data
                    for (name, _, _), a in zip(self.ff_blocks, acts)}

    def predict(self, x, prediction=None):
        """(N, C) scores: the accumulated goodness s·Gₗ of every label (all
        layers but the first when there are two or more), or the read-out's
        logits. ``prediction`` ("goodness" or "readout") overrides the
        rule's ``predict`` option for this call, so one trained rule gives
        both."""
        self.follow_model()
        prediction = self.prediction if prediction is None else prediction
        if prediction not in PREDICTIONS:
            raise ArgumentError(f"rule 'ff': prediction must be None or one of "
                                f"{', '.join(PREDICTIONS)}, got {prediction!r}")
        if prediction == "goodness" and self.variant == "unsupervised":
            raise ArgumentError("rule 'ff': the unsupervised variant has no labels to scan; "
                                "use prediction='readout'")
        with no_grad():
            x0 = self._flat_input(x)
            xp = _backend.get_array_module(x0)
            c = self.num_classes
            if prediction == "readout":
                if self.variant == "supervised":
                    x0 = overlay_labels(x0, None, c, self._label_value(x0, training=False))
                _, normed = self._run_layers(Tensor(x0))
                return self._readout(normed)
            n = len(x0)
            value = self._label_value(x0, training=False)
            rows = xp.concatenate([overlay_labels(x0, np.full(n, k), c, value)
                                   for k in range(c)])
            acts, _ = self._run_layers(Tensor(rows))
            # the paper skips the first layer; collaborative FF trains the total
            skip = 1 if len(acts) > 1 and not self.options["collaborative"] else 0
            score = sum(goodness(a, self.options["goodness"]).data for a in acts[skip:])
            return Tensor(self.sign * score.reshape(c, n).T)

    # -- state ---------------------------------------------------------------------------
    def state_dict(self):
        state = super().state_dict()
        state["label_scale"] = self.label_scale
        state["running_means"] = [None if r is None else Tensor(r) for r in self.running_means]
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.label_scale = state.get("label_scale")
        backend = self.ff_blocks[0][1].weight.backend
        self.running_means = [None if r is None else _backend.to_backend(
            r.data if isinstance(r, Tensor) else r, backend)
            for r in state.get("running_means", [None] * len(self.ff_blocks))]
