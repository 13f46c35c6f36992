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
# # Lesson 2: Backprop by hand
#
# **What you will learn**
#
# * the forward and backward pass of a two-layer network
#   $x \to \tanh(W_1 x + b_1) \to W_2 h + b_2 \to$ softmax cross-entropy,
#   written in plain NumPy, one line per equation;
# * where each backward equation comes from (the chain rule, organised as
#   Rumelhart, Hinton & Williams 1986 did), and why it costs about as much
#   as the forward pass;
# * how to trust a gradient: compare it with an autodiff engine (minigrad's
#   `loss.backward()`) and with central finite differences in float64;
# * training the network on two interleaved spirals with nothing but the
#   hand-written gradients.
#
# **Prerequisites:** lesson 1 (a neuron, the delta rule), matrix
# products, the chain rule. **Run time:** under a minute (seconds in fast mode).

# %%
import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from _course import FAST, pick, save_figure, fashion_mnist, exercise  # noqa: F401
from checks.lesson02 import check_input_gradient, check_relu_delta, check_three_layer_backward

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. The network and its forward pass
#
# A batch is a matrix $X$ with one example per row ($N \times D$), and weight
# matrices are stored as `nn.Linear` and PyTorch store them, $W$ of shape
# (outputs, inputs), so that a layer computes $XW^\top + b$. The network is
#
# $$ A_1 = X W_1^\top + b_1, \qquad H = \tanh(A_1), \qquad Z = H W_2^\top + b_2, $$
# $$ P = \operatorname{softmax}(Z), \qquad L = -\frac1N \sum_{n=1}^N \log P_{n, y_n}. $$
#
# The forward pass keeps what the backward pass will need (the *cache*):
# the input $X$, the hidden activity $H$ and the probabilities $P$.

