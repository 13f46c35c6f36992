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
# # Lesson 10: Gradient estimators: forward gradient, SPSA, node perturbation
#
# A network can learn without any backward pass by *probing*: nudge the weights
# (or the units) in a random direction, see how the loss changes, and step
# along the probe in proportion. Every such rule gives an **unbiased** (or
# nearly unbiased) estimate of the gradient. What it pays is **variance**, and
# the variance grows with the number of things perturbed.
#
# **You will learn**
# * the forward gradient $g = (\nabla f\cdot v)\,v$ (Baydin et al. 2022), with
#   $\nabla f\cdot v$ exact from one forward-mode pass, and why it is unbiased;
# * SPSA (Spall 1992): the same estimate from two loss evaluations;
# * perturbing units instead of weights: node perturbation (Williams 1992) and
#   the activity-perturbed forward gradient (Ren et al. 2023);
# * to *measure* unbiasedness (error of the mean $\propto 1/\sqrt K$) and the
#   curse of dimensionality (cosine to the gradient $\propto 1/\sqrt n$), and
#   what that means for training.
#
# **Prerequisites:** forward-mode differentiation (`mg.jvp`), backprop, the rule
# interface (`mg.rules.make`, `rule.updates`, `rule.step`).
#
# **Run time:** a few seconds in fast mode (`MINIGRAD_FAST=1`), one to two minutes
# in full mode.

# %%
import math

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from _course import FAST, pick, save_figure, fashion_mnist, exercise
from checks.lesson10 import check_second_moment, check_spsa_estimate, check_tangents_needed

mg.manual_seed(0)
digits = mg.data.digits()                  # 8x8 digits, 10 classes, shipped with minigrad
x = mg.tensor(digits.train.x[:64])         # one batch: every estimate below is on it
y = digits.train.y[:64]
print(digits)


def new_model(width=8, seed=0):
    return mg.nn.mlp([64, width, 10], "tanh", generator=np.random.default_rng(seed))


def flat(updates, model):
    """All parameters' updates as one vector, in parameter order."""
    return np.concatenate([np.ravel(updates[name]) for name, _ in model.named_parameters()])


model = new_model()
n = sum(p.data.size for p in model.parameters())
grad = flat(mg.rules.make("bp", model).updates(x, y), model).astype(np.float64)   # ∇f
print(f"mlp 64-8-10: n = {n} parameters, |∇f| = {np.linalg.norm(grad):.4f}")

# %% [markdown]
# ## 1. The forward gradient
#
# Baydin, Pearlmutter, Syme, Wood & Torr (2022, "Gradients without
# Backpropagation") draw a random direction $v \sim \mathcal N(0, I_n)$ over
# **all** $n$ parameters. Forward mode gives the directional derivative
# $\nabla f \cdot v$ exactly, in one pass that carries the tangent along with
# the values (no graph, nothing stored for later). The update is
#
# $$g = (\nabla f \cdot v)\, v, \qquad
#   \mathbb E[g] = \mathbb E[v v^\top]\,\nabla f = \nabla f ,$$
#
# unbiased because $\mathbb E[v v^\top] = I$. And it never points uphill:
# $\nabla f \cdot g = (\nabla f\cdot v)^2 \ge 0$. First we check the two pieces:
# the jvp equals backprop's gradient dotted with $v$, and the rule's update is
# $(\nabla f\cdot v)\,v$ for the tangent it drew (a rule with the same seed
# draws the same tangents).

# %%
fg = mg.rules.make("forward_gradient", model, seed=0)
v = fg.tangent()                                          # {parameter name: array}
loss, d, _ = fg.directional_derivative(x, y, v)           # f and ∇f·v by one jvp
v_flat = flat(v, model).astype(np.float64)
print(f"∇f·v: forward mode {d:.6f}, backprop {grad @ v_flat:.6f}")
assert abs(d - grad @ v_flat) < 1e-4 * np.linalg.norm(grad) * np.linalg.norm(v_flat)

replay = mg.rules.make("forward_gradient", model, seed=0)  # same seed: the same first tangent
g_fg = flat(replay.updates(x, y), model)
print(f"max |update - (∇f·v) v| = {np.abs(g_fg - d * v_flat).max():.2e}")
assert np.allclose(g_fg, d * v_flat, rtol=1e-5, atol=1e-7)
cos = grad @ g_fg / (np.linalg.norm(grad) * np.linalg.norm(g_fg))
print(f"one draw: cos(g, ∇f) = {cos:.4f} (>= 0: never uphill),  "
      f"|g| / |∇f| = {np.linalg.norm(g_fg) / np.linalg.norm(grad):.1f} "
      f"(root-mean-square over draws: sqrt(n + 2) = {np.sqrt(n + 2):.1f})")

