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
# # Lesson 1: The neuron, the perceptron and the delta rule
#
# **What you will learn**
#
# * a model neuron is a weighted sum followed by a nonlinearity, and its
#   decision boundary on 2-D data is a straight line;
# * Rosenblatt's perceptron rule, and Novikoff's theorem: on data separable
#   with margin $\gamma$ it makes at most $(R/\gamma)^2$ mistakes;
# * the delta rule (LMS) of Widrow and Hoff: gradient descent on the squared
#   error, which converges to the least-squares solution when the step size
#   is below $2/\lambda_{\max}$ of the input correlation matrix.
#
# Each rule is written in a few lines of NumPy and checked against
# minigrad's own `perceptron` and `delta` rules (`minigrad/rules/classical.py`).
#
# **Prerequisites:** NumPy, a little linear algebra (dot products,
# eigenvalues). **Run time:** a few seconds.

# %%
import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from minigrad import nn
from _course import FAST, pick, save_figure, fashion_mnist, exercise  # noqa: F401
from checks.lesson01 import (check_perceptron_margin_bound, check_sigmoid_delta_step,
                             check_standardised_step_limit)

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. A neuron
#
# McCulloch and Pitts (1943, *A logical calculus of the ideas immanent in
# nervous activity*) modelled a neuron as a unit that sums its inputs and
# fires when the sum reaches a threshold. In modern notation a
# neuron with weights $w$, bias $b$ and nonlinearity $f$ computes
#
# $$ a = w^\top x + b, \qquad y = f(a). $$
#
# $f$ may be a step ($y = [a > 0]$, the perceptron), the identity (a linear
# unit, ADALINE) or a smooth squashing function such as the logistic
# sigmoid $\sigma(a) = 1/(1 + e^{-a})$. Below, the same neuron twice: in
# plain NumPy, and as a minigrad `nn.Linear` layer followed by `mg.sigmoid`.

# %%
w = np.array([1.5, -2.0])
b = 0.5
x = np.array([[0.3, 0.8], [-1.0, -1.2], [2.0, 0.1]])       # three inputs, one per row

y_numpy = 1 / (1 + np.exp(-(x @ w + b)))                    # sigma(w.x + b)

layer = nn.Linear(2, 1, dtype=np.float64)
layer.weight.data[...] = w                                   # W has shape (1, 2)
layer.bias.data[...] = b
y_minigrad = mg.sigmoid(layer(mg.tensor(x))).numpy()[:, 0]

print("numpy   :", y_numpy)
print("minigrad:", y_minigrad)
print("max |difference|:", np.abs(y_numpy - y_minigrad).max())
assert np.allclose(y_numpy, y_minigrad, atol=1e-12)

# %% [markdown]
# ## 2. Decision boundaries
#
# A neuron used as a classifier says "class 1" where $a = w^\top x + b > 0$.
# The boundary $w^\top x + b = 0$ is a line in 2-D (a hyperplane in general):
# $w$ is its normal, and it lies at distance $|b| / \lVert w \rVert$ from the
# origin. A single neuron can therefore only separate classes that a
# straight line separates. We use two data sets from `mg.data`:
#
# * `blobs`: two Gaussian clouds, here close enough that the line between
#   them is tight (this seed happens to be linearly separable);
# * `xor`: points around the corners $(\pm 1, \pm 1)$, class 1 where the
#   signs differ -- the classic problem no line can solve (Minsky & Papert
#   1969, *Perceptrons*).

# %%
N = 200                                                      # the same in fast and full mode
blobs = mg.data.blobs(N, 100, separation=3.0, seed=0).train
xor = mg.data.xor(N, 100, seed=0).train
x_blobs, y_blobs = blobs.x.astype(np.float64), blobs.y
x_xor, y_xor = xor.x.astype(np.float64), xor.y
print("blobs:", x_blobs.shape, "class counts", np.bincount(y_blobs))
print("xor:  ", x_xor.shape, "class counts", np.bincount(y_xor))


