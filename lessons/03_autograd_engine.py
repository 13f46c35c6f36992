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
# # Lesson 3: Inside the autograd engine
#
# **What you will learn**
#
# * the graph minigrad records while it computes: one node per op, which
#   keeps only what its derivative needs;
# * reverse mode as a walk over that graph in topological order, with one
#   vector-Jacobian product (vjp) per op -- and a 30-line engine of our own
#   that gives the same gradients;
# * gradient accumulation: where a tensor is used twice, across several
#   `backward` calls, `retain_graph` and `zero_grad`;
# * checking derivatives with `mg.gradcheck` and `mg.check_grads` in float64,
#   what a failure report looks like, and why a finite-difference step $h$
#   can be too large *and* too small.
#
# **Prerequisites:** lesson 2 (backprop by hand). **Run time:** a few seconds.

# %%
import inspect

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from _course import FAST, pick, save_figure, fashion_mnist, exercise  # noqa: F401
from checks.lesson03 import check_accumulated_grad, check_cube_op, check_softplus_vjp

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. The graph a computation leaves behind
#
# Reverse-mode automatic differentiation (Linnainmaa 1970; Speelpenning
# 1980; see Griewank & Walther 2008, *Evaluating Derivatives*, and Baydin
# et al. 2018, *Automatic differentiation in machine learning: a survey*)
# records the computation as it runs and then walks it backwards. Our
# example uses the input $x$ twice:
#
# $$ u = w\,x, \quad a = u + b, \quad h = \tanh(a), \quad p = h \odot x, \quad L = \textstyle\sum_i p_i. $$
#
# Every tensor an op computes points to the op that made it, `grad_fn`; the
# op instance *is* the graph node. Tensors created by us are *leaves*
# (`grad_fn` is None).

# %%
f64 = np.float64
x = mg.tensor([0.5, -1.0, 2.0], dtype=f64, requires_grad=True)
w = mg.tensor(1.5, dtype=f64, requires_grad=True)
b = mg.tensor(-0.3, dtype=f64, requires_grad=True)

u = w * x
a = u + b
h = mg.tanh(a)
p = h * x
L = p.sum()

named = {"x": x, "w": w, "b": b, "u": u, "a": a, "h": h, "p": p, "L": L}
for name, t in named.items():
    node = t.grad_fn
    kind = "leaf" if t.is_leaf else f"made by {type(node).__name__} node '{node.name}'"
    print(f"{name}: shape {t.shape}, {kind}")
print(repr(p))

# %% [markdown]
# A node keeps only what its vjp will read: `saves_inputs` and
# `saves_output` are class attributes of each op. `mul` needs both inputs
# ($\partial(hx)/\partial h = x$), so its node holds them -- the very tensors
# `h` and `x`. `tanh` needs only its output ($\tanh' = 1 - \tanh^2$), so its
# node does not keep its input at all, and asking for it is an error.
# What every node does keep is where each input came from, `node.parents`:
# the node that made it, the leaf tensor itself, or None for an input that
# needs no gradient (PyTorch calls this `grad_fn.next_functions`). Walking
# `parents` from `L.grad_fn` reads the whole graph back.

# %%
for name in ["u", "a", "h", "p", "L"]:
    op = type(named[name].grad_fn)
    print(f"{name} = {op.name:5s}: saves_inputs={op.saves_inputs}, saves_output={op.saves_output}")
print("p's node holds h and x themselves:",
      p.grad_fn.inputs[0] is h, p.grad_fn.inputs[1] is x)
try:
    h.grad_fn.inputs
except mg.GradientError as err:
    print("h.grad_fn.inputs ->", type(err).__name__ + ":", err)

# the graph of the example, read from the nodes: name -> the names it reads
name_of = {id(t.grad_fn if t.grad_fn is not None else t): n for n, t in named.items()}
edges = {n: [name_of[id(parent)] for parent in t.grad_fn.parents]
         for n, t in named.items() if t.grad_fn is not None}
print("edges:", edges)
assert edges == {"u": ["w", "x"], "a": ["u", "b"], "h": ["a"], "p": ["h", "x"], "L": ["p"]}

