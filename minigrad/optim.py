"""Optimizers, learning-rate schedules, gradient clipping and gradient noise.

An optimizer turns each parameter's ``.grad`` into an update of its data,
in place. Whatever filled ``.grad`` -- backprop or any other learning rule
-- the optimizer treats it as the descent direction's negative, so every
rule can be paired with every optimizer. The update formulas are PyTorch's
(tested step for step against ``torch.optim``); each docstring gives them.

Parameters may be given as a list, or as groups (dicts with ``"params"``
and per-group options), as in PyTorch.

On a GPU, SGD, Adam and AdamW update each parameter in one fused CuPy
kernel (:mod:`minigrad.ops.cuda_kernels`, as torch's ``fused=True``); the
array code in each ``update`` is the reference, runs everywhere else, and
is what the kernels are tested against.
"""
from __future__ import annotations

import math

from . import backend as _backend
from .autodiff import no_grad
from .errors import ArgumentError, MinigradError
from .ops import cuda_kernels
from .tensor import Tensor


class OptimizerStateError(MinigradError, ValueError):
    """An optimizer state dict that does not fit this optimizer."""


def _xp(a):
    return _backend.get_array_module(a)


def _follow(state, p):
    """Keep a parameter's state where the parameter is: the model may have
    moved (``Module.to``) since the last step."""
    for key, value in state.items():
        if hasattr(value, "shape") and _backend.backend_of(value) != p.backend:
            state[key] = _backend.to_backend(value, p.backend)