def augment(x):
    """Fold the bias into the weights: x -> [x, 1], so that w.x + b = (w, b).[x, 1]."""
    return np.hstack([x, np.ones((len(x), 1))])


# %% [markdown]
# ## 3. Rosenblatt's perceptron
#
# Rosenblatt (1958, *The perceptron: a probabilistic model for information
# storage and organization in the brain*) trained the weights of a
# threshold unit $\hat y = [w^\top x + b > 0]$ one example at a time, and
# changed them only on a mistake:
#
# $$ w \leftarrow w + \eta\,(t - \hat y)\,x, \qquad b \leftarrow b + \eta\,(t - \hat y), \qquad t, \hat y \in \{0, 1\}. $$
#
# A missed positive ($t = 1$, $\hat y = 0$) adds $x$ to $w$; a false positive
# subtracts it. Started at $w = 0$, the step size $\eta$ only rescales $w$
# and never changes a prediction, so we take $\eta = 1$. Here is the rule
# in plain NumPy, with the bias folded into $\tilde w = (w, b)$ and
# $\tilde x = (x, 1)$:

# %%
def perceptron(x, t, max_epochs):
    """Online perceptron from w = 0, visiting the examples in order.
    Returns the final (w, b) and the number of mistakes in each epoch."""
    xa = augment(x)
    w_aug = np.zeros(xa.shape[1])
    mistakes = []
    for epoch in range(max_epochs):
        count = 0
        for xi, ti in zip(xa, t):
            y_hat = 1 if w_aug @ xi > 0 else 0
            if y_hat != ti:
                w_aug = w_aug + (ti - y_hat) * xi          # Rosenblatt's update
                count += 1
        mistakes.append(count)
        if count == 0:                                      # a clean pass: converged
            break
    return w_aug[:-1], w_aug[-1], mistakes


w_p, b_p, mistakes_blobs = perceptron(x_blobs, y_blobs, max_epochs=1000)
print("blobs: mistakes per epoch", mistakes_blobs, "-> total", sum(mistakes_blobs))
print("final w =", w_p, " b =", round(b_p, 4))

# %% [markdown]
# minigrad's `perceptron` rule computes the same update in array code and
# returns it with the sign of a gradient ($-\Delta W/\eta$), so that any
# optimizer can apply it; plain SGD with learning rate 1 gives
# Rosenblatt's step. Fed one example at a time in the same order from
# $w = 0$, it must make the same mistakes and end at the same weights:

# %%
model = nn.Sequential(nn.Linear(2, 1, dtype=np.float64))
for p in model.parameters():
    p.data[...] = 0.0                                        # the classic start: w = 0
rule = mg.rules.make("perceptron", model)
opt = mg.optim.SGD(model.parameters(), lr=1.0)
mistakes_rule = []
for epoch in range(len(mistakes_blobs)):
    count = 0
    for i in range(N):
        stats = rule.step(mg.tensor(x_blobs[i:i + 1]), y_blobs[i:i + 1], opt)
        count += stats["mistakes"]
    mistakes_rule.append(count)
w_rule, b_rule = model[0].weight.numpy()[0], model[0].bias.numpy()[0]
print("rule: mistakes per epoch", mistakes_rule)
diff = max(np.abs(w_rule - w_p).max(), abs(b_rule - b_p))
print("max |rule weights - numpy weights|:", diff)
assert mistakes_rule == mistakes_blobs and diff < 1e-12

