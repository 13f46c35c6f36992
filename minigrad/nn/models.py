"""A small model zoo: the architectures the learning-rule experiments use.

* :func:`mlp` -- fully connected layers with one activation;
* :func:`lenet5` -- LeNet-5 (LeCun et al. 1998) in the form the
  feedback-alignment benchmarks train: two conv + max-pool stages, then
  three linear layers;
* :func:`resnet` -- the CIFAR ResNets of He et al. (2016): three stages of
  basic residual blocks with 16, 32, 64 channels (``resnet(20)`` is
  ResNet-20; ``width`` scales the channels for small CPU runs).

Every constructor takes ``generator`` (for seeded initialisation), ``dtype``
and ``backend``.
"""
from __future__ import annotations

from ..errors import ArgumentError
from .layers import (Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d,
                     ResidualBlock, BatchNorm2d, ReLU, Dropout)
from .layers import activation as make_activation
from .module import Sequential


def mlp(sizes, activation="relu", flatten=True, dropout=0.0, dtype=None, backend=None,
        generator=None):
    """``sizes = [in, h1, ..., out]``: Linear layers with ``activation``
    (a name such as "relu" or "tanh") between them (none after the last). With ``flatten`` the input is
    flattened first, so images can be fed directly."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ArgumentError(f"mlp: sizes needs at least an input and an output size, got {sizes}")
    layers = [Flatten()] if flatten else []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, dtype=dtype, backend=backend, generator=generator))
        if i < len(sizes) - 2:
            layers.append(make_activation(activation))
            if dropout:
                layers.append(Dropout(dropout))
    return Sequential(*layers)


def lenet5(in_channels=1, num_classes=10, input_size=28, activation="relu",
           dtype=None, backend=None, generator=None):
    """LeNet-5: conv 5×5 (6 maps, padding 2) → pool 2 → conv 5×5 (16 maps) →
    pool 2 → linear 120 → linear 84 → linear ``num_classes``.

    For 28×28 inputs the feature maps are 28→14→10→5, so the first linear
    layer sees 16·5·5 = 400 features; for 32×32 inputs (CIFAR) 16·6·6.
    (LeCun's third convolution, 120 maps of 5×5 kernels on a 5×5 map, is
    this Linear(400, 120); some benchmark code writes it as a Conv2d.) The
    model checks that its input is (N, in_channels, input_size, input_size)."""
    kw = dict(dtype=dtype, backend=backend, generator=generator)
    side = ((input_size + 4 - 4) // 2 - 4) // 2
    if side < 1:
        raise ArgumentError(f"lenet5: input_size {input_size} is too small (needs >= 12)")
    act = make_activation
    model = Sequential(
        Conv2d(in_channels, 6, 5, padding=2, **kw), act(activation), MaxPool2d(2),
        Conv2d(6, 16, 5, **kw), act(activation), MaxPool2d(2),
        Flatten(),
        Linear(16 * side * side, 120, **kw), act(activation),
        Linear(120, 84, **kw), act(activation),
        Linear(84, num_classes, **kw))
    model.input_shape = (in_channels, input_size, input_size)
    model.name = "lenet5"
    return model


def resnet(depth=20, num_classes=10, in_channels=3, width=16, dtype=None, backend=None,
           generator=None):
    """CIFAR-style ResNet of He et al. (2016): a 3×3 conv, then 3 stages of
    n = (depth − 2) / 6 basic blocks with width, 2·width and 4·width
    channels (stride 2 between stages), global average pooling and a linear
    classifier. ``depth`` must be 6n + 2 (8, 14, 20, 32, ...)."""
    if depth < 8 or (depth - 2) % 6:
        raise ArgumentError(f"resnet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, "
                            f"56, ...), got {depth}")
    n = (depth - 2) // 6
    kw = dict(dtype=dtype, backend=backend, generator=generator)
    layers = [Conv2d(in_channels, width, 3, padding=1, bias=False, **kw),
              BatchNorm2d(width, dtype=dtype, backend=backend), ReLU()]
    channels = width
    for stage in range(3):
        out = width * 2 ** stage
        for block in range(n):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(ResidualBlock(channels, out, stride, **kw))
            channels = out
    layers += [GlobalAvgPool2d(), Linear(channels, num_classes, **kw)]
    return Sequential(*layers)