# %% [markdown]
# One draw is a poor estimate: its length is about $\sqrt{n}$ times the
# gradient's, and its angle to the gradient close to 90°. Precisely,
# $\mathbb E\|g\|^2 = (n+2)\|\nabla f\|^2$ and, averaging $K$ independent
# tangents, $\mathbb E\|\bar g_K - \nabla f\|^2 = (n+1)\|\nabla f\|^2 / K$.
#
# ## 2. SPSA: the same estimate from two loss values
#
# Simultaneous perturbation (Spall 1992, "Multivariate Stochastic Approximation
# Using a Simultaneous Perturbation Gradient Approximation") needs no forward
# mode either -- only the loss, at two points:
#
# $$d = \frac{f(\theta + \varepsilon v) - f(\theta - \varepsilon v)}{2\varepsilon}
#     = \nabla f\cdot v + O(\varepsilon^2), \qquad \hat g = d\, v .$$
#
# It is the forward gradient with a finite difference in place of the jvp
# (Spall drew $v \in \{\pm1\}^n$; minigrad draws Gaussian $v$ by default).

# %%
spsa = mg.rules.make("spsa", model, seed=0)               # epsilon = 1e-3
d_spsa = spsa.directional_derivative(x, y, v)
print(f"∇f·v: central difference {d_spsa:.6f}, forward mode {d:.6f}, "
      f"relative difference {abs(d_spsa - d) / abs(d):.1e}")
assert abs(d_spsa - d) < 1e-2 * abs(d)

# %% [markdown]
# ## 3. Perturbing units instead of weights
#
# The variance of a probe grows with the number of things it perturbs: $n$
# weights for the two estimators above. A layer $\ell$ with pre-activation
# $z_\ell = W_\ell h_{\ell-1} + b_\ell$ has far fewer units than weights, and
# $\partial L / \partial W_\ell = \delta_\ell h_{\ell-1}^\top$ needs only the
# unit error $\delta_\ell = \partial L/\partial z_\ell$. So perturb the units:
#
# * **Node perturbation** (Williams 1992, "Simple Statistical
#   Gradient-Following Algorithms for Connectionist Reinforcement Learning" --
#   REINFORCE; in hardware, Widrow's Madaline rule III, Widrow & Lehr 1990):
#   add noise $\sigma\xi$, $\xi\sim\mathcal N(0,I)$, to every unit of every
#   example, and correlate each example's change of loss with its noise,
#   $$\hat\delta_{\ell,i} = \frac{\ell_i(z + \sigma\xi) - \ell_i(z)}{\sigma}\,\xi_{\ell,i},
#   \qquad \hat g_{W_\ell} = \frac1N\sum_i \hat\delta_{\ell,i}\, h_{\ell-1,i}^\top .$$
#   The clean loss $\ell_i(z)$ is a baseline: it does not change the mean and
#   removes most of the noise. Unbiased for the loss smoothed by the noise, so
#   biased by $O(\sigma^2)$ against backprop.
# * **Activity-perturbed forward gradient** (Ren, Kornblith, Liao & Hinton
#   2023, "Scaling Forward Gradient with Local Losses"): the same idea with a
#   forward-mode tangent $u_\ell$ on $z_\ell$ instead of noise,
#   $\hat\delta_{\ell,i} = (\nabla_{z_\ell}\ell_i\cdot u_{\ell,i})\,u_{\ell,i}$:
#   exactly unbiased.
#
# Werfel, Xie & Seung (2005, "Learning Curves for Stochastic Gradient Descent
# in Linear Feedforward Networks") made the curse of dimensionality precise for
# a linear network: at the best learning rate, node perturbation learns slower
# than gradient descent by a factor equal to the number of output units, and
# weight perturbation slower still by a further factor equal to the number of
# inputs.
#
# ## 4. Unbiased: the mean of many draws converges to the gradient
#
# We draw $K$ single-probe updates on the same batch and weights, average them,
# and measure the relative error $\|\bar g_K - \nabla f\|/\|\nabla f\|$. An
# unbiased estimator's error falls like $1/\sqrt K$ forever (a straight line of
# slope $-1/2$ on log-log axes); a biased one would level off. For the forward
# gradient and SPSA the line is known: $\sqrt{(n+1)/K}$. For the unit
# perturbations we draw $\sqrt{V/K}/\|\nabla f\|$ with the variance $V$ of one
# draw measured by `mg.inspect.estimator_statistics`.