class Optimizer:
    """Base class: parameter groups, per-parameter state, state dicts."""

    defaults: dict = {}

    def __init__(self, params, **options):
        for key, value in options.items():
            if key not in self.defaults:
                raise ArgumentError(f"{type(self).__name__}: unknown option {key!r}; it takes "
                                    f"{', '.join(self.defaults)}")
        params = list(params)
        if not params:
            raise ArgumentError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for g in groups:
            group = dict(self.defaults)
            group.update(options)
            group.update({k: v for k, v in g.items() if k != "params"})
            group["params"] = list(g["params"])
            for i, p in enumerate(group["params"]):
                if not isinstance(p, Tensor):
                    raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                    f"{type(p).__name__}, not a Tensor")
            self._check(group)
            self.param_groups.append(group)
        self.state = {}          # id(param) -> dict of arrays / numbers
        self.step_count = 0

    def _check(self, group):
        lr = group.get("lr")
        if lr is None or not lr > 0:
            raise ArgumentError(f"{type(self).__name__}: lr must be positive, got {lr}")
        for key in ("weight_decay", "momentum", "eps"):
            if key in group and group[key] < 0:
                raise ArgumentError(f"{type(self).__name__}: {key} must be >= 0, got "
                                    f"{group[key]}")

    def params(self):
        for g in self.param_groups:
            yield from g["params"]

    def zero_grad(self, set_to_none=True):
        for p in self.params():
            p.grad = None if set_to_none else (
                None if p.grad is None else Tensor._make(_xp(p.data).zeros_like(p.data)))

    def step(self):
        """Update every parameter that has a gradient."""
        self.step_count += 1
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.data
                    if g.shape != p.data.shape:
                        raise ArgumentError(
                            f"{type(self).__name__}: a gradient of shape {g.shape} for a "
                            f"parameter of shape {p.data.shape}")
                    state = self.state.setdefault(id(p), {})
                    if state:
                        _follow(state, p)
                    self.update(p.data, g.astype(p.data.dtype, copy=False), state, group)
                    p._version += 1

    def update(self, w, g, state, group):
        raise NotImplementedError

    # -- state dicts: arrays by parameter index, numbers as they are ---------------
    def state_dict(self):
        index = {id(p): i for i, p in enumerate(self.params())}
        state = {str(index[pid]): dict(s) for pid, s in self.state.items() if pid in index}
        groups = [{k: v for k, v in g.items() if k != "params"} | {
            "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"optimizer": type(self).__name__, "state": state, "param_groups": groups,
                "step_count": self.step_count}

    def load_state_dict(self, state_dict):
        params = list(self.params())
        kind = state_dict.get("optimizer")
        if kind is not None and kind != type(self).__name__:
            raise OptimizerStateError(f"{type(self).__name__}.load_state_dict: the state is "
                                      f"that of a {kind} optimizer")
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise OptimizerStateError(
                f"{type(self).__name__}.load_state_dict: the state has "
                f"{len(groups) if isinstance(groups, list) else 'no'} parameter groups, "
                f"this optimizer {len(self.param_groups)}")
        for k, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise OptimizerStateError(
                    f"{type(self).__name__}.load_state_dict: group {k} has "
                    f"{len(saved['params'])} parameters in the state, {len(own['params'])} here")
        new_state = {}
        for key, s in state_dict.get("state", {}).items():
            i = int(key)
            if not 0 <= i < len(params):
                raise OptimizerStateError(f"{type(self).__name__}.load_state_dict: state for "
                                          f"parameter {i}, but there are {len(params)}")
            p = params[i]
            entry = {}
            for name, value in s.items():
                arr = value.data if isinstance(value, Tensor) else value
                if hasattr(arr, "shape") and arr.shape not in ((), p.data.shape):
                    raise OptimizerStateError(
                        f"{type(self).__name__}.load_state_dict: {name!r} of parameter {i} "
                        f"has shape {arr.shape}, the parameter {p.data.shape}")
                if hasattr(arr, "shape") and arr.shape == p.data.shape:
                    arr = _backend.to_backend(arr, p.backend).astype(p.data.dtype, copy=True)
                entry[name] = arr
            new_state[id(p)] = entry
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = v
        self.state = new_state
        self.step_count = int(state_dict.get("step_count", 0))

    def __repr__(self):
        opts = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in opts.items())})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (PyTorch's form):

        g ← g + λw                               (weight decay λ)
        b ← μb + (1 − τ)g   (b = g at the first step)
        g ← g + μb  if Nesterov, else g ← b
        w ← w − ηg
    """

    defaults = {"lr": 0.01, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
                "nesterov": False}

    def _check(self, group):
        super()._check(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ArgumentError("SGD: Nesterov momentum needs momentum > 0 and dampening 0")

    def update(self, w, g, state, group):
        if cuda_kernels.fusable(_xp(w), w, g):     # one fused kernel on a GPU; below, the reference
            return cuda_kernels.sgd_update(_xp(w), w, g, state, group)
        lr, mu = group["lr"], group["momentum"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        w -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015):

        m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
        w ← w − η · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)

    ``weight_decay`` adds λw to g (L2, coupled); ``amsgrad`` uses the
    running maximum of v."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                "amsgrad": False}
    decoupled = False

    def update(self, w, g, state, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        xp = _xp(w)
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(w)
            state["exp_avg_sq"] = xp.zeros_like(w)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(w)
        state["step"] += 1
        t = state["step"]
        if cuda_kernels.fusable(xp, w, g):         # one fused kernel on a GPU; below, the reference
            return cuda_kernels.adam_update(xp, w, g, state, group, self.decoupled)
        if group["weight_decay"]:
            if self.decoupled:
                w *= 1 - lr * group["weight_decay"]
            else:
                g = g + group["weight_decay"] * w
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        bias1 = 1 - b1 ** t
        bias2 = 1 - b2 ** t
        denom = xp.sqrt(v) / math.sqrt(bias2) + eps
        w -= (lr / bias1) * (m / denom)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay,
    w ← w − ηλw applied before the Adam step (default λ = 0.01)."""

    defaults = dict(Adam.defaults, weight_decay=0.01)
    decoupled = True


class RMSprop(Optimizer):
    """RMSProp (Hinton's lecture 6e; PyTorch's form):

        v ← αv + (1 − α)g²,   (centered: ḡ ← αḡ + (1 − α)g,  v̂ = v − ḡ²)
        step = g / (√v̂ + ε);   with momentum μ: b ← μb + step, step = b
        w ← w − η·step
    """

    defaults = {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0,
                "momentum": 0.0, "centered": False}

    def update(self, w, g, state, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        xp = _xp(w)
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(w)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(w)
            if group["momentum"]:
                state["momentum_buffer"] = xp.zeros_like(w)
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += (1 - alpha) * g
            denom = xp.sqrt(v - ga * ga) + eps
        else:
            denom = xp.sqrt(v) + eps
        if group["momentum"]:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / denom
            w -= lr * buf
        else:
            w -= lr * (g / denom)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011):

        η_t = η / (1 + (t − 1)·decay),   s ← s + g²,   w ← w − η_t · g / (√s + ε)
    """

    defaults = {"lr": 0.01, "lr_decay": 0.0, "weight_decay": 0.0,
                "initial_accumulator_value": 0.0, "eps": 1e-10}

    def update(self, w, g, state, group):
        xp = _xp(w)
        if "sum" not in state:
            state["step"] = 0
            state["sum"] = xp.full_like(w, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        w -= clr * (g / (xp.sqrt(s) + group["eps"]))


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
              "adagrad": Adagrad}


def make_optimizer(name, params, **options):
    """An optimizer by name (sgd, adam, adamw, rmsprop, adagrad)."""
    try:
        cls = OPTIMIZERS[name.lower()]
    except KeyError:
        raise ArgumentError(f"unknown optimizer {name!r}; choose one of "
                            f"{', '.join(OPTIMIZERS)}") from None
    return cls(params, **options)


# ==========================================================================
# Learning-rate schedules
# ==========================================================================


class LRScheduler:
    """Sets each group's lr from its base lr and the epoch count; call
    ``step()`` once per epoch (or per iteration, as you count)."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base, epoch):
        raise NotImplementedError

    def _apply(self):
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.lr_at(base, self.last_epoch)

    def step(self):
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state):
        self.last_epoch = int(state["last_epoch"])
        self.base_lrs = [float(b) for b in state["base_lrs"]]
        self._apply()