# %% [markdown]
# ## 2. One vjp per op
#
# Each op is a class with its forward and its two derivative rules side by
# side (`minigrad/ops/`). For $y = f(x)$ with Jacobian $J$, the vjp maps the
# gradient of the output $\bar g = \partial L/\partial y$ to the gradient of
# the input $\bar g^\top J$, without forming $J$. For an elementwise op
# $J$ is diagonal and the vjp is a product: here is tanh.

# %%
print(inspect.getsource(mg.ops.elementwise.Tanh))

# %% [markdown]
# A vjp is an ordinary method: we can call it on the node ourselves, with
# any cotangent $\bar g$, and compare with $\bar g \odot (1 - h^2)$. (Under
# `no_grad`, so that this call is not itself recorded.)

# %%
g_bar = mg.tensor([1.0, 2.0, -1.0], dtype=f64)
with mg.no_grad():
    by_node = h.grad_fn.vjp(g_bar).numpy()
by_hand = g_bar.numpy() * (1 - h.numpy() ** 2)
print("node's vjp:", by_node, " by hand:", by_hand)
assert np.allclose(by_node, by_hand, rtol=0, atol=1e-15)

# %% [markdown]
# ## 3. The backward walk, in topological order
#
# `L.backward()` seeds $\partial L/\partial L = 1$ and visits every node once,
# *after* all the nodes that consume its output have sent their gradients,
# so that each node's gradient is complete when its vjp runs. Any order
# with consumers before producers -- a reverse topological order -- works.
# minigrad sorts the nodes by decreasing creation number: an op is always
# created after the ops that made its inputs (PyTorch orders its work the
# same way). Leaves come last and receive `.grad`.
#
# Hooks (`t.register_hook(fn)`) are called with a tensor's gradient when it
# is complete, so they show the order of the walk:

# %%
visits = []
for name, t in named.items():
    t.register_hook(lambda g, name=name: visits.append(name))
L.backward()
print("order in which gradients were completed:", visits)
engine_grads = {name: named[name].grad.numpy() for name in ["x", "w", "b"]}
print("x.grad =", engine_grads["x"], " w.grad =", engine_grads["w"], " b.grad =", engine_grads["b"])

# %% [markdown]
# Now the same walk in thirty lines of our own: a topological sort of
# `edges` (depth-first, each node placed after everything it reads), then
# one vjp per node in the reverse order, *adding* into the gradient of each
# input. Addition is the multivariate chain rule: $x$ reaches $L$ along two
# paths (through $u$ and through $p$), and $\partial L/\partial x$ is the sum
# of the two contributions. $w$ and $b$ are scalars broadcast over three
# elements, so their vjps sum over that axis (minigrad undoes broadcasting
# the same way, with `sum_to`).

# %%
def topological_order(edges, root):
    """Every node reachable from root, each after all the nodes it reads."""
    order, seen = [], set()

    def visit(node):
        if node in seen:
            return
        seen.add(node)
        for parent in edges.get(node, []):
            visit(parent)
        order.append(node)

    visit(root)
    return order


values = {name: t.numpy() for name, t in named.items()}
vjps = {   # for each node: its output gradient g -> one gradient per input (as in `edges`)
    "u": lambda g: [np.sum(g * values["x"]), g * values["w"]],   # w is broadcast: sum
    "a": lambda g: [g, np.sum(g)],                               # b is broadcast: sum
    "h": lambda g: [g * (1 - values["h"] ** 2)],
    "p": lambda g: [g * values["x"], g * values["h"]],
    "L": lambda g: [g * np.ones_like(values["p"])],
}

order = topological_order(edges, "L")
print("topological order (inputs first):", order)
grads = {"L": 1.0}                                   # seed: dL/dL = 1
for node in reversed(order):
    if node not in vjps:                             # a leaf: its gradient is complete
        continue
    for parent, g in zip(edges[node], vjps[node](grads[node])):
        grads[parent] = grads.get(parent, 0.0) + g   # accumulate where paths meet
for name in ["x", "w", "b"]:
    diff = np.abs(grads[name] - engine_grads[name]).max()
    print(f"d L/d {name}: ours {np.round(grads[name], 6)}, max |ours - minigrad| = {diff:.1e}")
    assert diff < 1e-14
assert [n for n in reversed(order) if n in vjps] == [v for v in visits if v in vjps]