# %%
K_MAX = pick(64, 4000)
REPEATS = pick(2, 3)
ks = np.unique(np.logspace(0, np.log10(K_MAX), 25).astype(int))
ESTIMATORS = [("forward_gradient", {}, "forward gradient (weights)"),
              ("spsa", {}, "SPSA (weights)"),
              ("node_perturbation", {"n_samples": 1}, "node perturbation (units)"),
              ("activity_forward_gradient", {}, "activity forward gradient (units)")]


def mean_error_curve(name, options):
    """RMS over REPEATS runs of |mean of the first K draws - ∇f| / |∇f|, for K in ks."""
    squared = np.zeros(len(ks))
    for repeat in range(REPEATS):
        rule = mg.rules.make(name, model, seed=100 + repeat, **options)
        total = np.zeros(n)
        for k in range(1, K_MAX + 1):
            total += flat(rule.updates(x, y), model)
            if k in ks:
                squared[ks == k] += np.sum((total / k - grad) ** 2) / np.sum(grad ** 2)
    return np.sqrt(squared / REPEATS)


curves, single_var = {}, {}
for name, options, label in ESTIMATORS:
    curves[label] = mean_error_curve(name, options)
    stats = mg.inspect.estimator_statistics(mg.rules.make(name, model, seed=7, **options),
                                            x, y, draws=pick(8, 64))
    single_var[label] = stats["all"].variance             # V: variance of one draw
    slope = np.polyfit(np.log(ks[ks >= 4]), np.log(curves[label][ks >= 4]), 1)[0]
    print(f"{label:35s} error at K={K_MAX}: {curves[label][-1]:.3f}   "
          f"log-log slope {slope:+.2f}   "
          f"V / |∇f|^2 = {single_var[label] / np.sum(grad ** 2):.1f}")
    assert -0.75 < slope < -0.3, (label, slope)
theory = np.sqrt((n + 1) / ks)
for label in ESTIMATORS[0][2], ESTIMATORS[1][2]:
    ratio = curves[label][-1] / theory[-1]
    print(f"{label}: measured / sqrt((n+1)/K) at K={K_MAX}: {ratio:.2f}")
    assert 0.5 < ratio < 2.0

# %%
fig, ax = plt.subplots(figsize=(8, 5))
ax.loglog(ks, theory, "k--", lw=1, label=r"$\sqrt{(n+1)/K}$ (weights, theory)")
for (name, _, label), color in zip(ESTIMATORS, ["C0", "C1", "C2", "C3"]):
    ax.loglog(ks, curves[label], "--" if "SPSA" in label else "-", color=color,
              lw=1 if "SPSA" in label else 2.5, label=label)
    if "units" in label:
        line = np.sqrt(single_var[label] / ks) / np.linalg.norm(grad)
        ax.loglog(ks, line, ":", color=color, label=r"$\sqrt{V/K}\,/\,\|\nabla f\|$")
ax.axhline(1, color="gray", lw=0.8)
ax.set_xlabel("number of draws K averaged")
ax.set_ylabel(r"relative error $\|\bar g_K - \nabla f\| / \|\nabla f\|$")
ax.set_title(f"Unbiased estimators: error of the mean falls like $1/\\sqrt{{K}}$\n"
             f"(mlp 64-8-10, n = {n} parameters, one batch of 64 digits)")
ax.legend(fontsize=8)
ax.grid(alpha=0.3, which="both")
save_figure(fig, "10_unbiased")

# %% [markdown]
# The forward gradient and SPSA lie on top of each other -- with the same seed
# minigrad draws them the same directions, one differentiated exactly, one by a
# central difference -- and on the theory line. The unit perturbations start far lower: their noise lives in the
# $8 + 10$ units of each example, averaged over the batch of 64, instead of the
# $n$ weights.
#
# ## 5. The curse of dimensionality: angle to the gradient vs width
#
# For one weight-perturbation draw, $\cos\angle(g, \nabla f) = |v_1| / \|v\|$,
# with $v_1$ the component of $v$ along $\nabla f$. For large $n$,
#
# $$\mathbb E \cos\angle(g, \nabla f) = \frac{\Gamma(n/2)}{\sqrt\pi\,\Gamma((n+1)/2)}
#   \approx \sqrt{\frac{2}{\pi n}} :$$
#
# quadruple the parameters, halve the useful part of every step. We widen the
# hidden layer and measure the mean angle of single draws with
# `estimator_statistics`.