class StepLR(LRScheduler):
    """lr = base · γ^⌊epoch / step_size⌋."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if step_size < 1:
            raise ArgumentError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base, epoch):
        return base * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = base · γ^(number of milestones ≤ epoch)."""

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.milestones = sorted(int(m) for m in milestones)
        if any(m < 1 for m in self.milestones):
            raise ArgumentError(f"MultiStepLR: milestones must be >= 1, got {milestones}")
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base, epoch):
        return base * self.gamma ** sum(1 for m in self.milestones if m <= epoch)


class CosineAnnealingLR(LRScheduler):
    """lr = η_min + (base − η_min)·(1 + cos(π·epoch / T_max)) / 2
    (Loshchilov & Hutter 2017, without restarts). Past T_max the cosine
    goes on, rising again, as in PyTorch: set T_max to the run's length."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if T_max < 1:
            raise ArgumentError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base, epoch):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * epoch /
                                                                     self.T_max)) / 2


class LinearWarmup(LRScheduler):
    """Linear warm-up: lr = base · (s + (1 − s)·min(epoch, n) / n), rising
    from ``start_factor`` s times base to base over n = ``warmup_steps``
    (PyTorch's LinearLR with end_factor 1)."""

    def __init__(self, optimizer, warmup_steps, start_factor=0.0):
        if warmup_steps < 1:
            raise ArgumentError(f"LinearWarmup: warmup_steps must be >= 1, got {warmup_steps}")
        if not 0 <= start_factor <= 1:
            raise ArgumentError(f"LinearWarmup: start_factor must be in [0, 1], got "
                                f"{start_factor}")
        self.warmup_steps, self.start_factor = warmup_steps, start_factor
        super().__init__(optimizer)

    def lr_at(self, base, epoch):
        frac = min(epoch, self.warmup_steps) / self.warmup_steps
        return base * (self.start_factor + (1 - self.start_factor) * frac)


SCHEDULERS = {"step": StepLR, "multistep": MultiStepLR, "cosine": CosineAnnealingLR,
              "warmup": LinearWarmup}


# ==========================================================================
# Gradient clipping and gradient noise
# ==========================================================================


def _grads(params):
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(params, max_norm, norm_type=2.0):
    """Scale all gradients together so their joint norm is at most
    ``max_norm`` (in place). Returns the norm before clipping.

    The per-gradient partial norms stay on the gradients' device and are
    combined there, so a GPU step waits for the device once, not once per
    parameter."""
    params = [params] if isinstance(params, Tensor) else list(params)
    grads = _grads(params)
    if not grads:
        return 0.0
    xp = _xp(grads[0].data)
    if norm_type == math.inf:
        parts = [xp.abs(g.data).max().astype(xp.float64) for g in grads]
        total = float(xp.stack(parts).max())
    else:
        parts = [(xp.abs(g.data) ** norm_type).sum(dtype=xp.float64) for g in grads]
        total = float(xp.stack(parts).sum()) ** (1.0 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g.data *= g.data.dtype.type(coef)
            g._version += 1
    return total


def clip_grad_value_(params, clip_value):
    """Clip every gradient element to [−clip_value, clip_value] (in place)."""
    params = [params] if isinstance(params, Tensor) else list(params)
    for g in _grads(params):
        _xp(g.data).clip(g.data, -clip_value, clip_value, out=g.data)
        g._version += 1


class GradientNoise:
    """Annealed Gaussian gradient noise (Neelakantan et al. 2015, "Adding
    Gradient Noise Improves Learning for Very Deep Networks"):

        g ← g + N(0, σₜ²),   σₜ² = η / (1 + t)^γ

    with t the number of calls so far; the paper uses η ∈ {0.01, 0.3, 1}
    and γ = 0.55. Call it after the gradients are computed and before the
    optimizer step."""

    def __init__(self, eta=0.01, gamma=0.55, generator=None):
        if eta < 0:
            raise ArgumentError(f"GradientNoise: eta must be >= 0, got {eta}")
        self.eta, self.gamma, self.t = eta, gamma, 0
        self.generator = generator

    def variance(self, t=None):
        t = self.t if t is None else t
        return self.eta / (1 + t) ** self.gamma

    def __call__(self, params):
        params = [params] if isinstance(params, Tensor) else list(params)
        std = math.sqrt(self.variance())
        for g in _grads(params):
            gen = self.generator or _backend.default_generator(g.backend)
            noise = gen.standard_normal(g.shape)
            g.data = (g.data + std * noise).astype(g.data.dtype, copy=False)
            g._version += 1
        self.t += 1

    def state_dict(self):
        return {"t": self.t, "eta": self.eta, "gamma": self.gamma}

    def load_state_dict(self, state):
        self.t, self.eta, self.gamma = int(state["t"]), state["eta"], state["gamma"]


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "OPTIMIZERS",
           "make_optimizer", "LRScheduler", "StepLR", "MultiStepLR", "CosineAnnealingLR",
           "LinearWarmup",
           "SCHEDULERS",
           "clip_grad_norm_", "clip_grad_value_", "GradientNoise", "OptimizerStateError"]