# %%
def init_params(sizes, scale, seed):
    """Weights W (out, in) ~ N(0, scale^2 / in) per layer, biases ~ N(0, 0.25 scale^2 / in)."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"] = rng.standard_normal((n_out, n_in)) * scale / np.sqrt(n_in)
        params[f"b{i}"] = rng.standard_normal(n_out) * 0.5 * scale / np.sqrt(n_in)
    return params


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)         # the same softmax, without overflow
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def forward(params, X, y):
    """The loss and the cache the backward pass needs."""
    A1 = X @ params["W1"].T + params["b1"]
    H = np.tanh(A1)
    Z = H @ params["W2"].T + params["b2"]
    P = softmax(Z)
    loss = -np.mean(np.log(P[np.arange(len(y)), y]))
    return loss, {"X": X, "H": H, "P": P}


data = mg.data.two_spirals(400, 400, seed=0)
X, y = data.train.x.astype(np.float64), data.train.y
X_test, y_test = data.test.x.astype(np.float64), data.test.y
HIDDEN = 32
params = init_params([2, HIDDEN, 2], scale=2.0, seed=0)
loss, cache = forward(params, X, y)
print("X", X.shape, "H", cache["H"].shape, "P", cache["P"].shape)
print(f"initial loss {loss:.4f} (log 2 = {np.log(2):.4f}: a guess with no information)")

# %% [markdown]
# ## 2. The backward pass, one equation at a time
#
# Rumelhart, Hinton & Williams (1986, *Learning representations by
# back-propagating errors*, Nature 323, 533-536) write a unit's total input
# as $x_j = \sum_i y_i w_{ji}$ and its output as $y_j = f(x_j)$, and
# propagate $\partial E/\partial x_j$ -- the error signal now called
# $\delta_j$ -- from the output towards the input:
#
# $$ \frac{\partial E}{\partial x_j} = \frac{\partial E}{\partial y_j}\,f'(x_j), \qquad
#    \frac{\partial E}{\partial w_{ji}} = \frac{\partial E}{\partial x_j}\,y_i, \qquad
#    \frac{\partial E}{\partial y_i} = \sum_j \frac{\partial E}{\partial x_j}\,w_{ji}. $$
#
# Three rules: through a nonlinearity multiply by its derivative; a
# weight's gradient is (error at its output end) $\times$ (activity at its
# input end); the error of a unit is the weighted sum of the errors of the
# units it feeds. For our network, in matrix form, from the top:
#
# | step | equation | code |
# | --- | --- | --- |
# | output error | $\delta_2 = \partial L/\partial Z = (P - T)/N$, $T$ one-hot | `d2 = (P - T) / N` |
# | output weights | $\partial L/\partial W_2 = \delta_2^\top H$, $\ \partial L/\partial b_2 = \sum_n \delta_{2,n}$ | `d2.T @ H`, `d2.sum(0)` |
# | back through $W_2$ | $\partial L/\partial H = \delta_2 W_2$ | `dH = d2 @ W2` |
# | back through tanh | $\delta_1 = \partial L/\partial A_1 = \partial L/\partial H \odot (1 - H^2)$ | `d1 = dH * (1 - H**2)` |
# | hidden weights | $\partial L/\partial W_1 = \delta_1^\top X$, $\ \partial L/\partial b_1 = \sum_n \delta_{1,n}$ | `d1.T @ X`, `d1.sum(0)` |
#
# The first line is the softmax and the cross-entropy differentiated
# together: $\partial(-\log P_{y})/\partial Z_c = P_c - [c = y]$, the same
# "prediction minus target" as the delta rule of lesson 1. The tanh line
# reuses the forward value, since $\tanh'(a) = 1 - \tanh^2(a)$. Each line is
# one or two matrix products of the sizes of the forward pass, so the
# backward pass costs about twice the forward pass -- for any number of
# parameters, which is what made backpropagation practical.

# %%
def backward(params, cache, y):
    """Gradients of the mean cross-entropy with respect to every parameter."""
    X, H, P = cache["X"], cache["H"], cache["P"]
    N = len(y)
    T = np.eye(P.shape[1])[y]                    # one-hot targets
    d2 = (P - T) / N                             # dL/dZ
    grads = {"W2": d2.T @ H, "b2": d2.sum(axis=0)}
    dH = d2 @ params["W2"]                       # dL/dH
    d1 = dH * (1 - H ** 2)                       # dL/dA1 = dL/dH * tanh'(A1)
    grads["W1"] = d1.T @ X
    grads["b1"] = d1.sum(axis=0)
    return grads


grads = backward(params, cache, y)
for name, g in grads.items():
    print(f"dL/d{name}: shape {g.shape}, norm {np.linalg.norm(g):.4f}")

# %% [markdown]
# ## 3. Check 1: against minigrad's autodiff
#
# minigrad builds the same network from its own ops, records the graph as
# it computes the loss, and `loss.backward()` runs one vjp per op (lesson 3
# looks inside). We compute in float64 so that only rounding at the
# $10^{-16}$ level can separate the two.

# %%
def minigrad_grads(params, X, y):
    """The loss and its gradients from minigrad's reverse mode."""
    leaves = {k: mg.tensor(v, requires_grad=True) for k, v in params.items()}
    h = mg.tanh(mg.tensor(X) @ leaves["W1"].T + leaves["b1"])
    z = h @ leaves["W2"].T + leaves["b2"]
    loss = mg.cross_entropy(z, y)
    loss.backward()
    return loss.item(), {k: t.grad.numpy() for k, t in leaves.items()}


mg_loss, mg_grads = minigrad_grads(params, X, y)
print(f"loss: numpy {loss:.15f}, minigrad {mg_loss:.15f}")
worst = 0.0
for name in grads:
    diff = np.abs(grads[name] - mg_grads[name]).max()
    worst = max(worst, diff)
    print(f"dL/d{name}: max |hand - minigrad| = {diff:.2e}")
assert abs(loss - mg_loss) < 1e-12 and worst < 1e-12

# %% [markdown]
# ## 4. Check 2: against central finite differences
#
# An engine could share our mistake, so we also ask the definition of the
# derivative. For each parameter entry $\theta_k$,
#
# $$ \frac{\partial L}{\partial\theta_k} \approx \frac{L(\theta + \epsilon e_k) - L(\theta - \epsilon e_k)}{2\epsilon}, $$
#
# whose error is $O(\epsilon^2)$ from truncation plus about
# $10^{-16}/\epsilon$ from rounding the two losses (lesson 3 plots this).
# With $\epsilon = 10^{-6}$ in float64 both are tiny, and we expect the
# absolute differences to be far below $10^{-8}$. We also print the
# relative error $|g - \hat g| / \max(|g|, |\hat g|, 10^{-8})$: it is larger
# for entries near zero (the same absolute error divided by a small
# number), which is why `mg.gradcheck` below tests $|g - \hat g| \le
# \text{atol} + \text{rtol}\,|\hat g|$ rather than a relative error alone.

