# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 4: Forward mode
#
# Reverse mode (backprop) gives the gradient of one scalar loss with respect to
# every parameter in one backward pass. Forward mode runs the other way: it
# pushes a *direction* through the computation alongside the values and returns
# the directional derivative of every output. This lesson builds it from
# scratch and then uses minigrad's version.
#
# **You will learn**
#
# * dual numbers $a + b\varepsilon$ with $\varepsilon^2 = 0$, and a 30-line
#   forward-mode differentiator built on them;
# * minigrad's forward mode: `mg.jvp`, and the pieces under it,
#   `mg.dual_level`, `mg.make_dual`, `mg.unpack_dual`;
# * when to use forward mode (jvp) and when reverse mode (vjp): a full
#   Jacobian of $f:\mathbb{R}^n\to\mathbb{R}^m$ costs $n$ jvps or $m$ vjps,
#   measured here;
# * the identity $\langle u, Jv\rangle = \langle J^\top u, v\rangle$ that ties
#   the two modes together;
# * Hessian-vector products by forward-over-reverse (`mg.hvp`).
#
# **Prerequisites:** minigrad tensors, `backward` and the idea of a vjp (the
# earlier lessons on reverse mode).
#
# **Run time:** a few seconds in fast mode (`MINIGRAD_FAST=1`), about 10 s in
# full mode (the timing sweep is larger).
#
# **Reading.** R. E. Wengert (1964), "A simple automatic derivative evaluation
# program", *Communications of the ACM* 7(8):463-464 -- the first forward-mode
# program. A. Griewank & A. Walther (2008), *Evaluating Derivatives: Principles
# and Techniques of Algorithmic Differentiation*, 2nd ed., SIAM -- the
# reference on costs. A. G. Baydin, B. A. Pearlmutter, A. A. Radul &
# J. M. Siskind (2018), "Automatic differentiation in machine learning: a
# survey", *JMLR* 18(153):1-43 -- the survey to read first.

# %%
import inspect
import math
import time

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from _course import FAST, pick, save_figure, fashion_mnist, exercise  # noqa: F401
from checks.lesson04 import check_dual_division, check_jacobian_by_jvps, check_curvature

mg.set_default_dtype("float64")      # derivative checks want float64
print("fast mode" if FAST else "full mode")

# %% [markdown]
# ## 1. Dual numbers
#
# Take a number $a$ and attach a second number $b$ to it, written
# $a + b\varepsilon$, with the rule $\varepsilon^2 = 0$. Then
#
# $$(a + b\varepsilon)(c + d\varepsilon) = ac + (ad + bc)\varepsilon,
# \qquad f(a + b\varepsilon) = f(a) + f'(a)\,b\,\varepsilon$$
#
# (the second is Taylor's series cut after the first-order term, exact because
# $\varepsilon^2 = 0$). Evaluate $f$ at $x + 1\cdot\varepsilon$ and the
# $\varepsilon$-part of the result is $f'(x)$: the product rule and the chain
# rule come out of the arithmetic by themselves. Wengert (1964) computed
# derivatives by exactly this bookkeeping -- a value and a derivative carried
# through every elementary operation of the program; dual numbers (Clifford
# 1873) are its algebra.
#
# The `value` is the *primal*, the `tangent` is $b$. Each operation needs one
# rule for the tangent -- its **jvp** (Jacobian-vector product) rule.

# %%
class Dual:
    """a + b·ε with ε² = 0: a value and its derivative along one direction."""

    def __init__(self, value, tangent=0.0):
        self.value, self.tangent = value, tangent

    def __add__(self, other):
        other = lift(other)
        return Dual(self.value + other.value, self.tangent + other.tangent)

    def __sub__(self, other):
        other = lift(other)
        return Dual(self.value - other.value, self.tangent - other.tangent)

    def __mul__(self, other):            # (a + bε)(c + dε) = ac + (ad + bc)ε
        other = lift(other)
        return Dual(self.value * other.value,
                    self.value * other.tangent + self.tangent * other.value)

    __radd__ = __add__
    __rmul__ = __mul__

    def __repr__(self):
        return f"Dual({self.value:.6g} + {self.tangent:.6g}ε)"