# %% [markdown]
# ## 4. Accumulation, `retain_graph` and `zero_grad`
#
# Accumulation happens at three levels:
#
# * inside one op: in `x * x` both inputs are $x$, the mul's vjp returns
#   $(\bar g x, \bar g x)$ and the engine adds them, $2x$;
# * inside one graph: $x$ used by several ops (section 3);
# * across `backward` calls: `.grad` is *added to*, never overwritten, so
#   that gradients of several losses (or micro-batches) can be summed.
#   An optimizer's `zero_grad()` (or `t.zero_grad()`) resets it to None.
#
# A backward pass frees what the nodes saved, as soon as each vjp has run,
# so a second `backward` through the same graph is an error -- unless the
# first one was asked to `retain_graph=True`.

# %%
z = mg.tensor([1.0, -2.0, 3.0], dtype=f64, requires_grad=True)
(z * z).sum().backward()
print("d/dz sum(z*z) =", z.grad.numpy(), "= 2z")
assert np.allclose(z.grad.numpy(), 2 * z.numpy())

z.zero_grad()
loss = (z * z).sum()
loss.backward(retain_graph=True)
print("after one backward:", z.grad.numpy())
loss.backward()                                      # the graph was retained
print("after two backwards:", z.grad.numpy(), "(added up)")
assert np.allclose(z.grad.numpy(), 4 * z.numpy())
try:
    loss.backward()                                  # the second call freed the graph
except mg.GradientError as err:
    print("third backward ->", type(err).__name__ + ":", err)
z.zero_grad()
print("after zero_grad:", z.grad)

# %% [markdown]
# ## 5. Checking derivatives: `gradcheck` and `check_grads`
#
# `mg.gradcheck(fn, inputs)` builds the whole Jacobian three times -- from
# reverse mode (one vjp per output element), from forward mode (one jvp per
# input element) and by central differences -- and passes where every
# element satisfies $|J - \hat J| \le \text{atol} + \text{rtol}\,|\hat J|$.
# `mg.check_grads` is JAX's cheaper directional test: for random $u$, $v$ it
# compares $Jv$ with a finite difference along $v$, and reverse mode with
# forward mode through $\langle u, Jv\rangle = \langle J^\top u, v\rangle$,
# also for the derivative functions themselves (`order=2`). Both insist on
# float64: section 6 shows why.

# %%
def f(x, w, b):
    return (mg.tanh(w * x + b) * x).sum()


inputs = (x.detach(), w.detach(), b.detach())
print(mg.gradcheck(f, inputs))
mg.check_grads(f, inputs, order=2)
print("check_grads (order 2, both modes): passed")
try:
    mg.gradcheck(f, tuple(t.float() for t in inputs))
except mg.DTypeError as err:
    print("float32 inputs ->", type(err).__name__ + ":", err)

# %% [markdown]
# Now a custom op with a bug. An op is a subclass of `mg.Op` with
# `forward` (arrays in, array out), `vjp` and `jvp` (Tensors in, Tensors
# out, so they are differentiable themselves), run with `mg.apply(op, x)`.
# Softplus, $y = \log(1 + e^x)$, has derivative $\sigma(x)$. The jvp below is
# right; the vjp forgets to multiply by the incoming gradient $\bar g$ -- a
# classic mistake.

# %%
class BuggySoftplus(mg.Op):
    """y = log(1 + exp(x)).  vjp should be g * sigmoid(x); this one drops g."""

    name = "buggy_softplus"

    def forward(self, x):
        return np.logaddexp(0.0, x)

    def vjp(self, g):
        (x,) = self.inputs
        return mg.sigmoid(x)                         # BUG: should be g * mg.sigmoid(x)

    def jvp(self, dx):
        (x,) = self.inputs
        return dx * mg.sigmoid(x)


def buggy_softplus(x):
    return mg.apply(BuggySoftplus(), x)


x0 = mg.tensor([-1.0, 0.5, 2.0], dtype=f64)
print(mg.gradcheck(lambda t: buggy_softplus(t).sum(), (x0,)))

# %% [markdown]
# It passes! Through `.sum()` the incoming gradient is all ones, and
# $1 \cdot \sigma(x) = \sigma(x)$: a check through a scalar loss cannot see
# the missing factor. Checked as a function with a vector output, row by
# row of its Jacobian, the bug shows. By default a failure raises
# `GradcheckError` with the report as its message; with
# `raise_on_failure=False` we get the report object. It says which mode
# failed and names the worst element: an off-diagonal entry
# $\partial y_i/\partial x_j$, $i \ne j$, which is 0 for an elementwise op
# but which the buggy vjp fills with $\sigma(x_j)$.