# %%
def finite_difference_grads(params, X, y, eps=1e-6):
    numeric = {}
    for name, value in params.items():
        g = np.zeros_like(value)
        for k in range(value.size):
            idx = np.unravel_index(k, value.shape)
            old = value[idx]
            value[idx] = old + eps
            plus, _ = forward(params, X, y)
            value[idx] = old - eps
            minus, _ = forward(params, X, y)
            value[idx] = old                         # put it back
            g[idx] = (plus - minus) / (2 * eps)
        numeric[name] = g
    return numeric


numeric = finite_difference_grads(params, X, y)
worst_rel = 0.0
for name in grads:
    err = np.abs(grads[name] - numeric[name])
    rel = err / np.maximum(np.maximum(np.abs(grads[name]), np.abs(numeric[name])), 1e-8)
    worst_rel = max(worst_rel, rel.max())
    print(f"dL/d{name}: max abs error {err.max():.2e}, max relative error {rel.max():.2e}")
assert worst_rel < 1e-5 and max(np.abs(grads[k] - numeric[k]).max() for k in grads) < 1e-8

# %% [markdown]
# minigrad has this check built in: `mg.gradcheck(fn, inputs)` compares the
# whole Jacobian from reverse mode and from forward mode with central
# differences, element by element, and raises with a report naming the
# worst element if any is off. It needs float64 inputs. Here it checks the
# minigrad version of the loss on a few examples:

# %%
def loss_fn(W1, b1, W2, b2):
    h = mg.tanh(mg.tensor(X[:16]) @ W1.T + b1)
    return mg.cross_entropy(h @ W2.T + b2, y[:16])


report = mg.gradcheck(loss_fn, tuple(mg.tensor(params[k]) for k in ["W1", "b1", "W2", "b2"]))
print(report)

# %% [markdown]
# ## 5. Training with the hand-written gradients
#
# Nothing more is needed to learn: step against the gradient. We use
# full-batch gradient descent with momentum, the variant Rumelhart et al.
# used, $\Delta\theta(t) = -\varepsilon\,\partial L/\partial\theta + \alpha\,\Delta\theta(t-1)$
# with $\varepsilon = 0.2$ and $\alpha = 0.9$. The spirals (Lang & Witbrock
# 1988, *Learning to tell two spirals apart*) cannot be separated by a
# line; the 32 tanh units must bend the boundary around both arms.

# %%
iterations = pick(300, 3000)
lr, momentum = 0.2, 0.9
params = init_params([2, HIDDEN, 2], scale=2.0, seed=0)
velocity = {k: np.zeros_like(v) for k, v in params.items()}
history = {"iteration": [], "train": [], "test": []}
for it in range(iterations + 1):
    loss, cache = forward(params, X, y)
    if it % 10 == 0:
        history["iteration"].append(it)
        history["train"].append(loss)
        history["test"].append(forward(params, X_test, y_test)[0])
    if it == iterations:
        break
    grads = backward(params, cache, y)
    for k in params:
        velocity[k] = momentum * velocity[k] - lr * grads[k]
        params[k] = params[k] + velocity[k]


def accuracy(params, X, y):
    _, cache = forward(params, X, y)
    return np.mean(cache["P"].argmax(axis=1) == y)


print(f"after {iterations} iterations: train loss {history['train'][-1]:.4f}, "
      f"test loss {history['test'][-1]:.4f}")
print(f"train accuracy {accuracy(params, X, y):.1%}, test accuracy "
      f"{accuracy(params, X_test, y_test):.1%}")

# %% [markdown]
# The hand gradients are still right at the trained weights (a bug could
# hide where the activities are small and show where they saturate):