# %%
WIDTHS = [2, 4, 8, 16, 32, 64, 128]
DRAWS = pick(16, 64)
sizes, angles = [], {label: [] for _, _, label in ESTIMATORS}
for width in WIDTHS:
    net = new_model(width)
    sizes.append(sum(p.data.size for p in net.parameters()))
    for name, options, label in ESTIMATORS:
        stats = mg.inspect.estimator_statistics(mg.rules.make(name, net, seed=1, **options),
                                                x, y, draws=DRAWS)
        angles[label].append(stats["all"].mean_angle)
sizes = np.array(sizes)
expected_cos = np.array([math.exp(math.lgamma(m / 2) - math.lgamma((m + 1) / 2))
                         / math.sqrt(math.pi) for m in sizes])     # Γ(n/2) / (√π Γ((n+1)/2))
fg_cos = np.cos(np.radians(angles["forward gradient (weights)"]))
print(" width      n   E cos (theory)  forward gradient  node perturbation")
for i, width in enumerate(WIDTHS):
    print(f"{width:6d} {sizes[i]:6d}   {expected_cos[i]:.4f}          {fg_cos[i]:.4f}"
          f"            {np.cos(np.radians(angles['node perturbation (units)'][i])):.4f}")
assert np.all((fg_cos / expected_cos > 0.4) & (fg_cos / expected_cos < 2.0))

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
for (name, _, label), color in zip(ESTIMATORS, ["C0", "C1", "C2", "C3"]):
    style = "x--" if "SPSA" in label else "o-"           # SPSA lies on the forward gradient
    ax1.semilogx(sizes, angles[label], style, color=color, label=label)
    ax2.loglog(sizes, np.cos(np.radians(angles[label])), style, color=color, label=label)
ax2.loglog(sizes, expected_cos, "k--", label=r"$\approx\sqrt{2/(\pi n)}$ (weights, theory)")
ax1.axhline(90, color="gray", ls=":")
ax1.set_ylabel("mean angle of one draw to ∇f (degrees)")
ax2.set_ylabel(r"cos of that angle")
for ax in (ax1, ax2):
    ax.set_xlabel(f"number of parameters n (mlp 64-w-10, w = {WIDTHS[0]} ... {WIDTHS[-1]})")
    ax.grid(alpha=0.3, which="both")
ax2.legend(fontsize=8)
fig.suptitle(f"Single-draw estimates get worse as the network grows ({DRAWS} draws each)")
fig.tight_layout()
save_figure(fig, "10_angle_vs_width")

# %% [markdown]
# `estimator_sweep` repeats `estimator_statistics` for rules made with
# `n_samples=K`: the variance of a $K$-tangent forward gradient must be
# $(n+1)\|\nabla f\|^2/K$.

# %%
sweep = mg.inspect.estimator_sweep("forward_gradient", model, x, y, ks=[1, 4, 16],
                                   draws=pick(16, 64), seed=3)
for k, stats in sweep.items():
    measured = stats["all"].variance / np.sum(grad ** 2)
    print(f"K = {k:2d}: variance / |∇f|^2 = {measured:7.1f}   "
          f"theory (n+1)/K = {(n + 1) / k:7.1f}")
    assert 0.4 < measured / ((n + 1) / k) < 2.5

# %% [markdown]
# ## 6. Training: forward gradients vs backprop
#
# Same network (mlp 64-32-10, n = 2410 parameters), same data order, SGD with
# momentum 0.9. Each rule gets the backprop learning rate 0.05 times its
# `rule.lr_scale` (minigrad's per-rule default), except the forward gradient
# with $K = 16$ tangents: with 16 times less variance it can take a 5 times
# larger step. (For one tangent the best step is about $1/(n+2)$ of a gradient
# step: a step $\eta g$ lowers the loss by $\eta\|\nabla f\|^2$ and raises it by
# about $\tfrac{\eta^2\lambda}{2}(n+2)\|\nabla f\|^2$ for curvature $\lambda$.)
# The cost per step differs: backprop one forward and one backward pass; the
# forward gradient $K$ jvp passes; the activity forward gradient one jvp per
# layer; node perturbation $K + 1 = 9$ forward passes.