# %%
report = mg.gradcheck(buggy_softplus, (x0,), raise_on_failure=False)
print(report)
worst = report.worst
print("worst element:", {k: worst[k] for k in ["mode", "output", "index", "analytical", "numerical"]})
assert not report.mode("rev").ok and report.mode("fwd").ok
assert worst["output"] != worst["index"] and worst["numerical"] == 0.0

try:
    mg.check_grads(buggy_softplus, (x0,), order=1)
except mg.GradcheckError as err:
    print("\ncheck_grads ->", err)

# %% [markdown]
# ## 6. How small a step? Truncation against round-off
#
# A finite difference has two errors that pull the step $h$ in opposite
# directions. Taylor's theorem gives the *truncation* error,
#
# $$ \frac{f(\theta + h) - f(\theta)}{h} = f'(\theta) + O(h), \qquad
#    \frac{f(\theta + h) - f(\theta - h)}{2h} = f'(\theta) + O(h^2), $$
#
# while each value of $f$ carries a *round-off* error of about
# $\varepsilon\,|f|$ ($\varepsilon \approx 2.2\times10^{-16}$ in float64,
# $1.2\times10^{-7}$ in float32), which the division by $h$ amplifies to
# $\sim\varepsilon|f|/h$. The total error is smallest near
# $h \sim \varepsilon^{1/2}$ (forward difference) and $h \sim \varepsilon^{1/3}$
# (central), and on log-log axes it draws a V: slope $-1$ on the left,
# $+1$ or $+2$ on the right. We differentiate $L(w)$ of section 1 with
# respect to $w$, whose exact derivative is $\sum_i x_i^2 (1 - h_i^2)$.

# %%
def L_of_w(w_value, dtype):
    xs = np.array([0.5, -1.0, 2.0], dtype=dtype)
    return np.sum(np.tanh(dtype(w_value) * xs + dtype(-0.3)) * xs)


exact = float(np.sum(x.numpy() ** 2 * (1 - h.numpy() ** 2)))
assert abs(exact - engine_grads["w"]) < 1e-14            # the engine's w.grad from section 3
steps = np.logspace(-14, 0, pick(29, 113))
fig, ax = plt.subplots(figsize=(8, 5))
for dtype, style in [(np.float64, "-"), (np.float32, ":")]:
    w0 = dtype(1.5)
    forward_err, central_err = [], []
    for step in steps:
        hs = dtype(step)
        if w0 + hs == w0:                                # the step vanished in this precision
            forward_err.append(np.nan)
            central_err.append(np.nan)
            continue
        f0, fp, fm = L_of_w(w0, dtype), L_of_w(w0 + hs, dtype), L_of_w(w0 - hs, dtype)
        forward_err.append(abs(float((fp - f0) / hs) - exact))
        central_err.append(abs(float((fp - fm) / (2 * hs)) - exact))
    name = np.dtype(dtype).name
    ax.loglog(steps, forward_err, "o" + style, ms=3, color="tab:orange", label=f"forward, {name}")
    ax.loglog(steps, central_err, "s" + style, ms=3, color="tab:blue", label=f"central, {name}")
    best = steps[np.nanargmin(central_err)]
    print(f"{name}: smallest central-difference error {np.nanmin(central_err):.1e} at h = {best:.0e}; "
          f"smallest forward-difference error {np.nanmin(forward_err):.1e}")
eps64 = np.finfo(np.float64).eps
ax.loglog(steps, eps64 / steps, "k--", lw=0.8, label=r"$\varepsilon_{64}/h$ (round-off)")
ax.loglog(steps, np.finfo(np.float32).eps / steps, "k:", lw=0.8,
          label=r"$\varepsilon_{32}/h$ (round-off)")
