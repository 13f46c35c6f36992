"""Every differentiable function of minigrad, grouped by family.

* :mod:`.elementwise` -- arithmetic, exp/log, activations, comparisons
* :mod:`.reduction`   -- sum, mean, var, std, max, min, prod, logsumexp
* :mod:`.shape`       -- reshape, permute, broadcast, index, concatenate, pad
* :mod:`.linalg`      -- matmul, einsum, outer
* :mod:`.nn`          -- softmax, losses, dropout, normalisation, linear
  (``nll`` and ``mse`` are aliases of ``nll_loss`` and ``mse_loss``)
* :mod:`.conv`        -- unfold/fold, conv2d, conv_transpose2d, pooling
* :mod:`.registry`    -- the catalogue of all ops with sample inputs, used by
  the test suite and ``python -m minigrad gradcheck``
"""
from . import conv, elementwise, linalg, nn, reduction, shape
from .conv import (avg_pool2d, conv2d, conv_transpose2d, fold, max_pool2d,
                   unfold)
from .elementwise import (abs, add, astype, clamp, clip, clone, cos, div, elu,
                          eq, erf, exp, ge, gelu, gt, isfinite, isnan, le,
                          leaky_relu, log, log1p, logical_and, logical_not,
                          logical_or, lt, maximum, minimum, mul, ne, neg,
                          pow, relu, sigmoid, sign, sin, softplus,
                          sqrt, sub, tanh, to_backend, where)
from .linalg import einsum, matmul, outer
from .nn import (batch_norm, bce_with_logits, cross_entropy, dropout,
                 layer_norm, linear, log_softmax, mse, mse_loss, nll, nll_loss,
                 softmax)
from .reduction import (all, any, argmax, argmin, logsumexp, max, mean, min,
                        prod, std, sum, var)
from .shape import (alias, broadcast_to, cat, concatenate, expand_dims, flatten, flip,
                    getitem, pad, permute, reshape, scatter_add, split,
                    squeeze, stack, sum_to, swapaxes, transpose, unsqueeze)

import types as _types

__all__ = [name for name, value in dict(globals()).items()
           if not name.startswith("_") and not isinstance(value, _types.ModuleType)]