def lift(x):
    """A plain number is a constant: its tangent is 0."""
    return x if isinstance(x, Dual) else Dual(x, 0.0)


def sin(d):                               # sin(a + bε) = sin a + b cos a ε
    return Dual(math.sin(d.value), d.tangent * math.cos(d.value))


def exp(d):                               # exp(a + bε) = eᵃ + b eᵃ ε
    return Dual(math.exp(d.value), d.tangent * math.exp(d.value))


def derivative(f, x):
    """f'(x) by forward mode: run f on x + 1ε and read the ε part."""
    return f(Dual(x, 1.0)).tangent

# %% [markdown]
# Try it on $f(x) = x\sin x + e^{x}\,x$, whose derivative is
# $f'(x) = \sin x + x\cos x + e^{x}(1 + x)$, and against a central difference.

# %%
def f_scalar(x):
    return x * sin(x) + exp(x) * x


x0 = 0.7
by_dual = derivative(f_scalar, x0)
by_hand = math.sin(x0) + x0 * math.cos(x0) + math.exp(x0) * (1 + x0)
h = 1e-5
plain = lambda x: x * math.sin(x) + math.exp(x) * x          # noqa: E731
by_difference = (plain(x0 + h) - plain(x0 - h)) / (2 * h)
print(f"dual numbers      f'(0.7) = {by_dual:.15f}")
print(f"by hand           f'(0.7) = {by_hand:.15f}   difference {abs(by_dual - by_hand):.1e}")
print(f"central diff.     f'(0.7) = {by_difference:.15f}   difference {abs(by_dual - by_difference):.1e}")
assert abs(by_dual - by_hand) < 1e-12

# %% [markdown]
# The dual-number derivative equals the hand-written one to rounding; the
# central difference is off by its truncation and rounding error. Forward
# mode is exact, costs one evaluation of $f$ with a constant factor more work,
# and keeps nothing in memory behind it: each tangent is computed when its
# value is, and can be forgotten with it.
#
# ### A trap: perturbation confusion
#
# Nest two derivatives: $\frac{d}{dx}\Big[x \cdot \frac{d}{dy}(x + y)\big|_{y=1}\Big]_{x=1}$.
# The inner derivative is 1, so the answer is $\frac{d}{dx}[x] = 1$. Our
# `Dual` has only one $\varepsilon$, so the outer and inner perturbations get
# mixed up (Siskind & Pearlmutter 2005, "Perturbation confusion and
# referential transparency"):

# %%
nested = derivative(lambda x: x * derivative(lambda y: x + y, 1.0), 1.0)
print("one ε for both derivatives gives", nested, "(the right answer is 1)")

# %% [markdown]
# minigrad avoids this with **levels**: every `mg.dual_level()` opens a fresh
# $\varepsilon$, and a tangent only belongs to the level it was attached in.
# `mg.jvp(f, primals, tangents)` opens a level, attaches the tangents, runs
# `f` and reads the output's tangent:
#
# $$\texttt{jvp}(f, x, v) = \big(f(x),\; J_f(x)\,v\big).$$

# %%
one = mg.tensor(1.0)
inner_derivative = lambda x: mg.jvp(lambda y: x + y, one, one)[1]     # noqa: E731
_, nested_mg = mg.jvp(lambda x: x * inner_derivative(x), one, one)
print("minigrad, nested levels:", nested_mg.item())
assert nested_mg.item() == 1.0