# %%
EPOCHS = pick(1, 20)
RUNS = [("bp", {}, "backprop", 0.05),
        ("forward_gradient", {}, "forward gradient, K = 1", 0.001),
        ("forward_gradient", {"n_samples": 16}, "forward gradient, K = 16", 0.005),
        ("activity_forward_gradient", {}, "activity forward gradient", 0.01),
        ("node_perturbation", {}, "node perturbation, K = 8", 0.02),
        ("shallow", {}, "shallow (control)", 0.05)]
x_test, y_test = mg.tensor(digits.test.x), digits.test.y
history = {}
for name, options, label, lr in RUNS:
    net = new_model(32)
    rule = mg.rules.make(name, net, seed=0, **options)
    opt = mg.optim.SGD(list(net.parameters()), lr=lr, momentum=0.9)
    loader = mg.data.DataLoader(digits.train, batch_size=32, shuffle=True, seed=0)  # same batches
    history[label] = {"loss": [], "accuracy": []}
    for epoch in range(EPOCHS):
        losses = [rule.step(xb, yb, opt)["loss"] for xb, yb in loader]
        with mg.no_grad():
            accuracy = np.mean(rule.predict(x_test).data.argmax(axis=1) == y_test)
        history[label]["loss"].append(np.mean(losses))
        history[label]["accuracy"].append(accuracy)
    print(f"{label:27s} lr {lr:g} (lr_scale x 0.05 = {0.05 * rule.lr_scale:g}): "
          f"train loss {history[label]['loss'][-1]:.3f}, "
          f"test accuracy {history[label]['accuracy'][-1]:.3f}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
epochs = np.arange(1, EPOCHS + 1)
for (label, h), style in zip(history.items(), ["k-", "C0-", "C0--", "C3-", "C2-", "C7:"]):
    ax1.semilogy(epochs, h["loss"], style, marker=".", label=label)
    ax2.plot(epochs, h["accuracy"], style, marker=".", label=label)
ax1.set_ylabel("training loss (cross-entropy, epoch mean)")
ax2.set_ylabel(f"test accuracy ({len(y_test)} digits)")
for ax in (ax1, ax2):
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
ax2.legend(fontsize=8)
fig.suptitle("Digits, mlp 64-32-10: estimated gradients vs backprop")
fig.tight_layout()
save_figure(fig, "10_training")

# %% [markdown]
# ## 7. What to take away
#
# * All four are unbiased (SPSA up to O(ε²), node perturbation up to O(σ²)):
#   averaged over enough draws they *are* the gradient. Their problem is
#   variance.
# * Perturbing the weights costs variance proportional to the number of
#   weights: with one tangent the forward gradient learns, but slowly -- in
#   full mode it reaches 0.797 test accuracy after 20 epochs, far below even
#   the `shallow` control (0.944) and backprop (0.975). Averaging $K = 16$
#   tangents brings it to 0.953, at 16 passes a step.
# * Perturbing the units (node perturbation, activity forward gradients) puts
#   the noise in the far smaller space of one example's activities, averaged
#   over the batch: in full mode they reach 0.969 and 0.961, close to
#   backprop. This is Werfel et al.'s lesson, and Ren et al.'s reason to
#   perturb activities (and, in their paper, to add local losses, which
#   shrink the space further).
#
# ## Exercises

# %%
# 1. The second moment of one forward gradient: a function (n, grad_norm) ->
#    E|g|^2 for g = (∇f·v) v, v ~ N(0, I_n). (Hint: rotate so that ∇f lies
#    along the first axis; E v1^4 = 3.)
answer = None   # your answer here: a function (n, grad_norm) -> number
exercise(check_second_moment, answer)

# %%
# 2. Write SPSA's estimate for a function f of a NumPy vector:
#    (f, theta, eps, v) -> the central difference of f along v, times v.
answer = None   # your answer here: a function (f, theta, eps, v) -> array
exercise(check_spsa_estimate, answer)

# %%
# 3. For the training model above, mlp([64, 32, 10]), how many tangents K must
#    the forward gradient average before E|g_K - ∇f|^2 falls to |∇f|^2 (an
#    error as large as the gradient itself)?
answer = None   # your answer here: an integer
exercise(check_tangents_needed, answer)
