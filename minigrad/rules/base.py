"""The Rule interface: every learning rule produces an update for each
parameter, in the sign convention of a gradient, so that any rule can be
set beside backprop on the same batch and compared.

    rule = minigrad.rules.make("fa", model, seed=0)
    ups = rule.updates(x, y)          # {param name: array}, nothing applied
    rule.last_signals                 # {layer name: δ that layer received}
    stats = rule.step(x, y, optimizer)   # apply through any optimizer

How a rule changes learning
---------------------------
Most rules keep the forward pass and change what flows backward. A rule
runs the model with its own function for some layers (``layer_functions``):
feedback alignment's linear layer computes x Wᵀ + b forward but sends
ḡ B backward; direct feedback alignment cuts the model into blocks and
sends a projection of the output error into each. The rule then asks the
engine for the gradients with respect to the parameters: whatever the
engine returns *is* the rule's update. Rules that are not gradient-like at
all (the perceptron, the delta rule) compute their update in plain array
code.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import backend as _backend
from .. import nn, ops
from ..autodiff import active_memory_tracker
from ..autodiff import grad as autograd_grad
from ..errors import ArgumentError
from ..tensor import Tensor

_REGISTRY: dict = {}


def register(cls):
    """Class decorator: make a rule available under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"rule {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def available():
    """``{name: "summary (paper)"}`` for every rule."""
    return {name: f"{cls.summary} ({cls.paper})" for name, cls in _REGISTRY.items()}


def rule_class(name):
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ArgumentError(f"unknown rule {name!r}; choose one of "
                            f"{', '.join(_REGISTRY)}") from None


def make(name, model, **hparams):
    """The rule ``name`` for ``model`` with hyper-parameters ``hparams``."""
    return rule_class(name)(model, **hparams)


def rules_supporting(module):
    """Names of the rules that can train a model containing ``module``."""
    return [n for n, cls in _REGISTRY.items() if cls.supports_module(module)]


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def angle(a, b):
    """The angle in degrees between two arrays seen as vectors (90 when
    either is zero: no information)."""
    a = _backend.to_numpy(a).ravel().astype(np.float64)
    b = _backend.to_numpy(b).ravel().astype(np.float64)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 90.0
    ua, ub = a / na, b / nb
    # 2·atan2(|u − v|, |u + v|) is accurate at every angle (acos is not near 0)
    return math.degrees(2 * math.atan2(float(np.linalg.norm(ua - ub)),
                                       float(np.linalg.norm(ua + ub))))