# %% [markdown]
# ## 2. Forward mode in minigrad
#
# A minigrad tensor can carry a tangent per level. Every op has a `jvp` rule
# next to its `vjp` rule (`minigrad/ops/`); `apply` calls the jvp whenever an
# input carries a tangent of an active level. Here is the multiplication op --
# compare its `jvp` with the dual-number product above:

# %%
print(inspect.getsource(mg.ops.elementwise.Mul))

# %% [markdown]
# `mg.jvp` is a few lines around three public pieces, which you can use
# directly: `mg.dual_level()` opens a level, `mg.make_dual(x, v)` attaches the
# tangent `v` to `x`, and `mg.unpack_dual(y)` returns `(primal, tangent)`.
# Take a small network $f(x) = \tanh(W_2 \tanh(W_1 x))$ from
# $\mathbb{R}^n$ to $\mathbb{R}^m$:

# %%
def make_network(n, m, hidden=32, seed=0):
    """x ↦ tanh(W2 tanh(W1 x)), from R^n to R^m, with fixed random weights."""
    rng = np.random.default_rng(seed)
    W1 = mg.tensor(rng.standard_normal((hidden, n)) / np.sqrt(n))
    W2 = mg.tensor(rng.standard_normal((m, hidden)) / np.sqrt(hidden))
    return lambda x: mg.tanh(W2 @ mg.tanh(W1 @ x))


rng = np.random.default_rng(1)
n, m = 5, 3
f = make_network(n, m)
x = mg.tensor(rng.standard_normal(n))
v = mg.tensor(rng.standard_normal(n))

with mg.dual_level():
    x_dual = mg.make_dual(x, v)          # x + vε
    y_dual = f(x_dual)                   # every op computes its tangent as it runs
    y, Jv = mg.unpack_dual(y_dual)

y_jvp, Jv_jvp = mg.jvp(f, x, v)
print("f(x)  =", y.numpy())
print("J v   =", Jv.numpy())
print("same as mg.jvp:", np.array_equal(Jv.numpy(), Jv_jvp.numpy()))
assert np.array_equal(Jv.numpy(), Jv_jvp.numpy())

# %% [markdown]
# ## 3. jvp or vjp? The cost of a Jacobian
#
# One **jvp** gives $Jv$: with $v = e_k$ it is the $k$-th *column* of $J$.
# One **vjp** gives $u^\top J$: with $u = e_i$ it is the $i$-th *row*. Each
# costs a small constant times one evaluation of $f$: Griewank & Walther
# (ch. 4) bound the operation count of either by a few evaluations of $f$,
# whatever $n$ and $m$ -- for the vjp of a scalar function, the gradient, this
# is the "cheap gradient principle". So for
# $f:\mathbb{R}^n \to \mathbb{R}^m$:
#
# | | one call gives | full Jacobian | memory |
# | --- | --- | --- | --- |
# | forward mode (jvp) | a column $Jv$ | $n$ calls | nothing kept |
# | reverse mode (vjp) | a row $u^\top J$ | $m$ calls | the graph of $f$ |
#
# A loss is $\mathbb{R}^{\text{millions}} \to \mathbb{R}$: $m = 1$, which is
# why training uses reverse mode. `mg.jacobian(f, mode=...)` builds the
# Jacobian both ways; they must agree, and both must agree with central
# differences:

# %%
J_rev = mg.jacobian(f, mode="rev")(x)     # m vjps, one row each
J_fwd = mg.jacobian(f, mode="fwd")(x)     # n jvps, one column each
h = 1e-6
J_fd = np.stack([(f(x + h * mg.tensor(e)).numpy() - f(x - h * mg.tensor(e)).numpy()) / (2 * h)
                 for e in np.eye(n)], axis=1)
print("Jacobian shape", J_rev.shape)
print(f"max |J_rev - J_fwd| = {np.abs(J_rev.numpy() - J_fwd.numpy()).max():.1e}")
print(f"max |J_rev - J_fd|  = {np.abs(J_rev.numpy() - J_fd).max():.1e}  (finite differences)")
assert np.allclose(J_rev.numpy(), J_fwd.numpy(), rtol=0, atol=1e-13)
assert np.allclose(J_rev.numpy(), J_fd, rtol=0, atol=1e-8)