# %% [markdown]
# ## 4. Novikoff's bound
#
# Novikoff (1962, *On convergence proofs on perceptrons*) proved that the
# perceptron stops making mistakes on separable data. Write $t_\pm = 2t - 1
# \in \{-1, +1\}$. If every $\lVert\tilde x_i\rVert \le R$ and some unit
# vector $u$ separates the data with margin
#
# $$ \gamma = \min_i\; t_{\pm,i}\, u^\top \tilde x_i > 0, $$
#
# then, started at $\tilde w = 0$, the perceptron makes at most
# $(R/\gamma)^2$ mistakes, however many passes it takes. The proof in two
# lines: each mistake adds at least $\gamma$ to $u^\top\tilde w$, and at most
# $R^2$ to $\lVert\tilde w\rVert^2$ (on a mistake $t_\pm \tilde w^\top\tilde x \le 0$).
# After $k$ mistakes $k\gamma \le u^\top \tilde w \le \lVert\tilde w\rVert
# \le R\sqrt{k}$, so $k \le (R/\gamma)^2$.
#
# The bound holds for *any* separating $u$; the largest margin gives the
# tightest bound. In three dimensions (two inputs and the bias) we can find
# a good $u$ by brute force: try many unit vectors on a grid over the sphere
# and keep the one with the largest margin. (The grid's best is a valid
# separator, at most slightly worse than the true maximum-margin one, so
# the bound below is valid, if a little loose.)

# %%
def margin(u, x, t):
    """min_i t_pm,i u.x_i / |u| over the data, with the bias folded in."""
    return float(np.min((2 * t - 1) * (augment(x) @ u)) / np.linalg.norm(u))


n_theta, n_phi = pick(150, 400), pick(300, 800)
theta, phi = np.meshgrid(np.linspace(0, np.pi, n_theta),
                         np.linspace(0, 2 * np.pi, n_phi, endpoint=False))
directions = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                       np.cos(theta)], axis=-1).reshape(-1, 3)
margins = np.min((2 * y_blobs - 1)[:, None] * (augment(x_blobs) @ directions.T), axis=0)
u_best = directions[np.argmax(margins)]
gamma = margin(u_best, x_blobs, y_blobs)
R = np.linalg.norm(augment(x_blobs), axis=1).max()
bound = (R / gamma) ** 2
print(f"{len(directions)} directions tried; best margin gamma = {gamma:.4f}, R = {R:.3f}")
print(f"Novikoff's bound (R/gamma)^2 = {bound:.0f}; mistakes made = {sum(mistakes_blobs)}")
assert gamma > 0 and sum(mistakes_blobs) <= bound

# %% [markdown]
# The bound holds, and is far from tight: it is a worst case over every
# order of presentation and every data set with this $R$ and $\gamma$.
# On XOR no separating $u$ exists, and the perceptron never settles: it
# keeps making mistakes in every pass.

# %%
w_x, b_x, mistakes_xor = perceptron(x_xor, y_xor, max_epochs=pick(30, 100))
print("xor: mistakes in the first epochs", mistakes_xor[:10], "... last", mistakes_xor[-1])
acc_xor = np.mean(((x_xor @ w_x + b_x) > 0) == y_xor)
print(f"xor: accuracy of the final perceptron {acc_xor:.1%}")

# %% [markdown]
# ## 5. The delta rule (LMS)
#
# Widrow and Hoff (1960, *Adaptive switching circuits*) trained ADALINE, a
# *linear* unit $y = w^\top x + b$ whose sign is the class, by gradient
# descent on the squared error $E = \tfrac12 (t - y)^2$ with targets
# $t = \pm 1$:
#
# $$ \Delta w = \eta\,(t - y)\,x, \qquad \Delta b = \eta\,(t - y). $$
#
# Unlike the perceptron it learns from every example, also the correctly
# classified ones, in proportion to the error. This is the delta rule
# ($\delta = t - y$), later generalised to a unit with a nonlinearity
# $y = f(a)$ as $\Delta w = \eta\,(t - y)\,f'(a)\,x$ (Rumelhart, Hinton &
# Williams 1986, *Learning internal representations by error propagation*).
# minigrad's `delta` rule averages the update over a batch; on the whole
# data set at once it is gradient descent on
# $E(\tilde w) = \frac{1}{2N}\lVert t - \tilde X\tilde w\rVert^2$:
#
# $$ \tilde w_{k+1} = \tilde w_k + \frac{\eta}{N}\,\tilde X^\top (t - \tilde X\tilde w_k). $$
#
# Its fixed point is where the gradient vanishes, the normal equations
# $\tilde X^\top\tilde X\,\tilde w = \tilde X^\top t$: the least-squares
# solution $\tilde w^\ast$, which `np.linalg.lstsq` computes directly.