def learnable_layers(model):
    """``[(name, module)]`` for the Linear and Conv2d layers, in order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def chain_blocks(rule_name, model):
    """Cut a Sequential chain into blocks, one per learnable layer.

    Returns ``(prefix, blocks)``: ``prefix`` is the list of modules before
    the first learnable layer (a Flatten), and each block is
    ``(layer name, layer, followers)`` -- the layer and the modules after it
    up to the next learnable layer (activation, pooling, dropout, ...).
    Local rules run a block at a time, cutting the graph between blocks.
    Raises ArgumentError naming the rule when the model is not such a chain."""
    if not isinstance(model, nn.Sequential):
        raise ArgumentError(f"rule {rule_name!r} needs a Sequential model (a chain of "
                            f"layers); got {type(model).__name__}")
    prefix, blocks = [], []       # modules with parameters among the followers (batch
    #                               norm) learn from their block's signal
    for name, module in model.named_children():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            blocks.append((name, module, []))
        elif learnable_layers(module):
            raise ArgumentError(f"rule {rule_name!r} cannot train layer {name!r} "
                                f"({type(module).__name__}): it trains a chain of Linear and "
                                "Conv2d layers, not layers nested inside other modules")
        elif blocks:
            blocks[-1][2].append(module)
        else:
            prefix.append(module)
    if not blocks:
        raise ArgumentError(f"rule {rule_name!r}: the model has no Linear or Conv2d layer")
    return prefix, blocks


def run_modules(modules, h):
    """Apply ``modules`` one after the other."""
    for m in modules:
        h = m(h)
    return h


@contextlib.contextmanager
def frozen_buffers(model):
    """Put every buffer of ``model`` (batch-norm running statistics) back as
    it was when the block ends: for passes that must not count as training
    (a perturbed pass, a reference gradient taken for comparison)."""
    saved = [(b, b.data.copy()) for _, b in model.named_buffers() if b is not None]
    try:
        yield
    finally:
        for b, data in saved:
            b.data[...] = data


@contextlib.contextmanager
def layer_functions(functions):
    """Run each module in ``functions`` with ``functions[module](x)`` in place
    of its own ``forward`` while the block runs (an instance attribute
    shadows the class's method; nothing else changes)."""
    saved = []
    try:
        for module, fn in functions.items():
            saved.append((module, module.__dict__.get("forward")))
            module.forward = fn
        yield
    finally:
        for module, old in saved:
            if old is None:
                del module.forward
            else:
                module.forward = old


# --------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------


class Rule:
    """Base class of learning rules. Subclasses set ``name``, ``summary``,
    ``paper`` and ``hparams`` (defaults), and override ``signals_and_loss``
    (gradient-like rules) or ``updates`` (the rest)."""

    name = "rule"
    summary = ""
    paper = ""
    hparams: dict = {}
    #: layer types whose learning this rule defines; other modules with
    #: parameters (batch norm) learn from the signal that reaches them
    supported = (nn.Linear, nn.Conv2d)
    #: modules that break the rule (e.g. branching blocks for DFA)
    unsupported = ()
    #: the training CLI's default learning rate is multiplied by this
    #: (rules whose updates are larger than a gradient's want smaller steps)
    lr_scale = 1.0

    def __init__(self, model, loss="cross_entropy", seed=0, **hparams):
        unknown = set(hparams) - set(self.hparams)
        if unknown:
            valid = ", ".join(f"{k} (default {v!r})" for k, v in self.hparams.items()) or \
                "none"
            raise ArgumentError(f"rule {self.name!r}: unknown hyper-parameter(s) "
                                f"{', '.join(sorted(unknown))}; valid: {valid}")
        self.options = dict(self.hparams)
        self.options.update(hparams)
        if not isinstance(model, nn.Module):
            raise TypeError(f"rule {self.name!r}: expected a minigrad.nn.Module, got "
                            f"{type(model).__name__}")
        self.model = model
        self.loss_name = loss
        self.seed = seed
        self.generator = np.random.default_rng(seed)
        self.layers = learnable_layers(model)
        self.check_model()
        #: the backend of the rule's own state: the model's (see :meth:`to`)
        self.backend = next(iter(model.parameters())).backend
        self.last_signals = {}
        self.last_loss = None
        self.last_output = None
        self.last_updates = {}
        self.steps = 0
        #: a Module holding the rule's own learnable parameters (the local
        #: classifiers of local rules), or None; see :meth:`parameters`
        self.local = None
        self.setup()

    # -- what subclasses provide ---------------------------------------------------
    @classmethod
    def supports_module(cls, module):
        return not isinstance(module, cls.unsupported)

    def check_model(self):
        for name, m in self.model.named_modules():
            if isinstance(m, self.unsupported):
                raise ArgumentError(
                    f"rule {self.name!r} cannot train a model with {type(m).__name__} "
                    f"(layer {name!r}); rules that can: "
                    f"{', '.join(rules_supporting(m)) or 'none'}")
        if not self.layers:
            raise ArgumentError(f"rule {self.name!r}: the model has no Linear or Conv2d layer")

    def setup(self):
        """Create the rule's own state (feedback matrices)."""

    def layer_function(self, name, layer):
        """The function the rule runs in place of ``layer.forward``, or None
        to keep the layer as it is."""
        return None

    # -- where the rule's state lives -------------------------------------------------
    def to(self, target):
        """Move the rule's own state (feedback matrices, local heads, ...) to
        backend ``target`` ("numpy" or "cupy"). :meth:`updates` (so
        :meth:`step`) and :meth:`predict` call it by themselves when the model has moved
        (``model.to("cupy")``) since the rule was made. Returns self."""
        _backend.get_xp(target)                  # a clear error if the backend is missing
        model_modules = {id(m) for m in self.model.modules()}
        for key, value in list(vars(self).items()):
            if key not in ("model", "layers", "generator") and not key.startswith("last_"):
                setattr(self, key, _moved(value, target, model_modules))
        self.backend = target
        return self

    def follow_model(self):
        """Move the rule's state to the model's backend if the model moved."""
        backend = next(iter(self.model.parameters())).backend
        if backend != self.backend:
            self.to(backend)

    # -- the rule's own learnable parameters ------------------------------------------
    def named_parameters(self):
        """``(name, Parameter)`` for the parameters the rule itself learns
        (none for most rules; the projections of Mono-Forward, the heads of
        local learning). Names start with ``"rule."``. The optimizer must
        hold them next to the model's::

            opt = optim.SGD(list(model.parameters()) + list(rule.parameters()), lr=0.1)
        """
        if self.local is None:
            return iter(())
        return self.local.named_parameters(prefix="rule")

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def predict(self, x):
        """The model's class scores (or regression output) for ``x``, as this
        rule reads them: the model's output for most rules; Forward-Forward
        scans the labels."""
        self.follow_model()
        return self.model(x)

    def loss(self, out, y):
        if self.loss_name == "mse":
            return ops.mse_loss(out, y.astype(out.dtype) if isinstance(y, Tensor) else y)
        return ops.cross_entropy(out, y)

    # -- running the model the rule's way --------------------------------------
    def _record_signal(self, name, out):
        """Keep the gradient that reaches ``out`` (layer ``name``'s output)."""
        if out.requires_grad:
            out.register_hook(lambda g, name=name: self.last_signals.__setitem__(name, g.data))
        return out

    def forward(self, x):
        """The model's output, computed with the rule's layer functions."""
        functions = {}
        for name, layer in self.layers:
            fn = self.layer_function(name, layer)
            if fn is None:
                fn = (lambda x, layer=layer: type(layer).forward(layer, x))
            functions[layer] = (lambda x, name=name, fn=fn: self._record_signal(name, fn(x)))
        with layer_functions(functions):
            return self.model(x)

    def signals_and_loss(self, x, y):
        """``(outputs, seeds)`` to differentiate: by default the loss alone."""
        out = self.forward(x)
        loss = self.loss(out, y)
        self.last_output, self.last_loss = out, float(loss.item())
        return [loss], [None]

    def updates(self, x, y):
        """``{parameter name: update array}`` for this batch, in the sign
        convention of a gradient (an optimizer subtracts it). Nothing is
        applied; ``last_signals`` holds the error each layer received."""
        self.follow_model()
        self.last_signals = {}
        names, params = zip(*(list(self.model.named_parameters())
                               + list(self.named_parameters())))
        outputs, seeds = self.signals_and_loss(x, y)
        grads = autograd_grad(outputs, list(params), seeds, allow_unused=True)
        ups = {n: g.data for n, g in zip(names, grads) if g is not None}
        return self.adjust(ups)

    def learn_now(self, loss, ups):
        """Add ∂loss/∂θ to ``ups`` for every parameter θ (the model's and the
        rule's own) that ``loss`` reaches, freeing its graph at once: how the
        local rules learn one block at a time, with one block's activations
        alive at a time."""
        pairs = list(self.model.named_parameters()) + list(self.named_parameters())
        grads = autograd_grad(loss, [p for _, p in pairs], allow_unused=True)
        for (k, _), g in zip(pairs, grads):
            if g is not None:
                ups[k] = g.data if k not in ups else ups[k] + g.data

    def in_parameter_order(self, ups):
        """``ups`` ordered as the parameters are (the model's, then the rule's)."""
        names = [k for k, _ in self.model.named_parameters()] + \
            [k for k, _ in self.named_parameters()]
        return {k: ups[k] for k in names if k in ups}

    def adjust(self, ups):
        """A last change to the updates (weight decay of KP); default none."""
        return ups

    def after_step(self, ups, optimizer):
        """Update the rule's own state after the optimizer stepped."""

    def step(self, x, y, optimizer):
        """Compute the updates, give them to ``optimizer`` as ``.grad``,
        step, then update the rule's own state. Returns measurements."""
        own = list(self.named_parameters())
        if own:
            held = {id(p) for p in optimizer.params()}
            missing = [n for n, p in own if id(p) not in held]
            if missing:
                raise ArgumentError(
                    f"rule {self.name!r} learns parameters of its own ({', '.join(missing)}), "
                    "but the optimizer does not hold them; make it with "
                    "list(model.parameters()) + list(rule.parameters())")
        ups = self.updates(x, y)
        self.last_updates = ups          # what this step applied (for inspection)
        for name, p in [*self.model.named_parameters(), *own]:
            p.grad = Tensor(ups[name]) if name in ups else None
        optimizer.step()
        self.steps += 1
        self.after_step(ups, optimizer)
        stats = {"loss": self.last_loss}
        stats.update(self.measures())
        return stats

    def measures(self):
        """Cheap numbers the rule reports after every step (the perceptron's
        mistakes); costlier ones, like :meth:`weight_alignment`, are asked
        for when wanted."""
        return {}

    def weight_alignment(self):
        """``{layer name: angle in degrees}`` between the rule's feedback
        matrix and the forward weights it stands in for ({} if none)."""
        return {}

    # -- state ---------------------------------------------------------------------------
    def state_dict(self):
        state = {"steps": self.steps, "generator": self.generator.bit_generator.state}
        if self.local is not None:
            state["local"] = self.local.state_dict()
        return state

    def load_state_dict(self, state):
        self.steps = int(state["steps"])
        self.generator.bit_generator.state = state["generator"]
        if self.local is not None:
            self.local.load_state_dict(state["local"])

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({self.name!r}{', ' + opts if opts else ''})"


def _moved(value, target, skip):
    """``value`` with every array, Tensor and Module in it moved to backend
    ``target`` (dicts and lists in place); modules whose id is in ``skip``
    (the model's own) are left to ``Module.to``."""
    if isinstance(value, Tensor):
        value.data = _backend.to_backend(value.data, target)
        if value.grad is not None:
            value.grad.data = _backend.to_backend(value.grad.data, target)
        return value
    if isinstance(value, nn.Module):
        return value if id(value) in skip else value.to(target)
    if isinstance(value, np.ndarray) or _backend.backend_of(value) == "cupy":
        return _backend.to_backend(value, target)
    if isinstance(value, dict):
        for k in value:
            value[k] = _moved(value[k], target, skip)
        return value
    if isinstance(value, list):
        value[:] = [_moved(v, target, skip) for v in value]
        return value
    if type(value) is tuple:
        return tuple(_moved(v, target, skip) for v in value)
    return value


def target_array(rule_name, y, out, soft=True):
    """The target of a rule that computes its output error by hand, as an
    array of ``out``'s shape: one-hot rows for integer labels ``y``, else
    ``y`` itself (regression targets; soft class targets when ``soft``)."""
    xp = _backend.get_array_module(out)
    y = xp.asarray(y.data if isinstance(y, Tensor) else y)
    n, n_out = out.shape
    if y.dtype.kind in "iub":
        y = y.reshape(-1).astype(np.int64)
        if len(y) != n:
            raise ArgumentError(f"rule {rule_name!r}: {len(y)} labels for a batch of {n}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_out):
            raise ArgumentError(f"rule {rule_name!r}: labels must lie in [0, {n_out}) for a "
                                f"model with {n_out} outputs; got {int(y.min())} to "
                                f"{int(y.max())}")
        t = xp.zeros((n, n_out), dtype=out.dtype)
        t[xp.arange(n), y] = 1.0
        return t
    if not soft:
        raise ArgumentError(f"rule {rule_name!r}: the cross-entropy loss needs integer class "
                            f"labels, got an array of {y.dtype}")
    if y.size != out.size:
        raise ArgumentError(f"rule {rule_name!r}: targets of shape {tuple(y.shape)} do not "
                            f"fit the output of shape {tuple(out.shape)}")
    return y.reshape(out.shape).astype(out.dtype)


def hold_arrays(owner, arrays, scope):
    """Tell an active memory tracker (``minigrad.inspect.activation_memory``)
    that a rule keeps ``arrays`` -- plain arrays no graph node holds -- for
    layer ``scope`` until :func:`release_arrays` with the same ``owner``."""
    tracker = active_memory_tracker()
    if tracker is not None:
        tracker.hold(owner, list(arrays), scope)


def release_arrays(owner):
    """The arrays held under ``owner`` are no longer kept."""
    tracker = active_memory_tracker()
    if tracker is not None:
        tracker.release(owner)


def lr_for(optimizer, param):
    """The learning rate ``optimizer`` applies to ``param`` now (None if the
    optimizer does not hold it)."""
    for group in optimizer.param_groups:
        if any(p is param for p in group["params"]):
            return float(group["lr"])
    return None