# %%
_, cache = forward(params, X, y)
grads = backward(params, cache, y)
_, mg_grads = minigrad_grads(params, X, y)
diff = max(np.abs(grads[k] - mg_grads[k]).max() for k in grads)
print(f"max |hand - minigrad| at the trained weights: {diff:.2e}")
assert diff < 1e-12

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
grid = np.linspace(-1.3, 1.3, 200)
g1, g2 = np.meshgrid(grid, grid)
points = np.stack([g1.ravel(), g2.ravel()], axis=1)
_, cache = forward(params, points, np.zeros(len(points), dtype=np.int64))
prob = cache["P"][:, 1].reshape(g1.shape)
filled = axes[0].contourf(g1, g2, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
axes[0].contour(g1, g2, prob, levels=[0.5], colors="k", linewidths=1.5)
axes[0].scatter(*X[y == 0].T, s=10, c="tab:blue", edgecolors="w", linewidths=0.3,
                label="class 0")
axes[0].scatter(*X[y == 1].T, s=10, c="tab:red", marker="s", edgecolors="w",
                linewidths=0.3, label="class 1")
fig.colorbar(filled, ax=axes[0], label="P(class 1 | x)")
axes[0].set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
axes[0].set_title(f"decision regions after {iterations} iterations\n(black: P = 0.5)")
axes[0].legend(loc="lower right", fontsize=8)
axes[0].set_aspect("equal")

axes[1].semilogy(history["iteration"], history["train"], label="training set (400)")
axes[1].semilogy(history["iteration"], history["test"], "--", label="test set (400)")
axes[1].axhline(np.log(2), color="gray", ls=":", label="log 2 (chance)")
axes[1].set_xlabel("iteration (full-batch steps)")
axes[1].set_ylabel("cross-entropy loss (nats)")
axes[1].set_title("loss with the hand-written gradients")
axes[1].legend()
fig.tight_layout()
save_figure(fig, "02_spirals")

# %% [markdown]
# ## Summary
#
# * Backprop is the chain rule applied in the right order: one error signal
#   $\delta$ per layer, passed down through the transposed weights and
#   multiplied by the local derivative of the nonlinearity; each weight's
#   gradient is an outer product of the $\delta$ above and the activity below.
# * A hand-written gradient is trusted after two checks: it equals an
#   autodiff engine's to rounding, and it agrees with central finite
#   differences in float64.
# * Nothing else is needed to train: the same few lines fit the spirals.
#
# Lesson 3 opens the engine we compared against: the graph it records, the
# order of the backward walk, and one vjp per op.
#
# ## Exercises
#
# In each exercise `params` is a dict like the lesson's, with keys `W1`,
# `b1`, `W2`, `b2` (and `W3`, `b3` in exercise 3); the checkers call your
# function on random inputs and compare with minigrad's `backward()`.

# %% [markdown]
# **1.** Replace tanh by the ReLU, $h = \max(a, 0)$. Write the line of the
# backward pass that turns $\partial L/\partial H$ into $\delta_1 = \partial L/\partial A_1$
# (use the convention $\operatorname{relu}'(0) = 0$).

# %%
def relu_delta(A1, dH):
    """A1: pre-activations (N, H); dH: dL/dH (N, H). Return dL/dA1."""
    return None   # your code here


answer = None   # set answer = relu_delta when it is written
exercise(check_relu_delta, answer)

# %% [markdown]
# **2.** The gradient with respect to the *input*, $\partial L/\partial X$, tells
# which input directions change the loss most (it is the start of saliency
# maps and adversarial examples). Write it for the lesson's tanh network:
# one more step of the backward pass, through $W_1$.

# %%
def input_gradient(params, X, y):
    """Return dL/dX, shape (N, D), for the mean cross-entropy of the lesson's network."""
    return None   # your code here (you may call forward and reuse backward's steps)


answer = None   # set answer = input_gradient when it is written
exercise(check_input_gradient, answer)

# %% [markdown]
# **3.** Add a layer: $H_1 = \tanh(XW_1^\top + b_1)$, $H_2 = \tanh(H_1W_2^\top + b_2)$,
# $Z = H_2W_3^\top + b_3$, mean softmax cross-entropy. Write the backward
# pass returning the six gradients.

# %%
def three_layer_backward(params, X, y):
    """Return {"W1": ..., "b1": ..., "W2": ..., "b2": ..., "W3": ..., "b3": ...}."""
    return None   # your code here


answer = None   # set answer = three_layer_backward when it is written
exercise(check_three_layer_backward, answer)
