"""Module and Parameter: the containers of a model's state.

A :class:`Module` keeps its parameters, buffers and sub-modules as plain
attributes (as in micrograd and DeZero): ``named_parameters`` walks them in
the order they were assigned, so names are stable ("0.weight",
"layers.2.bias") and a model's state can be saved, loaded and compared by
name. :class:`Parameter` is a Tensor that requires grad and is found by
that walk; a *buffer* (e.g. batch norm's running mean) is a Tensor
registered with :meth:`Module.register_buffer`: saved in the state dict,
but not a parameter.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend as _backend
from ..errors import MinigradError, ShapeError
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a learnable parameter of a :class:`Module`.

    ``Parameter(data, requires_grad=True)``: wraps ``data`` (a Tensor's data
    is shared, an array is used as is) as a leaf that requires grad."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(MinigradError, ValueError):
    """A state dict that does not fit the model: names, shapes or dtypes."""


class Module:
    """Base class of every layer and model.

    Subclasses set parameters and sub-modules as attributes in ``__init__``
    and define ``forward``; calling the module calls ``forward``."""

    training = True

    def __init__(self):
        self.training = True
        self._buffer_names = []

    # -- calling -------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- walking the tree --------------------------------------------------------
    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix=""):
        """This module and every module inside it, depth first, with dotted names."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        """``(dotted name, Parameter)`` pairs in the order they were assigned."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, mod in modules:
            for name, value in vars(mod).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{mod_name}.{name}" if mod_name else name), value

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def register_buffer(self, name, tensor):
        """Keep ``tensor`` as state that is saved but not learned (running
        statistics). ``None`` declares an absent buffer."""
        if "_buffer_names" not in vars(self):
            self._buffer_names = []
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        setattr(self, name, tensor)
        if name not in self._buffer_names:
            self._buffer_names.append(name)

    def named_buffers(self, prefix=""):
        for mod_name, mod in self.named_modules(prefix):
            for name in vars(mod).get("_buffer_names", ()):
                value = getattr(mod, name)
                if value is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), value

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    # -- modes and gradients -----------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (dropout active, batch statistics) on every module."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        """Set evaluation mode on every module."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of all parameters."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._make(p.grad.data * 0)

    def num_parameters(self):
        return sum(p.size for p in self.parameters())

    # -- moving -----------------------------------------------------------------------------
    def to(self, target):
        """Move every parameter and buffer to a backend ("numpy"/"cupy") or
        cast the floating-point ones to a dtype, in place. Returns self."""
        for mod in self.modules():
            for name, value in list(vars(mod).items()):
                if not isinstance(value, Tensor):
                    continue
                if isinstance(target, str) and target in _backend.BACKENDS:
                    new = _backend.to_backend(value.data, target)
                elif value.data.dtype.kind == "f":
                    new = value.data.astype(np.dtype(target))
                else:
                    continue
                value.data = new
                value.grad = None
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # -- state -----------------------------------------------------------------------
    def state_dict(self):
        """Parameters and buffers by dotted name (the Tensors themselves, not
        copies; :func:`minigrad.save` writes them out)."""
        state = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p
        for name, b in self.named_buffers():
            state[name] = b
        return state

    def load_state_dict(self, state, strict=True):
        """Copy ``state`` (name -> Tensor or array) into the parameters and
        buffers. Every mismatch -- missing or unexpected names, shapes,
        dtypes -- is collected and reported at once; nothing is changed
        unless everything fits."""
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected: {', '.join(unexpected)}")
        for name, target in own.items():
            if name not in state:
                continue
            src = state[name]
            arr = src.data if isinstance(src, Tensor) else src
            shape = tuple(getattr(arr, "shape", ()))
            dtype = getattr(arr, "dtype", None)
            if shape != target.shape:
                problems.append(f"{name}: shape {shape} in the state dict, {target.shape} "
                                "in the model")
            elif dtype is None or np.dtype(dtype) != target.data.dtype:
                problems.append(f"{name}: dtype {dtype} in the state dict, "
                                f"{target.data.dtype} in the model")
        if problems:
            raise StateDictError(f"load_state_dict into {type(self).__name__}: the state "
                                 "dict does not fit the model:\n  " + "\n  ".join(problems))
        for name, target in own.items():
            if name in state:
                src = state[name]
                arr = src.data if isinstance(src, Tensor) else src
                target.data = _backend.to_backend(arr, target.backend).copy()
                target._version += 1
        return {"missing": missing, "unexpected": unexpected}

    # -- display -------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after the other; named "0", "1", ..."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    def __len__(self):
        return sum(1 for _ in self.children())

    def __getitem__(self, i):
        mods = list(self.children())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __iter__(self):
        return iter(list(self.children()))

    def append(self, module):
        setattr(self, str(len(self)), module)
        return self

    #: the shape of one input example, checked on every call when set (the
    #: model zoo sets it); ``name`` is what error messages call the model
    input_shape = None
    name = None

    def forward(self, x):
        if self.input_shape is not None and isinstance(x, Tensor) and \
                tuple(x.shape[-len(self.input_shape):]) != tuple(self.input_shape):
            raise ShapeError(f"{self.name or 'Sequential'}: expected inputs of shape "
                             f"(N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        for name, m in self.named_children():
            try:
                x = m(x)
            except ShapeError as exc:     # say where in the model it happened
                if getattr(exc, "located", False):
                    raise
                located = type(exc)(f"layer {name} of {self.name or 'Sequential'} "
                                    f"({type(m).__name__}): {exc}")
                located.located = True
                raise located from None
        return x


class ModuleList(Module):
    """A list of modules (registered as children "0", "1", ...)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self)), module)
        return self

    def __len__(self):
        return sum(1 for _ in self.children())

    def __getitem__(self, i):
        return list(self.children())[i]

    def __iter__(self):
        return iter(list(self.children()))


def check_input(module, x, ndim_options, feature_axis=None, features=None, what="input"):
    """Raise a ShapeError naming ``module`` when ``x`` does not have one of
    ``ndim_options`` dimensions or the expected size on ``feature_axis``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{module!r}: expected a Tensor {what}, got {type(x).__name__}")
    if x.ndim not in ndim_options:
        options = list(ndim_options)
        dims = f"{options[0]}-d or more" if len(options) > 4 and options == list(
            range(options[0], options[-1] + 1)) else " or ".join(map(str, options)) + "-d"
        raise ShapeError(f"{module!r}: expected a {dims} {what}, got shape {x.shape}")
    if feature_axis is not None and x.shape[feature_axis] != features:
        raise ShapeError(f"{module!r}: expected {features} features on axis {feature_axis} "
                         f"of the {what}, got shape {x.shape}")