# %% [markdown]
# Now time the two ways as $n$ and $m$ vary (the same network, hidden width
# 32). This is a **measurement on this machine** with `time.perf_counter`, the
# best of five repeats; the functions are tiny, so each call's cost is mostly
# Python overhead per op, but that overhead is paid once per jvp or vjp just
# as the arithmetic would be.

# %%
def best_time(fn, arg, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - start)
    return best


sizes = pick([1, 4, 16, 64], [1, 2, 4, 8, 16, 32, 64, 128, 256])
fixed = 8
timings = {"vary n": {"rev": [], "fwd": []}, "vary m": {"rev": [], "fwd": []}}
for size in sizes:
    for case, (n_in, m_out) in (("vary n", (size, fixed)), ("vary m", (fixed, size))):
        g = make_network(n_in, m_out)
        point = mg.tensor(np.random.default_rng(2).standard_normal(n_in))
        for mode in ("rev", "fwd"):
            timings[case][mode].append(best_time(mg.jacobian(g, mode=mode), point, repeats=5))

print(f"{'size':>5} | n varies (m = {fixed}): rev ms  fwd ms | m varies (n = {fixed}): rev ms  fwd ms")
for i, size in enumerate(sizes):
    a, b = timings["vary n"], timings["vary m"]
    print(f"{size:5d} | {1e3 * a['rev'][i]:26.2f} {1e3 * a['fwd'][i]:7.2f} | "
          f"{1e3 * b['rev'][i]:26.2f} {1e3 * b['fwd'][i]:7.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, case, label in ((axes[0], "vary n", f"inputs n (outputs m = {fixed})"),
                        (axes[1], "vary m", f"outputs m (inputs n = {fixed})")):
    ax.loglog(sizes, 1e3 * np.array(timings[case]["fwd"]), "o-", label="forward mode: n jvps")
    ax.loglog(sizes, 1e3 * np.array(timings[case]["rev"]), "s-", label="reverse mode: m vjps")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel(label)
    ax.set_title(f"Jacobian of f: Rⁿ → Rᵐ, {case[-1]} varies")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
axes[0].set_ylabel("time to build the Jacobian (ms)")
fig.suptitle("mg.jacobian(mode='fwd') vs mode='rev' (measured on this machine)")
fig.tight_layout()
save_figure(fig, "04_jacobian_cost")

# %% [markdown]
# Forward mode's time grows with the number of inputs $n$ and hardly moves
# with $m$; reverse mode's grows with the number of outputs $m$ and hardly
# moves with $n$. The lines cross near $n = m$: choose the mode by which side
# of $f$ is smaller. Per call, the two modes cost the same order of time here:

# %%
per_jvp = timings["vary n"]["fwd"][-1] / sizes[-1]
per_vjp = timings["vary m"]["rev"][-1] / sizes[-1]
print(f"at size {sizes[-1]}: one jvp ≈ {1e3 * per_jvp:.3f} ms, one vjp ≈ {1e3 * per_vjp:.3f} ms")

# %% [markdown]
# ## 4. The inner-product identity
#
# A jvp and a vjp are the same linear map $J$ used from the two sides, so for
# any $u \in \mathbb{R}^m$ and $v \in \mathbb{R}^n$
#
# $$\langle u, J v\rangle = u^\top (J v) = (J^\top u)^\top v = \langle J^\top u, v\rangle .$$
#
# This is how minigrad checks that each op's `jvp` and `vjp` rules describe
# the same derivative (`mg.check_grads`): finite differences check each rule
# to a few digits, the identity checks the pair to rounding.

