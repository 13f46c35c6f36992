"""Neural-network building blocks: Module, Parameter, layers, init, models.

Models hold their parameters as attributes; ``model(x)`` runs the forward
pass with the ops of :mod:`minigrad.ops`, so any learning rule can read and
replace what a layer computes. Functions of tensors (``softmax``,
``cross_entropy``, ``conv2d``, ...) are in :mod:`minigrad.ops` and at the
top level of :mod:`minigrad`.
"""
from . import init
from .layers import (ACTIVATIONS, ELU, GELU, AvgPool2d, BatchNorm1d, BatchNorm2d,
                     Conv2d, Dropout, Flatten, GlobalAvgPool2d, Identity, LayerNorm,
                     LeakyReLU, Linear, LogSoftmax, MaxPool2d, ReLU, ResidualBlock,
                     Sigmoid, Softmax, Softplus, Tanh, activation)
from .models import lenet5, mlp, resnet
from .module import (Module, ModuleList, Parameter, Sequential, StateDictError,
                     check_input)

__all__ = [n for n in dir() if not n.startswith("_")]
