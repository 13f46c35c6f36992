"""Elementwise ops: arithmetic, exp/log family, activations, comparisons.

Each op class holds the whole derivative of one function on one screen:
``forward`` on arrays, ``vjp`` (reverse mode, ḡ is the output gradient) and
``jvp`` (forward mode, ẋ is the input tangent), both with Tensor ops.
Broadcasting in binary ops is undone by the engine (gradients are summed
back to each input's shape), so the rules below are the scalar calculus.
Conventions at kinks (as in PyTorch): relu'(0) = 0, |x|'(0) = 0, and where
``maximum``/``minimum`` tie, the gradient is split evenly between the two.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend as _backend
from ..autodiff import ZERO, Op, apply
from ..backend import get_array_module
from ..errors import ArgumentError, BackendError, DTypeError
from ..tensor import Tensor
from ._util import binary_args, const, tensor_args


def _xp(*arrays):
    return get_array_module(*arrays)


# ==========================================================================
# Arithmetic
# ==========================================================================


class Add(Op):
    """y = a + b.   vjp: (ḡ, ḡ).   jvp: ȧ + ḃ."""

    name = "add"
    saves_inputs = False

    def forward(self, a, b):
        return a + b

    def vjp(self, g):
        return g, g

    def jvp(self, da, db):
        return da + db


class Sub(Op):
    """y = a − b.   vjp: (ḡ, −ḡ).   jvp: ȧ − ḃ."""

    name = "sub"
    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def vjp(self, g):
        return g, -g

    def jvp(self, da, db):
        return da - db


class Mul(Op):
    """y = a·b.   vjp: (ḡ·b, ḡ·a).   jvp: ȧ·b + a·ḃ."""

    name = "mul"

    def forward(self, a, b):
        return a * b

    def vjp(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)

    def jvp(self, da, db):
        a, b = self.inputs
        return da * b + a * db


class Div(Op):
    """y = a / b.   vjp: (ḡ/b, −ḡ·a/b²).   jvp: (ȧ − y·ḃ) / b."""

    name = "div"

    def forward(self, a, b):
        return a / b

    def vjp(self, g):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)

    def jvp(self, da, db):
        a, b = self.inputs
        return (da - self.output * db) / b


class Neg(Op):
    """y = −x.   vjp: −ḡ.   jvp: −ẋ."""

    name = "neg"
    saves_inputs = False

    def forward(self, x):
        return -x

    def vjp(self, g):
        return -g

    def jvp(self, dx):
        return -dx


class PowScalar(Op):
    """y = xᵖ for a constant exponent p.   vjp: ḡ·p·xᵖ⁻¹.   jvp: ẋ·p·xᵖ⁻¹.

    For p = 0 the derivative is 0 everywhere (also at x = 0)."""

    name = "pow_scalar"

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        if self.p == 2:
            return x * x
        return x ** _xp(x).asarray(self.p, dtype=x.dtype)

    def _dydx(self):
        (x,) = self.inputs
        if self.p == 0:
            return _zeros_like(x)
        if self.p == 1:
            return _ones_like(x)
        if self.p == 2:
            return 2 * x
        return self.p * pow(x, self.p - 1)

    def vjp(self, g):
        return g * self._dydx()

    def jvp(self, dx):
        return dx * self._dydx()


class Pow(Op):
    """y = aᵇ for two tensors.

    vjp: (ḡ·b·aᵇ⁻¹, ḡ·y·log a).   jvp: ȧ·b·aᵇ⁻¹ + ḃ·y·log a.
    The exponent's derivative y·log a is taken as 0 where a = 0 and b ≥ 0
    (the limit, as in PyTorch) instead of 0·(−∞).
    """

    name = "pow"
    saves_output = True

    def forward(self, a, b):
        return a ** b

    def _d_base(self):
        a, b = self.inputs
        return b * pow(a, b - 1)

    def _d_exponent(self):
        a, b = self.inputs
        y = self.output
        at_zero = const((a.data == 0) & (b.data >= 0))
        safe_a = where(at_zero, 1, a)
        return where(at_zero, 0, y * log(safe_a))

    def vjp(self, g):
        need_a, need_b = self.needs_input_grad
        return (g * self._d_base() if need_a else None,
                g * self._d_exponent() if need_b else None)

    def jvp(self, da, db):
        out = ZERO
        if da is not ZERO:
            out = out + da * self._d_base()
        if db is not ZERO:
            out = out + db * self._d_exponent()
        return out


# ==========================================================================
# Exponentials, logarithms, trigonometry
# ==========================================================================


class Exp(Op):
    """y = eˣ.   vjp: ḡ·y.   jvp: ẋ·y."""

    name = "exp"
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return _xp(x).exp(x)

    def vjp(self, g):
        return g * self.output

    def jvp(self, dx):
        return dx * self.output


class Log(Op):
    """y = ln x.   vjp: ḡ/x.   jvp: ẋ/x."""

    name = "log"

    def forward(self, x):
        return _xp(x).log(x)

    def vjp(self, g):
        return g / self.inputs[0]

    def jvp(self, dx):
        return dx / self.inputs[0]


class Log1p(Op):
    """y = ln(1 + x).   vjp: ḡ/(1 + x).   jvp: ẋ/(1 + x)."""

    name = "log1p"

    def forward(self, x):
        return _xp(x).log1p(x)

    def vjp(self, g):
        return g / (1 + self.inputs[0])

    def jvp(self, dx):
        return dx / (1 + self.inputs[0])


class Sqrt(Op):
    """y = √x.   vjp: ḡ/(2y).   jvp: ẋ/(2y)."""

    name = "sqrt"
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return _xp(x).sqrt(x)

    def vjp(self, g):
        return g / (2 * self.output)

    def jvp(self, dx):
        return dx / (2 * self.output)


class Abs(Op):
    """y = |x|.   vjp: ḡ·sign(x).   jvp: ẋ·sign(x)   (0 at x = 0)."""

    name = "abs"

    def forward(self, x):
        return _xp(x).abs(x)

    def vjp(self, g):
        return g * sign(self.inputs[0])

    def jvp(self, dx):
        return dx * sign(self.inputs[0])


class Sign(Op):
    """y = sign(x), piecewise constant.   vjp: 0.   jvp: 0."""

    name = "sign"
    saves_inputs = False

    def forward(self, x):
        return _xp(x).sign(x)

    def vjp(self, g):
        return _zeros_like(g)

    def jvp(self, dx):
        return _zeros_like(dx)


class Sin(Op):
    """y = sin x.   vjp: ḡ·cos x.   jvp: ẋ·cos x."""

    name = "sin"

    def forward(self, x):
        return _xp(x).sin(x)

    def vjp(self, g):
        return g * cos(self.inputs[0])

    def jvp(self, dx):
        return dx * cos(self.inputs[0])


class Cos(Op):
    """y = cos x.   vjp: −ḡ·sin x.   jvp: −ẋ·sin x."""

    name = "cos"

    def forward(self, x):
        return _xp(x).cos(x)

    def vjp(self, g):
        return -g * sin(self.inputs[0])

    def jvp(self, dx):
        return -dx * sin(self.inputs[0])


class Erf(Op):
    """y = erf x = (2/√π)∫₀ˣ e^(−t²) dt.   vjp: ḡ·(2/√π)e^(−x²).   jvp: likewise."""

    name = "erf"

    def forward(self, x):
        return _backend.erf(x).astype(x.dtype, copy=False)

    def _dydx(self):
        (x,) = self.inputs
        return (2 / math.sqrt(math.pi)) * exp(-(x * x))

    def vjp(self, g):
        return g * self._dydx()

    def jvp(self, dx):
        return dx * self._dydx()


# ==========================================================================
# Activation functions
# ==========================================================================


class Tanh(Op):
    """y = tanh x.   vjp: ḡ·(1 − y²).   jvp: ẋ·(1 − y²)."""

    name = "tanh"
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return _xp(x).tanh(x)

    def vjp(self, g):
        y = self.output
        return g * (1 - y * y)

    def jvp(self, dx):
        y = self.output
        return dx * (1 - y * y)


class Sigmoid(Op):
    """y = σ(x) = 1/(1 + e⁻ˣ).   vjp: ḡ·y(1 − y).   jvp: ẋ·y(1 − y).

    Computed as ½(1 + tanh(x/2)), which never overflows."""

    name = "sigmoid"
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        xp = _xp(x)
        return 0.5 * (1 + xp.tanh(0.5 * x))

    def vjp(self, g):
        y = self.output
        return g * (y * (1 - y))

    def jvp(self, dx):
        y = self.output
        return dx * (y * (1 - y))


class Relu(Op):
    """y = max(x, 0).   vjp: ḡ·[x > 0].   jvp: ẋ·[x > 0]   (0 at x = 0).

    ([x > 0] is the same mask as [y > 0], so only the output is kept.)"""

    name = "relu"
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return _xp(x).maximum(x, 0)

    def vjp(self, g):
        return g * (self.output > 0)

    def jvp(self, dx):
        return dx * (self.output > 0)


class LeakyRelu(Op):
    """y = x if x > 0 else αx.   vjp: ḡ·(1 or α).   jvp: ẋ·(1 or α)."""

    name = "leaky_relu"

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        return _xp(x).where(x > 0, x, self.slope * x)

    def vjp(self, g):
        return where(self.inputs[0] > 0, g, self.slope * g)

    def jvp(self, dx):
        return where(self.inputs[0] > 0, dx, self.slope * dx)


class Elu(Op):
    """y = x if x > 0 else α(eˣ − 1).   vjp: ḡ·(1 or y + α).   jvp: likewise."""

    name = "elu"
    saves_output = True

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = _xp(x)
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))

    def _dydx(self):
        (x,) = self.inputs
        return where(x > 0, 1, self.output + self.alpha)

    def vjp(self, g):
        return g * self._dydx()

    def jvp(self, dx):
        return dx * self._dydx()


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_C = 0.044715


class Gelu(Op):
    """GELU (Hendrycks & Gimpel 2016): y = x·Φ(x), Φ the standard normal CDF.

    dy/dx = Φ(x) + x·φ(x).  With ``approximate="tanh"``:
    y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³),
    dy/dx = ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²).
    """

    name = "gelu"

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        xp = _xp(x)
        if self.approximate == "tanh":
            u = _SQRT_2_OVER_PI * (x + _GELU_C * x ** 3)
            return 0.5 * x * (1 + xp.tanh(u))
        return 0.5 * x * (1 + _backend.erf(x / math.sqrt(2)).astype(x.dtype, copy=False))

    def _dydx(self):
        (x,) = self.inputs
        if self.approximate == "tanh":
            t = tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
            du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
        pdf = (1 / math.sqrt(2 * math.pi)) * exp(-0.5 * x * x)
        return cdf + x * pdf

    def vjp(self, g):
        return g * self._dydx()

    def jvp(self, dx):
        return dx * self._dydx()


class Softplus(Op):
    """y = (1/β)·ln(1 + e^(βx)), and y = x where βx > threshold (as PyTorch).

    vjp: ḡ·σ(βx) (1 above the threshold).   jvp: ẋ·σ(βx)."""

    name = "softplus"

    def __init__(self, beta, threshold):
        self.beta = beta
        self.threshold = threshold

    def forward(self, x):
        xp = _xp(x)
        bx = self.beta * x
        soft = xp.logaddexp(xp.zeros((), dtype=x.dtype), bx) / self.beta
        return xp.where(bx > self.threshold, x, soft).astype(x.dtype, copy=False)

    def _dydx(self):
        (x,) = self.inputs
        bx = self.beta * x
        return where(bx > self.threshold, 1, sigmoid(bx))

    def vjp(self, g):
        return g * self._dydx()

    def jvp(self, dx):
        return dx * self._dydx()


# ==========================================================================
# Selection: maximum, minimum, where, clip
# ==========================================================================


class Maximum(Op):
    """y = max(a, b).   vjp: (ḡ·w, ḡ·(1 − w)) with w = [a > b] + ½[a = b].

    Where a and b tie, each receives half of the gradient."""

    name = "maximum"
    saves_inputs = False

    def forward(self, a, b):
        xp = _xp(a, b)
        self.w = ((a > b) + 0.5 * (a == b)).astype(xp.result_type(a, b))
        return xp.maximum(a, b)

    def vjp(self, g):
        w = const(self.w)
        return g * w, g * (1 - w)

    def jvp(self, da, db):
        w = const(self.w)
        return da * w + db * (1 - w)


class Minimum(Maximum):
    """y = min(a, b).   vjp: (ḡ·w, ḡ·(1 − w)) with w = [a < b] + ½[a = b]."""

    name = "minimum"

    def forward(self, a, b):
        xp = _xp(a, b)
        self.w = ((a < b) + 0.5 * (a == b)).astype(xp.result_type(a, b))
        return xp.minimum(a, b)



class Where(Op):
    """y = a where cond else b (cond is a constant boolean mask).

    vjp: (ḡ·[cond], ḡ·[¬cond]).   jvp: ȧ where cond else ḃ."""

    name = "where"
    saves_inputs = False

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return _xp(a, b).where(self.cond, a, b)

    def vjp(self, g):
        c = const(self.cond)
        need_a, need_b = self.needs_input_grad
        return (g * c if need_a else None), (g * ~c if need_b else None)

    def jvp(self, da, db):
        c = const(self.cond)
        return da * c + db * ~c


class Clip(Op):
    """y = min(max(x, lo), hi).   vjp: ḡ·[lo ≤ x ≤ hi].   jvp: ẋ·[lo ≤ x ≤ hi].

    At the bounds themselves the gradient passes (as in PyTorch's clamp)."""

    name = "clip"

    def __init__(self, lo, hi):
        self.lo = lo
        self.hi = hi

    def forward(self, x):
        return _xp(x).clip(x, self.lo, self.hi)

    def _inside(self):
        (x,) = self.inputs
        mask = x.data == x.data  # all True (False at NaN)
        if self.lo is not None:
            mask = mask & (x.data >= self.lo)
        if self.hi is not None:
            mask = mask & (x.data <= self.hi)
        return const(mask)

    def vjp(self, g):
        return g * self._inside()

    def jvp(self, dx):
        return dx * self._inside()


# ==========================================================================
# Copies, casts, backends
# ==========================================================================


class Cast(Op):
    """y = x converted to another floating dtype.   vjp: ḡ cast back.   jvp: ẋ cast."""

    name = "astype"
    saves_inputs = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def vjp(self, g):
        return astype(g, self.in_dtype)

    def jvp(self, dx):
        return astype(dx, self.dtype)


class Clone(Op):
    """y = a copy of x.   vjp: ḡ.   jvp: ẋ."""

    name = "clone"
    saves_inputs = False

    def forward(self, x):
        return x.copy()

    def vjp(self, g):
        return g

    def jvp(self, dx):
        return dx


class ToBackend(Op):
    """y = x moved to another backend (NumPy ↔ CuPy).  vjp: ḡ moved back."""

    name = "to_backend"
    saves_inputs = False

    def __init__(self, target):
        self.target = target

    def forward(self, x):
        self.source = _backend.backend_of(x)
        return _backend.to_backend(x, self.target)

    def vjp(self, g):
        return to_backend(g, self.source)

    def jvp(self, dx):
        return to_backend(dx, self.target)


# ==========================================================================
# The functions users call
# ==========================================================================


def add(a, b):
    """a + b (broadcasting)."""
    a, b = binary_args(a, b, "add")
    return apply(Add(), a, b)


def sub(a, b):
    """a − b (broadcasting)."""
    a, b = binary_args(a, b, "sub")
    return apply(Sub(), a, b)


def mul(a, b):
    """a · b elementwise (broadcasting)."""
    a, b = binary_args(a, b, "mul")
    return apply(Mul(), a, b)


def div(a, b):
    """a / b elementwise (broadcasting). Integer inputs give a float result."""
    a, b = binary_args(a, b, "div")
    if a.data.dtype.kind != "f":
        dt = _backend.get_default_dtype()
        a, b = a.astype(dt), b.astype(dt)
    return apply(Div(), a, b)


def neg(x):
    """−x."""
    tensor_args("neg", x=x)
    return apply(Neg(), x)


def pow(a, b):
    """aᵇ. A Python number as exponent uses the simpler rule d/dx xᵖ = p·xᵖ⁻¹."""
    if isinstance(a, Tensor) and isinstance(b, (int, float, np.integer, np.floating)) \
            and not isinstance(b, bool):
        if a.data.dtype.kind != "f" and (b < 0 or isinstance(b, (float, np.floating))):
            a = a.astype(_backend.get_default_dtype())
        return apply(PowScalar(b), a)
    a, b = binary_args(a, b, "pow")
    return apply(Pow(), a, b)


def _unary(op_cls, name, x, *params):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.data.dtype.kind != "f":
        x = x.astype(_backend.get_default_dtype())
    return apply(op_cls(*params), x)


def exp(x):
    """eˣ elementwise."""
    return _unary(Exp, "exp", x)


def log(x):
    """Natural logarithm elementwise."""
    return _unary(Log, "log", x)


def log1p(x):
    """ln(1 + x), accurate for small x."""
    return _unary(Log1p, "log1p", x)


def sqrt(x):
    """√x elementwise."""
    return _unary(Sqrt, "sqrt", x)


def abs(x):
    """|x| elementwise (gradient 0 at 0)."""
    tensor_args("abs", x=x)
    return apply(Abs(), x)


def sign(x):
    """−1, 0 or 1 elementwise (gradient 0)."""
    tensor_args("sign", x=x)
    return apply(Sign(), x)


def sin(x):
    return _unary(Sin, "sin", x)


def cos(x):
    return _unary(Cos, "cos", x)


def erf(x):
    """The error function."""
    return _unary(Erf, "erf", x)


def tanh(x):
    return _unary(Tanh, "tanh", x)


def sigmoid(x):
    """σ(x) = 1/(1 + e⁻ˣ)."""
    return _unary(Sigmoid, "sigmoid", x)


def relu(x):
    """max(x, 0) (gradient 0 at 0)."""
    tensor_args("relu", x=x)
    return apply(Relu(), x)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, ``negative_slope``·x otherwise."""
    return _unary(LeakyRelu, "leaky_relu", x, negative_slope)


def elu(x, alpha=1.0):
    """x for x > 0, α(eˣ − 1) otherwise (Clevert et al. 2016)."""
    return _unary(Elu, "elu", x, alpha)


def gelu(x, approximate="none"):
    """x·Φ(x) (``approximate="tanh"`` for the tanh approximation)."""
    if approximate not in ("none", "tanh"):
        raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _unary(Gelu, "gelu", x, approximate)


def softplus(x, beta=1.0, threshold=20.0):
    """(1/β)·ln(1 + e^(βx)); linear above ``threshold`` (as PyTorch)."""
    if beta <= 0:
        raise ArgumentError(f"softplus: beta must be positive, got {beta}")
    return _unary(Softplus, "softplus", x, beta, threshold)


def maximum(a, b):
    """Elementwise maximum; ties split the gradient evenly."""
    a, b = binary_args(a, b, "maximum")
    return apply(Maximum(), a, b)


def minimum(a, b):
    """Elementwise minimum; ties split the gradient evenly."""
    a, b = binary_args(a, b, "minimum")
    return apply(Minimum(), a, b)


def where(cond, a, b):
    """``a`` where ``cond`` is true, else ``b`` (broadcasting all three).

    ``cond`` is a boolean Tensor or array (or a nested list, made on the
    operands' backend); it is not differentiated. A condition on another
    backend than the operands is an error, as for any op's inputs."""
    if isinstance(cond, Tensor):
        cond_arr = cond.data
    elif isinstance(cond, np.ndarray) or _backend.backend_of(cond) == "cupy":
        cond_arr = cond
    else:
        like = a if isinstance(a, Tensor) else b
        cond_arr = get_array_module(like.data if isinstance(like, Tensor) else None).asarray(cond)
    if cond_arr.dtype != np.bool_:
        raise DTypeError(f"where: the condition must be boolean, got dtype {cond_arr.dtype}")
    a, b = binary_args(a, b, "where")
    # the condition is held by the op, not passed as an input, so the engine's
    # check that all inputs share one backend does not see it: check it here
    cond_backend = _backend.backend_of(cond_arr)
    if cond_backend != a.backend or cond_backend != b.backend:
        raise BackendError(
            f"where: the condition lives on {cond_backend} but the operands on "
            f"{a.backend}, {b.backend}; move them to one backend with "
            "Tensor.to('numpy') or .to('cupy')")
    return apply(Where(cond_arr), a, b)


def clip(x, min=None, max=None):
    """Limit values to [min, max] (either may be None). Gradient passes where
    min ≤ x ≤ max."""
    tensor_args("clip", x=x)
    for name, v in (("min", min), ("max", max)):
        if v is not None and not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"clip: {name} must be a number or None, got "
                            f"{type(v).__name__}; for tensor bounds use "
                            "minigrad.maximum / minigrad.minimum")
    if min is None and max is None:
        raise ArgumentError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ArgumentError(f"clip: min ({min}) is larger than max ({max})")
    return apply(Clip(min, max), x)


clamp = clip


def astype(x, dtype):
    """``x`` converted to ``dtype``. Float-to-float casts are differentiable;
    a cast to an integer or bool dtype gives a tensor without gradient."""
    tensor_args("astype", x=x)
    dtype = np.dtype(dtype)
    if x.data.dtype == dtype:
        return x
    return apply(Cast(dtype), x)


def clone(x):
    """A copy of ``x`` that stays in the graph."""
    tensor_args("clone", x=x)
    return apply(Clone(), x)


def to_backend(x, target):
    """``x`` moved to backend ``target`` ("numpy" or "cupy"), differentiably."""
    tensor_args("to_backend", x=x)
    if x.backend == target:
        return x
    _backend.get_xp(target)  # raises a clear error if unavailable
    return apply(ToBackend(target), x)


def _zeros_like(x):
    """A constant tensor of zeros with ``x``'s shape, dtype and backend."""
    return const(_xp(x.data).zeros_like(x.data))


def _ones_like(x):
    """A constant tensor of ones with ``x``'s shape, dtype and backend."""
    return const(_xp(x.data).ones_like(x.data))


# -- comparisons and logic: boolean results, never differentiated ------------
def _compare(a, b, name, fn):
    a, b = binary_args(a, b, name)
    try:
        return const(fn(a.data, b.data))
    except ValueError as exc:
        from ..errors import ShapeError
        raise ShapeError(f"{name}: {exc} (shapes {a.shape} and {b.shape})") from None


def eq(a, b):
    return _compare(a, b, "eq", lambda x, y: x == y)


def ne(a, b):
    return _compare(a, b, "ne", lambda x, y: x != y)


def lt(a, b):
    return _compare(a, b, "lt", lambda x, y: x < y)


def le(a, b):
    return _compare(a, b, "le", lambda x, y: x <= y)


def gt(a, b):
    return _compare(a, b, "gt", lambda x, y: x > y)


def ge(a, b):
    return _compare(a, b, "ge", lambda x, y: x >= y)


def logical_not(x):
    return const(_xp(x.data).logical_not(x.data))


def logical_and(a, b):
    return _compare(a, b, "logical_and", lambda x, y: _xp(x).logical_and(x, y))


def logical_or(a, b):
    return _compare(a, b, "logical_or", lambda x, y: _xp(x).logical_or(x, y))


def isfinite(x):
    return const(_xp(x.data).isfinite(x.data))


def isnan(x):
    return const(_xp(x.data).isnan(x.data))