# %%
rng = np.random.default_rng(3)
n, m = 20, 7
f = make_network(n, m)
x = mg.tensor(rng.standard_normal(n))
u = mg.tensor(rng.standard_normal(m))
v = mg.tensor(rng.standard_normal(n))

_, Jv = mg.jvp(f, x, v)                  # forward mode
_, vjp_fn = mg.vjp(f, x)                 # reverse mode
(JTu,) = vjp_fn(u)
left = float((u * Jv).sum().item())
right = float((JTu * v).sum().item())
print(f"<u, J v>   = {left:.15f}")
print(f"<J^T u, v> = {right:.15f}")
print(f"difference   {abs(left - right):.1e}")
assert abs(left - right) <= 1e-12 * max(1.0, abs(left))

# %% [markdown]
# ## 5. Hessian-vector products: forward over reverse
#
# For a scalar loss $f(w)$ the Hessian $H = \nabla^2 f(w)$ has $n^2$ entries --
# too many to form for a network. But $Hv$ is the directional derivative of
# the gradient along $v$,
#
# $$H v = \frac{d}{dt}\,\nabla f(w + t v)\Big|_{t=0} = J_{\nabla f}(w)\, v ,$$
#
# which is one **jvp of the gradient function**: forward mode run through a
# reverse-mode pass (Pearlmutter 1994, "Fast exact multiplication by the
# Hessian", *Neural Computation* 6(1):147-160). It costs a constant times one
# gradient. minigrad's vjp rules are themselves tensor code, so tangents flow
# through the backward pass, and `mg.hvp(f, w, v)` is built as
# `mg.jvp(mg.grad(f), w, v)`.
#
# The test problem: softmax regression with weight decay, a function of the
# flattened weights $w \in \mathbb{R}^{15}$.

# %%
def make_problem(seed=0):
    """Softmax regression on 64 random points (5 features, 3 classes) plus
    0.05·||w||²: a loss f(w), a point w0 and a direction v (float64)."""
    rng = np.random.default_rng(seed)
    X = mg.tensor(rng.standard_normal((64, 5)))
    y = mg.tensor(rng.integers(0, 3, 64))

    def loss(w):
        return mg.cross_entropy(X @ w.reshape(5, 3), y) + 0.05 * (w * w).sum()

    w0 = mg.tensor(0.1 * rng.standard_normal(15))
    v = mg.tensor(rng.standard_normal(15))
    return loss, w0, v


loss, w0, v = make_problem()
Hv = mg.hvp(loss, w0, v)                                   # forward over reverse
Hv_by_hand = mg.jvp(mg.grad(loss), w0, v)[1]               # the same, spelled out
H = mg.hessian(loss)(w0)                                    # 15 x 15: n hvps
eps = 1e-4
grad_fn = mg.grad(loss)
Hv_fd = (grad_fn(w0 + eps * v).numpy() - grad_fn(w0 - eps * v).numpy()) / (2 * eps)

print("H v (mg.hvp)         ", np.round(Hv.numpy()[:5], 6), "...")
print(f"vs jvp(grad(f))       max difference {np.abs(Hv.numpy() - Hv_by_hand.numpy()).max():.1e}")
print(f"vs mg.hessian @ v     max difference {np.abs(Hv.numpy() - H.numpy() @ v.numpy()).max():.1e}")
print(f"vs finite differences max difference {np.abs(Hv.numpy() - Hv_fd).max():.1e}"
      f"  (of gradients, eps = {eps})")
print(f"Hessian symmetric:    max |H - H^T| = {np.abs(H.numpy() - H.numpy().T).max():.1e}")
assert np.allclose(Hv.numpy(), H.numpy() @ v.numpy(), rtol=0, atol=1e-12)
assert np.allclose(Hv.numpy(), Hv_fd, rtol=0, atol=1e-6)

# %% [markdown]
# The Hessian built by `mg.hessian` is the forward-mode Jacobian of the
# gradient: column $k$ is $He_k$, one hvp per column, $n$ in all. Build it from
# hvps yourself and time the pieces (measured on this machine, best of a few
# repeats):

