"""Weight initialisation schemes, all seeded.

Each function fills a tensor in place and returns it. Randomness comes from
``generator`` (a NumPy or CuPy Generator) or, by default, from the tensor
backend's default generator (seeded by :func:`minigrad.manual_seed`).

fan_in / fan_out of a weight: for a linear weight (out, in) they are in and
out; for a conv weight (out, in/groups, kh, kw) they are in/groups·kh·kw and
out·kh·kw.
"""
from __future__ import annotations

import math

from .. import backend as _backend
from ..autodiff import no_grad
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor


def _fans(tensor, name):
    shape = tensor.shape
    if len(shape) < 2:
        raise ShapeError(f"{name}: fan in and fan out need a tensor with at least 2 "
                         f"dimensions, got shape {shape}")
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps the activation variance stable through
    ``nonlinearity`` (the values PyTorch uses): linear/sigmoid 1, tanh 5/3,
    relu √2, leaky_relu √(2/(1 + slope²)), selu 3/4."""
    if nonlinearity in ("linear", "identity", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ArgumentError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; use one of "
                        "linear, sigmoid, tanh, relu, leaky_relu, selu")


def _generator(tensor, generator):
    return _backend.default_generator(tensor.backend) if generator is None else generator


def _fill(tensor, values):
    with no_grad():
        tensor.data[...] = values.astype(tensor.data.dtype, copy=False)
        tensor._version += 1
    return tensor


def uniform_(tensor: Tensor, low=0.0, high=1.0, generator=None):
    """Fill with samples from U(low, high)."""
    gen = _generator(tensor, generator)
    return _fill(tensor, low + (high - low) * gen.random(tensor.shape))


def normal_(tensor: Tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples from N(mean, std²)."""
    gen = _generator(tensor, generator)
    return _fill(tensor, mean + std * gen.standard_normal(tensor.shape))


def constant_(tensor: Tensor, value):
    xp = _backend.get_array_module(tensor.data)
    return _fill(tensor, xp.full(tensor.shape, value))


def zeros_(tensor: Tensor):
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): U(−a, a), a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): N(0, σ²), σ = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity, name):
    fan_in, fan_out = _fans(tensor, name)
    if mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a=0.0, mode="fan_in", nonlinearity="relu",
                     generator=None):
    """He et al. (2015): U(−b, b), b = gain·√(3 / fan), so the variance is gain²/fan."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a=0.0, mode="fan_in", nonlinearity="relu",
                    generator=None):
    """He et al. (2015): N(0, gain² / fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std, generator)


def lecun_uniform_(tensor: Tensor, generator=None):
    """LeCun et al. (1998): U(−b, b), b = √(3 / fan_in) (variance 1/fan_in)."""
    fan_in, _ = _fans(tensor, "lecun_uniform_")
    bound = math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -bound, bound, generator)


def lecun_normal_(tensor: Tensor, generator=None):
    """LeCun et al. (1998): N(0, 1 / fan_in)."""
    fan_in, _ = _fans(tensor, "lecun_normal_")
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator)


def orthogonal_(tensor: Tensor, gain=1.0, generator=None):
    """Saxe et al. (2014): a (semi-)orthogonal matrix, from the QR
    decomposition of a Gaussian matrix with the signs of R's diagonal folded
    in (so the result is uniformly distributed). Higher-dimensional weights
    are flattened to (shape[0], rest)."""
    if tensor.ndim < 2:
        raise ShapeError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.size // rows
    gen = _generator(tensor, generator)
    xp = _backend.get_array_module(tensor.data)
    flat = gen.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def default_linear_init_(weight: Tensor, bias: Tensor | None, generator=None):
    """PyTorch's default for Linear and Conv2d: weight and bias from
    U(−1/√fan_in, 1/√fan_in)."""
    fan_in, _ = _fans(weight, "default_linear_init_")
    bound = 1.0 / math.sqrt(fan_in)
    uniform_(weight, -bound, bound, generator)
    if bias is not None:
        uniform_(bias, -bound, bound, generator)


__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "lecun_uniform_", "lecun_normal_", "orthogonal_", "default_linear_init_"]