# %%
xa_blobs = augment(x_blobs)
t_pm = 2.0 * y_blobs - 1                                     # targets +-1
w_star, *_ = np.linalg.lstsq(xa_blobs, t_pm, rcond=None)
C = xa_blobs.T @ xa_blobs / N                                # input correlation matrix
lambdas = np.linalg.eigvalsh(C)
eta_max = 2 / lambdas.max()
print("least-squares solution (w1, w2, b):", w_star)
print("eigenvalues of C:", lambdas, f"-> stability limit 2/lambda_max = {eta_max:.4f}")


def lms(xa, t, eta, steps):
    """Full-batch delta rule from w = 0; returns every iterate (steps + 1, d)."""
    w_aug = np.zeros(xa.shape[1])
    path = [w_aug]
    for _ in range(steps):
        w_aug = w_aug + eta / len(xa) * xa.T @ (t - xa @ w_aug)   # Widrow-Hoff, averaged
        path.append(w_aug)
    return np.array(path)


# %% [markdown]
# The minigrad rule with SGD must follow the same path. A layer with one
# output is a binary unit: the rule reads the integer labels 0/1 as the
# targets 0/1, or, with `target="pm1"`, as $-1/+1$ -- our $t$.

# %%
steps = pick(300, 1500)
eta = 0.5 * eta_max
path = lms(xa_blobs, t_pm, eta, steps)

model = nn.Sequential(nn.Linear(2, 1, dtype=np.float64))
for p in model.parameters():
    p.data[...] = 0.0
rule = mg.rules.make("delta", model, target="pm1")
opt = mg.optim.SGD(model.parameters(), lr=eta)
xt, tt = mg.tensor(x_blobs), y_blobs                         # integer labels 0/1
worst = 0.0
for k in range(1, steps + 1):
    rule.step(xt, tt, opt)
    w_rule = np.append(model[0].weight.numpy()[0], model[0].bias.numpy()[0])
    worst = max(worst, np.abs(w_rule - path[k]).max())
print(f"max |rule - numpy| over {steps} steps: {worst:.2e}")
print(f"|w_k - w*| after {steps} steps: {np.linalg.norm(path[-1] - w_star):.2e}")
assert worst < 1e-10 and np.linalg.norm(path[-1] - w_star) < 1e-6

# %% [markdown]
# ## 6. How large a step?
#
# Subtract the fixed point: the error $e_k = \tilde w_k - \tilde w^\ast$
# obeys $e_{k+1} = (I - \eta C)\,e_k$ with $C = \tilde X^\top\tilde X/N$. In
# the eigenvectors of $C$ each component is multiplied by $1 - \eta\lambda_i$
# at every step, so LMS converges exactly when $|1 - \eta\lambda_i| < 1$ for
# every $i$, that is when
#
# $$ 0 < \eta < \frac{2}{\lambda_{\max}}, $$
#
# and, as $C$ is symmetric, $\lVert e_k\rVert \le \rho^k \lVert e_0\rVert$ with
# $\rho = \max_i |1 - \eta\lambda_i|$.
# Just below the limit the fastest direction flips sign at every step (it
# oscillates but shrinks); just above, it grows without bound. The slowest
# direction, $1 - \eta\lambda_{\min}$, sets the pace: the larger
# $\lambda_{\max}/\lambda_{\min}$ (the condition number of $C$), the slower
# LMS converges at the best stable step.