# %%
unit_vectors = [mg.tensor(e) for e in np.eye(w0.size)]
H_from_hvps = np.stack([mg.hvp(loss, w0, e).numpy() for e in unit_vectors], axis=1)
print(f"max |H from hvps - mg.hessian| = {np.abs(H_from_hvps - H.numpy()).max():.1e}")
assert np.allclose(H_from_hvps, H.numpy(), rtol=0, atol=1e-12)

t_grad = best_time(grad_fn, w0, repeats=5)
t_hvp = best_time(lambda w: mg.hvp(loss, w, v), w0, repeats=5)
t_hvps = best_time(lambda w: [mg.hvp(loss, w, e) for e in unit_vectors], w0, repeats=3)
t_hess = best_time(mg.hessian(loss), w0, repeats=3)
print(f"one gradient          {1e3 * t_grad:7.2f} ms")
print(f"one hvp               {1e3 * t_hvp:7.2f} ms  ({t_hvp / t_grad:.1f} gradients)")
print(f"n = {w0.size} hvps in a loop  {1e3 * t_hvps:7.2f} ms")
print(f"mg.hessian            {1e3 * t_hess:7.2f} ms")

# %% [markdown]
# One hvp costs a small multiple of one gradient, and `mg.hessian` about as
# much as the $n$ hvps in the loop -- it is that loop. (Single timings on a
# busy machine jump around; compare orders of magnitude, not digits.)
#
# Hessian-vector products are what second-order methods (conjugate gradient,
# Newton-CG), curvature estimates (the largest eigenvalue of $H$ by power
# iteration) and influence functions use. Later lessons use forward mode for
# something else: **forward gradients** (Baydin et al. 2022) train a network
# with one jvp per step and no backward pass at all.
#
# ## Summary
#
# * Dual numbers $a + b\varepsilon$, $\varepsilon^2 = 0$, carry a derivative
#   along with a value; each op needs a jvp rule.
# * `mg.jvp(f, x, v)` returns $f(x)$ and $J v$ in one pass; nested levels
#   (`mg.dual_level`) keep nested derivatives apart.
# * A Jacobian costs $n$ jvps (forward) or $m$ vjps (reverse): forward mode
#   for few inputs, reverse mode for few outputs -- a loss has one.
# * $\langle u, Jv\rangle = \langle J^\top u, v\rangle$ ties the two modes.
# * $Hv$ = jvp of the gradient (forward over reverse): `mg.hvp`.
#
# ## Exercises
#
# **1.** Extend the dual numbers to division. Write `div(a, b, c, d)` that
# returns the pair `(primal, tangent)` of $(a + b\varepsilon)/(c + d\varepsilon)$
# (hint: multiply out $(c + d\varepsilon)(p + q\varepsilon) = a + b\varepsilon$).

# %%
answer = None   # your answer here: a function div(a, b, c, d) -> (primal, tangent)
exercise(check_dual_division, answer)

# %% [markdown]
# **2.** Write `jacobian_by_jvps(f, x)` that builds the Jacobian of
# $f:\mathbb{R}^n \to \mathbb{R}^m$ (1-D tensors in and out) as an
# $m \times n$ NumPy array, column by column, with one `mg.jvp` per column.
# (Do not call `mg.jacobian`.)

# %%
answer = None   # your answer here: a function jacobian_by_jvps(f, x) -> np.ndarray (m, n)
exercise(check_jacobian_by_jvps, answer)

# %% [markdown]
# **3.** The curvature of the loss along $v$ is $v^\top H v$ (positive: the
# loss bends upwards along $v$). Compute it for `loss, w0, v = make_problem()`
# with **one** Hessian-vector product, and give the number.

# %%
answer = None   # your answer here: a float, v^T H v at w0
exercise(check_curvature, answer)