ax.loglog(steps, steps, color="gray", ls="-.", lw=0.8, label=r"$h$ (forward truncation)")
ax.loglog(steps, steps ** 2, color="gray", ls="--", lw=0.8, label=r"$h^2$ (central truncation)")
ax.set_ylim(1e-13, 1e2)
ax.set_xlabel("finite-difference step h")
ax.set_ylabel(r"|numerical - exact| of $\partial L/\partial w$")
ax.set_title("finite-difference error: truncation (right) vs round-off (left)")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
save_figure(fig, "03_finite_difference_error")

# %% [markdown]
# In float64 the central difference reaches an error many orders of
# magnitude below float32's best, and `gradcheck`'s default
# $\epsilon = 10^{-6}$ sits near the bottom of the float64 V. In float32 the
# best error is orders of magnitude larger (printed above), reached only
# near one particular step, and a step like $10^{-6}$ gives mostly noise: a
# wrong derivative of that size would go unnoticed. That is why `gradcheck`
# refuses float32 inputs.
#
# ## 7. The graph, drawn
#
# To close, the graph of section 1 with the order of the backward walk:
# arrows point the way values flow forward; the red numbers give the
# order in which the gradients were completed (the hooks of section 3).

# %%
positions = {"x": (0, 2), "w": (0, 1), "b": (1, 0), "u": (1, 1.5), "a": (2, 1),
             "h": (3, 1), "p": (4, 1.5), "L": (5, 1.5)}
labels = {n: (n if named[n].is_leaf else f"{n}\n{named[n].grad_fn.name}") for n in named}
fig, ax = plt.subplots(figsize=(9, 3.8))
for node, parents in edges.items():
    for parent in parents:
        ax.annotate("", xy=positions[node], xytext=positions[parent],
                    arrowprops=dict(arrowstyle="-|>", color="gray", shrinkA=18, shrinkB=18))
for name, (px, py) in positions.items():
    leaf = named[name].is_leaf
    ax.text(px, py, labels[name], ha="center", va="center", fontsize=10,
            bbox=dict(boxstyle="round,pad=0.5" if leaf else "square,pad=0.5",
                      fc="lightyellow" if leaf else "lightsteelblue", ec="k"))
    ax.text(px + 0.22, py + 0.3, str(visits.index(name) + 1), color="tab:red", fontsize=11,
            fontweight="bold")
ax.set_xlim(-0.6, 5.6)
ax.set_ylim(-0.4, 2.5)
ax.axis("off")
ax.set_title("graph of L = sum(tanh(w x + b) * x): leaves (yellow), op nodes (blue), "
             "backward order (red)", fontsize=10)
save_figure(fig, "03_graph")

# %% [markdown]
# ## Summary
#
# * Every op records one node: the op instance, which keeps only what its
#   vjp needs (`saves_inputs`, `saves_output`).
# * `backward` visits the nodes in reverse topological order (minigrad:
#   decreasing creation number), runs one vjp per node and adds gradients
#   where paths meet; leaves receive `.grad`, which accumulates across calls.
# * The saved values are freed as the walk goes, unless `retain_graph=True`.
# * Check derivatives in float64, and check an op's whole Jacobian, not
#   only a scalar loss built from it: a loss's all-ones gradient can hide a bug.
#
# ## Exercises

# %% [markdown]
# **1.** Write the vjp of softplus by hand: given the input $x$ and the
# output gradient $\bar g$ (NumPy arrays of the same shape), return
# $\partial L/\partial x$. The checker compares with central differences.

# %%
def softplus_vjp(x, g):
    return None   # your code here


answer = None   # set answer = softplus_vjp when it is written
exercise(check_softplus_vjp, answer)

# %% [markdown]
# **2.** Define an op `Cube` for $y = x^3$ as a subclass of `mg.Op`, with
# `forward`, `vjp` and `jvp`, so that `mg.apply(Cube(), x)` passes
# `mg.gradcheck` on vector inputs (both modes). Give the class itself.

# %%
answer = None   # your answer here: a class Cube(mg.Op) with forward, vjp and jvp
exercise(check_cube_op, answer)

# %% [markdown]
# **3.** Predict, then run: with `s = mg.tensor(3.0, dtype=np.float64, requires_grad=True)`
# and `y = s * s + 2 * s`, we call `y.backward(retain_graph=True)` twice and
# then build `y2 = s * s` and call `y2.backward()` once, without `zero_grad`.
# What is `s.grad`?

# %%
answer = None   # your answer here: a number
exercise(check_accumulated_grad, answer)