# %%
fractions = [0.25, 0.5, 0.95, 1.02]                          # eta as a fraction of 2/lambda_max
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for i, frac in enumerate(fractions):
    eta_i = frac * eta_max
    err = np.linalg.norm(lms(xa_blobs, t_pm, eta_i, steps) - w_star, axis=1)
    rho = np.max(np.abs(1 - eta_i * lambdas))
    line, = axes[0].semilogy(err, label=f"$\\eta$ = {frac:g} x 2/$\\lambda_{{max}}$ ($\\rho$ = {rho:.3f})")
    axes[0].semilogy(err[0] * rho ** np.arange(steps + 1), "--", color=line.get_color(), lw=0.8)
    print(f"eta = {frac:4} x limit: rho = {rho:.4f}, |w - w*| after {steps} steps = {err[-1]:.2e}")
axes[0].set_ylim(1e-12, 1e4)
axes[0].set_xlabel("iteration k (full-batch steps)")
axes[0].set_ylabel(r"$\|\tilde w_k - \tilde w^\ast\|$")
axes[0].set_title("LMS converges to the least-squares solution\n"
                  "(dashed: the bound $\\rho^k \\|\\tilde w_0 - \\tilde w^\\ast\\|$)")
axes[0].legend(fontsize=8)

sweep = np.linspace(0.05, 1.1, pick(22, 106))
final = [np.linalg.norm(lms(xa_blobs, t_pm, s * eta_max, 200)[-1] - w_star) for s in sweep]
axes[1].semilogy(sweep, final, "o-", ms=3)
axes[1].axvline(1.0, color="k", ls=":", label=r"$\eta = 2/\lambda_{max}$")
axes[1].set_xlabel(r"step size $\eta$ / (2/$\lambda_{max}$)")
axes[1].set_ylabel(r"$\|\tilde w_{200} - \tilde w^\ast\|$")
axes[1].set_title("error after 200 steps vs step size")
axes[1].legend()
fig.tight_layout()
save_figure(fig, "01_lms_convergence")

# %% [markdown]
# ## 7. The boundaries side by side
#
# The perceptron stops at the first line that separates the training set;
# LMS goes to the least-squares line, which need not separate it (it
# minimises the squared error, not the mistakes) and, computed on the whole
# batch, does not depend on the order of the examples. On XOR both fail.
# A line can at best get three of the four corners right (75 %), and
# neither rule finds even that here: the perceptron
# jumps from mistake to mistake, and the least-squares line, pulled equally
# by the four corners, is close to useless (the accuracies are printed below).
# The right panel counts the perceptron's mistakes: on the blobs the count
# stops, far below Novikoff's bound; on XOR it grows by about the same
# amount every epoch, and no bound exists (the dashed line belongs to the
# blobs only).

# %%
w_lms_x, *_ = np.linalg.lstsq(augment(x_xor), 2.0 * y_xor - 1, rcond=None)
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
xs = np.linspace(-6, 6, 2)
for ax, (x_, y_, name, wp, bp, wl) in zip(axes[:2], [
        (x_blobs, y_blobs, "blobs (separable)", w_p, b_p, w_star),
        (x_xor, y_xor, "xor (not separable)", w_x, b_x, w_lms_x)]):
    ax.scatter(*x_[y_ == 0].T, s=12, c="tab:blue", label="class 0")
    ax.scatter(*x_[y_ == 1].T, s=12, c="tab:red", marker="s", label="class 1")
    for (wv, bv), style, label in [((wp, bp), "k-", "perceptron"),
                                   ((wl[:2], wl[2]), "g--", "LMS (least squares)")]:
        ax.plot(xs, -(wv[0] * xs + bv) / wv[1], style, label=label)  # w1 x1 + w2 x2 + b = 0
    pad = 0.5
    ax.set_xlim(x_[:, 0].min() - pad, x_[:, 0].max() + pad)
    ax.set_ylim(x_[:, 1].min() - pad, x_[:, 1].max() + pad)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"{name}: boundary $w^\\top x + b = 0$")
