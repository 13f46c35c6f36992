"""minigrad: a NumPy/CuPy reference engine for how neural networks learn.

Tensors with reverse-mode and forward-mode automatic differentiation, where
every derivative rule is written out in plain array code (see
:mod:`minigrad.ops`), and gradient checking built in (:mod:`minigrad.check`).
"""
from __future__ import annotations

import numpy as _np

from .tensor import Tensor  # noqa: I001  (must come first: the others use it)
from . import autodiff, backend, errors, ops
from .autodiff import (Op, ZERO, apply, backward, detect_anomaly, dual_level,
                       enable_grad, is_anomaly_enabled, is_grad_enabled,
                       no_grad, set_grad_enabled)
from .backend import (cupy_available, default_generator, get_backend,
                      get_default_dtype, manual_seed, set_backend,
                      set_default_dtype)
from .creation import (arange, as_tensor, empty, eye, full, full_like,
                       linspace, ones, ones_like, rand, rand_like, randint,
                       randn, randn_like, tensor, zeros, zeros_like)
from .errors import (AnomalyError, ArgumentError, AxisError, BackendError,
                     DTypeError, GradcheckError, GradientError, IndexingError,
                     MinigradError, ShapeError)
from .ops import *  # noqa: F401,F403  (every op function at the top level)
from .ops import __all__ as _ops_all
from .functional import (functional_call, grad, hessian, hvp, jacobian, jvp,
                         make_dual, unpack_dual, value_and_grad, vjp)
from .check import GradcheckReport, check_grads, compare_with_torch, gradcheck
from .serialization import load, save
from . import nn, optim, data  # noqa: E402  (layers, optimizers, datasets)
from . import rules, inspect  # noqa: E402  (learning rules, alignment)

# PyTorch-style reverse mode on explicit tensors: minigrad.autograd.grad(outputs,
# inputs) and minigrad.autograd.backward(...); minigrad.grad is JAX's transform.
autograd = autodiff

__version__ = "0.1.0"

float16 = _np.dtype(_np.float16)
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
bool_ = _np.dtype(_np.bool_)
