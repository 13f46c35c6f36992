"""Layers: each holds its parameters and calls one function of minigrad.ops.

Shapes and defaults follow PyTorch, so a model can be compared with its
torch twin weight for weight. Every layer checks the shape of its input
and names itself in the error.
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from .. import ops as F
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from . import init
from .module import Module, Parameter, Sequential, check_input


def _empty(shape, dtype, backend):
    xp = _backend.get_xp(backend)
    return xp.zeros(shape, dtype=_backend.get_default_dtype() if dtype is None else dtype)


def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features).

    Initialised as PyTorch does: W, b ~ U(−1/√in, 1/√in)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, backend=None,
                 generator=None):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ArgumentError(f"Linear: feature sizes must be positive, got "
                                f"({in_features}, {out_features})")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(_empty((out_features, in_features), dtype, backend))
        self.bias = Parameter(_empty((out_features,), dtype, backend)) if bias else None
        init.default_linear_init_(self.weight, self.bias, generator)

    def forward(self, x):
        check_input(self, x, range(1, 100), -1, self.in_features)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution (cross-correlation) over (N, C, H, W) inputs; weight
    (out_channels, in_channels/groups, kh, kw). PyTorch's default init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype=None, backend=None, generator=None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(f"Conv2d: in_channels ({in_channels}) and out_channels "
                                f"({out_channels}) must be divisible by groups ({groups})")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(_empty(shape, dtype, backend))
        self.bias = Parameter(_empty((out_channels,), dtype, backend)) if bias else None
        init.default_linear_init_(self.weight, self.bias, generator)

    def forward(self, x):
        check_input(self, x, (3, 4), -3, self.in_channels)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        if self.stride != 1:
            s += f", stride={self.stride}"
        if self.padding != 0:
            s += f", padding={self.padding}"
        if self.dilation != 1:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = \
            kernel_size, stride, padding, dilation

    def forward(self, x):
        check_input(self, x, (3, 4))
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        check_input(self, x, (3, 4))
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class GlobalAvgPool2d(Module):
    """Mean over the spatial axes: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        check_input(self, x, (4,))
        return F.mean(x, axis=(2, 3))


class Flatten(Module):
    """Merge axes ``start_axis`` ... ``end_axis`` (default: all but the batch axis)."""

    def __init__(self, start_axis=1, end_axis=-1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x):
        return F.flatten(x, self.start_axis, self.end_axis)


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training mode, identity in
    evaluation mode. Draws from ``generator`` or the backend's default one."""

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ArgumentError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Module):
    expected_ndim = (2,)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, backend=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        xp = _backend.get_xp(backend)
        dt = _backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(xp.ones(num_features, dtype=dt)) if affine else None
        self.bias = Parameter(xp.zeros(num_features, dtype=dt)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        check_input(self, x, self.expected_ndim, 1, self.num_features)
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if momentum is None:   # a cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch_stats, momentum=momentum or 0.0, eps=self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy 2015) of (N, C) or (N, C, L) inputs."""

    expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy 2015) of (N, C, H, W) inputs."""

    expected_ndim = (4,)


class LayerNorm(Module):
    """Layer normalisation (Ba et al. 2016) over the last axes."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=None,
                 backend=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        xp = _backend.get_xp(backend)
        dt = _backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(xp.ones(self.normalized_shape, dtype=dt)) \
            if elementwise_affine else None
        self.bias = Parameter(xp.zeros(self.normalized_shape, dtype=dt)) \
            if elementwise_affine else None

    def forward(self, x):
        n = len(self.normalized_shape)
        if not isinstance(x, Tensor) or x.ndim < n or \
                tuple(x.shape[-n:]) != self.normalized_shape:
            check_input(self, x, range(n, 100))
            raise ShapeError(f"{self!r}: expected an input ending in {self.normalized_shape}, "
                             f"got shape {x.shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


# -- activations -------------------------------------------------------------------


class Identity(Module):
    def forward(self, x):
        return x


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)


class Softmax(Module):
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, self.axis)


class LogSoftmax(Module):
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.log_softmax(x, self.axis)


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU,
               "elu": ELU, "gelu": GELU, "softplus": Softplus, "identity": Identity}


def activation(name):
    """An activation module by name (relu, tanh, sigmoid, leaky_relu, elu, gelu,
    softplus, identity)."""
    if isinstance(name, Module):
        return name
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ArgumentError(f"unknown activation {name!r}; choose one of "
                            f"{', '.join(sorted(ACTIVATIONS))}") from None


# -- residual block ------------------------------------------------------------------


class ResidualBlock(Module):
    """The basic block of He et al. (2016), "Deep Residual Learning":

        y = relu( BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x) )

    The shortcut is the identity, or a strided 1×1 convolution with batch
    norm when the block changes the number of channels or the resolution."""

    def __init__(self, in_channels, out_channels, stride=1, dtype=None, backend=None,
                 generator=None):
        super().__init__()
        kw = dict(dtype=dtype, backend=backend)
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=False,
                            generator=generator, **kw)
        self.bn1 = BatchNorm2d(out_channels, **kw)
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=False,
                            generator=generator, **kw)
        self.bn2 = BatchNorm2d(out_channels, **kw)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = Sequential(
                Conv2d(in_channels, out_channels, 1, stride, bias=False, generator=generator,
                       **kw), BatchNorm2d(out_channels, **kw))
        else:
            self.shortcut = Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))