for mistakes, style, name in [(mistakes_blobs, "o-", "blobs"), (mistakes_xor, "s-", "xor")]:
    axes[2].semilogy(np.arange(1, len(mistakes) + 1), np.cumsum(mistakes), style, ms=3,
                     label=name)
axes[2].axhline(bound, color="k", ls="--", label="Novikoff's bound (blobs)")
axes[2].set_xlabel("epoch (pass over the data)")
axes[2].set_ylabel("total mistakes so far")
axes[2].set_title("perceptron: cumulative mistakes")
axes[2].legend(fontsize=8)
fig.tight_layout(rect=(0, 0.07, 1, 1))
handles, labels = axes[0].get_legend_handles_labels()
fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9)
save_figure(fig, "01_decision_boundaries")

for name, x_, y_, wl in [("blobs", x_blobs, y_blobs, w_star), ("xor", x_xor, y_xor, w_lms_x)]:
    print(f"{name}: LMS training accuracy {np.mean((augment(x_) @ wl > 0) == y_):.1%}")
print(f"xor: perceptron training accuracy {acc_xor:.1%}")
assert acc_xor < 0.75 and np.mean((augment(x_xor) @ w_lms_x > 0) == y_xor) < 0.75

# %% [markdown]
# ## Summary
#
# * A neuron computes $f(w^\top x + b)$; as a classifier its boundary is
#   the hyperplane $w^\top x + b = 0$.
# * The perceptron updates only on mistakes and, on separable data, stops
#   after at most $(R/\gamma)^2$ of them (Novikoff 1962); on XOR it never stops.
# * The delta rule is gradient descent on the squared error; full-batch it
#   converges to the least-squares solution for $0 < \eta < 2/\lambda_{\max}(C)$,
#   at a pace set by the condition number of $C$.
#
# Next: several layers of neurons, and the delta rule carried backwards
# through them -- backpropagation (lesson 2).
#
# ## Exercises

# %% [markdown]
# **1.** Novikoff's bound holds for every separating vector, not just the
# best one. The perceptron's own final $\tilde w = (w, b)$ from section 3
# separates the blobs. Compute its margin $\gamma$ (use `margin`) and the
# bound $(R/\gamma)^2$ it gives. Is it tighter or looser than the grid's?

# %%
answer = None   # your answer here: a number, (R / gamma)^2 for the perceptron's final (w, b)
exercise(check_perceptron_margin_bound, answer)

# %% [markdown]
# **2.** Standardise the two inputs of the blobs (subtract each column's
# mean, divide by its standard deviation; keep the bias input at 1). What is
# the largest stable LMS step $2/\lambda_{\max}$ now? Compare the condition
# number of $C$ before and after: why does standardising help LMS?

# %%
answer = None   # your answer here: a number, 2 / lambda_max for the standardised inputs
exercise(check_standardised_step_limit, answer)

# %% [markdown]
# **3.** Write one full-batch step of the generalised delta rule for a single
# sigmoid unit $y = \sigma(w^\top x + b)$:
# $\Delta w = \frac{\eta}{N}\sum_n (t_n - y_n)\,\sigma'(a_n)\,x_n$ (and the same
# for $b$), with $\sigma'(a) = \sigma(a)(1 - \sigma(a))$. The checker compares
# your function with minigrad's `delta` rule (`output="sigmoid"`) on several
# random inputs.

# %%
def sigmoid_delta_step(w, b, x, t, eta):
    """w: (d,), b: float, x: (N, d), t: (N,) targets in [0, 1]. Return (new_w, new_b)."""
    return None   # your code here


answer = None   # set answer = sigmoid_delta_step when your function is written
exercise(check_sigmoid_delta_step, answer)
