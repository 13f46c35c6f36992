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
# # Lesson 11: Predictive coding
#
# In a predictive coding network every layer tries to predict the activity
# of the layer above it, and only the prediction errors drive learning. The
# network first *relaxes*: its activities move to lower an energy, the sum
# of squared prediction errors, with the input held fixed and the output
# pulled towards the target. Then every weight changes using only its own
# layer's error and the activity feeding it -- a local, Hebbian update. Under
# the right conditions these updates are exactly backprop's.
#
# **What you will learn**
#
# * the energy $F$, value nodes and error nodes, and the relaxation
#   (inference) dynamics, written by hand and checked against minigrad's
#   `predictive_coding` rule;
# * the local weight update, and when it equals backprop's gradient: with
#   the fixed-prediction assumption exactly, and without it in the limit of
#   a small output error;
# * how the agreement depends on the number of inference steps and on the
#   output-error scale, measured as angle and relative error;
# * training an MLP with predictive coding beside backprop.
#
# **Prerequisites:** backprop (lesson 2), update alignment (lesson 6),
# minigrad's rule interface (`mg.rules.make`, `rule.updates`, `rule.step`).
#
# **Run time:** about 10 s in fast mode (`MINIGRAD_FAST=1`), under a minute
# in full mode on two cores.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from minigrad import nn, optim, rules
from minigrad.inspect import backprop_reference
from _course import FAST, pick, save_figure, fashion_mnist, exercise
from checks.lesson11 import check_inference_step, check_exact_steps, check_pc_weight_update

np.set_printoptions(precision=4, suppress=True)

SIZES = [784, 128, 64, 10]            # three Linear layers, tanh between them
data = fashion_mnist(pick(3000, 10000), pick(1000, 5000))
print(data)


def new_model():
    return nn.mlp(SIZES, "tanh", generator=np.random.default_rng(0))


# %% [markdown]
# ## 1. Energy, value nodes and error nodes
#
# Rao & Ballard (1999, "Predictive coding in the visual cortex: a functional
# interpretation of some extra-classical receptive-field effects", *Nature
# Neuroscience* 2) modelled cortex as a hierarchy in which each level
# predicts the one below it and passes on only what it failed to predict.
# Whittington & Bogacz (2017, "An approximation of the error backpropagation
# algorithm in a predictive coding network with local Hebbian synaptic
# plasticity", *Neural Computation* 29) turned this into a learning rule for
# a feedforward network. Each layer $l$ has **value nodes** $x_l$ (its
# activity) and **error nodes** $\varepsilon_l$:
#
# $$\mu_l = f(a_l),\quad a_l = W_l x_{l-1} + b_l, \qquad \varepsilon_l = x_l - \mu_l ,$$
#
# and the network's energy is the sum of squared prediction errors. The
# input is clamped, $x_0 = x$. Whittington & Bogacz clamp the output to the
# target too ($x_L = y$); minigrad weighs the output by $\beta$ times the task
# loss $\ell$ instead, which for cross-entropy is the generalisation of a
# clamped output (Millidge, Tschantz & Buckley 2022, "Predictive coding
# approximates backprop along arbitrary computation graphs", *Neural
# Computation* 34):
#
# $$F = \sum_{l=1}^{L-1} \tfrac12 \lVert \varepsilon_l \rVert^2 + \beta\, \ell(\mu_L, y),
#   \qquad \varepsilon_L = -\beta\, \frac{\partial \ell}{\partial \mu_L}
#   = \beta\,\big(\text{onehot}(y) - \operatorname{softmax}(\mu_L)\big).$$
#
# **Inference** starts from the feedforward pass ($x_l = \mu_l$: every hidden
# error is 0, only $\varepsilon_L$ is not) and runs $T$ steps of gradient
# descent on $F$ with rate $\gamma$:
#
# $$x_l \leftarrow x_l - \gamma \frac{\partial F}{\partial x_l}
#   = x_l + \gamma\Big(-\varepsilon_l + W_{l+1}^\top\big(\varepsilon_{l+1} \odot f'(a_{l+1})\big)\Big),
#   \qquad l = 1, \dots, L-1 .$$
#
# Every term is local: a value node moves by its own error and by the errors
# of the layer it predicts. **Learning** then changes each weight by its
# layer's error times its input activity, at the relaxed state:
#
# $$\Delta W_l = \eta\, \big(\varepsilon_l \odot f'(a_l)\big)\, x_{l-1}^\top = -\eta\, \frac{\partial F}{\partial W_l}.$$
#
# Here is the inference written out in NumPy (rows are examples, so
# $W^\top v$ becomes `v @ W`), one line per equation.

# %%
def softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def predictions(params, values):
    """mu_l and f'(a_l) for every layer, from the value nodes below it."""
    Ws, bs = params[0::2], params[1::2]
    mus, fprimes = [], []
    for l, (W, b) in enumerate(zip(Ws, bs)):
        a = values[l] @ W.T + b
        if l < len(Ws) - 1:                       # tanh hidden layers
            mus.append(np.tanh(a))
            fprimes.append(1 - np.tanh(a) ** 2)
        else:                                     # linear output
            mus.append(a)
            fprimes.append(np.ones_like(a))
    return mus, fprimes


def pc_inference(params, X, Y, beta, gamma, T):
    """Relax the hidden value nodes for T steps; return every step's values and energy
    (params = [W1, b1, W2, b2, W3, b3]; Y one-hot)."""
    Ws, bs = params[0::2], params[1::2]
    values = [X]
    for l in range(len(Ws) - 1):                  # the feedforward pass: x_l = mu_l
        values.append(np.tanh(values[l] @ Ws[l].T + bs[l]))
    history = []
    for step in range(T + 1):
        mus, fprimes = predictions(params, values)
        errors = [values[l + 1] - mus[l] for l in range(len(Ws) - 1)]
        errors.append(beta * (Y - softmax(mus[-1])))                     # eps_L
        log_p = np.log(softmax(mus[-1]))
        energy = sum(0.5 * (e ** 2).sum(axis=1) for e in errors[:-1]) - beta * (Y * log_p).sum(1)
        history.append({"values": [v.copy() for v in values], "energy": energy.mean()})
        if step == T:
            return history
        # -dF/dx_l = -eps_l + W_{l+1}^T (eps_{l+1} * f'(a_{l+1})) for every hidden layer l
        downhill = [-errors[l] + (errors[l + 1] * fprimes[l + 1]) @ Ws[l + 1]
                    for l in range(len(Ws) - 1)]
        values = [values[0]] + [x_l + gamma * d for x_l, d in zip(values[1:], downhill)]


# %% [markdown]
# We relax a batch with minigrad's rule (`T` steps, rate `inference_rate`,
# output weight `nudge` = $\beta$) and with the hand-written code, and
# compare the relaxed value nodes (`rule.last_values`) and the energy at
# every step (`rule.last_energies`).

# %%
N = pick(64, 256)
x, y = mg.tensor(data.train.x[:N]), data.train.y[:N]
X = data.train.x[:N].reshape(N, -1).astype(np.float64)
Y = np.eye(10)[y]
model = new_model()
params = [p.data.astype(np.float64) for p in model.parameters()]

BETA, GAMMA, T_RELAX = 1.0, 0.1, 100
pc = rules.make("predictive_coding", model, T=T_RELAX, inference_rate=GAMMA, nudge=BETA)
pc.updates(x, y)
history = pc_inference(params, X, Y, BETA, GAMMA, T_RELAX)
ours_energy = np.array([h["energy"] for h in history])
worst_value = max(np.abs(pc.last_values[l] - history[-1]["values"][l]).max() for l in range(1, 3))
worst_energy = np.abs(ours_energy - np.array(pc.last_energies)).max() / ours_energy[0]
print(f"relaxed value nodes: largest difference {worst_value:.1e}; "
      f"energies: largest relative difference {worst_energy:.1e}")
assert worst_value < 1e-4 and worst_energy < 1e-4
print(f"energy: {ours_energy[0]:.4f} at the feedforward state, {ours_energy[-1]:.4f} after "
      f"{T_RELAX} steps; it fell at every step: {bool(np.all(np.diff(ours_energy) <= 1e-12))}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(ours_energy, color="C3")
axes[0].set_title("energy F during inference (β = 1, γ = 0.1)")
axes[0].set_ylabel("F (mean over the batch)")
layer2 = np.array([h["values"][2][0, :8] for h in history])      # example 0, 8 value nodes
axes[1].plot(layer2 - layer2[0])
axes[1].set_title("8 value nodes of hidden layer 2 (one example)")
axes[1].set_ylabel("x(t) - x(0), the change from the feedforward value")
for l, color in [(1, "C0"), (2, "C1")]:
    moves = [np.linalg.norm(after["values"][l] - before["values"][l]) /
             np.linalg.norm(before["values"][l]) for before, after in zip(history, history[1:])]
    axes[2].semilogy(moves, color=color, label=f"hidden layer {l}")
axes[2].set_title("size of each inference step")
axes[2].set_ylabel("‖x_l(t+1) − x_l(t)‖ / ‖x_l(t)‖")
axes[2].legend()
for ax in axes:
    ax.set_xlabel("inference step t")
    ax.grid(alpha=0.3)
fig.tight_layout()
save_figure(fig, "11_relaxation")

# %% [markdown]
# The energy falls monotonically and levels off: the value nodes settle
# into an equilibrium, approached geometrically (the steps shrink along a
# straight line on the log scale). Hidden layer 1 does not move at all in
# the first step: at the feedforward state only the output has an error,
# and it takes one step to travel down to layer 2 and another to reach
# layer 1. At the equilibrium $\partial F/\partial x_l = 0$, so
#
# $$\varepsilon_l = W_{l+1}^\top \big(\varepsilon_{l+1} \odot f'(a_{l+1})\big),$$
#
# so $\varepsilon_l \odot f'(a_l) = \big(W_{l+1}^\top (\varepsilon_{l+1} \odot f'(a_{l+1}))\big) \odot f'(a_l)$:
# **backprop's recursion for $\delta$**, with $\varepsilon_L = -\beta\,\partial\ell/\partial\mu_L$
# in the role of the output error (and the opposite sign). The errors at
# equilibrium are therefore $-\beta$ times backprop's errors -- except that
# they are evaluated at the *relaxed* activities, not at the feedforward
# ones backprop uses.
#
# ## 2. When predictive coding equals backprop
#
# Two ways close that gap.
#
# * **Fixed prediction** (Millidge, Tschantz & Buckley 2022; Song,
#   Lukasiewicz, Xu & Bogacz 2020, "Can the brain do backpropagation? --
#   Exact implementation of backpropagation in predictive coding networks",
#   NeurIPS): hold the predictions $\mu_l$ and derivatives $f'(a_l)$ at their
#   feedforward values during inference. The update becomes
#   $\varepsilon_l \leftarrow (1-\gamma)\varepsilon_l + \gamma W_{l+1}^\top(\varepsilon_{l+1} \odot f'(\bar a_{l+1}))$,
#   whose fixed point is exactly $-\beta\delta_l$. With $\gamma = 1$ the error moves
#   down one layer per step, so after $T \ge L-1$ steps every layer holds
#   backprop's $\delta$ exactly.
# * **A small output error** (Whittington & Bogacz 2017): with $\beta \to 0$ the
#   output barely pulls, the relaxed state stays within $O(\beta)$ of the
#   feedforward pass, and the equilibrium errors divided by $\beta$ tend to
#   $-\delta_l$.
#
# minigrad's `updates` returns $-\Delta W_l/(\eta\beta)$, so in both limits it
# should equal backprop's gradient. First the exact case, on our network of
# $L = 3$ Linear layers:

# %%
grads, _ = backprop_reference(model, x, y)


def compare(**options):
    """PC's update u against backprop's gradient g: the largest angle (degrees)
    over the three weight matrices, and the relative error |u - g| / |g| over
    all parameters together."""
    ups = rules.make("predictive_coding", model, **options).updates(x, y)
    worst_angle = max(rules.angle(ups[k], grads[k]) for k in grads if k.endswith("weight"))
    u = np.concatenate([ups[k].ravel() for k in grads]).astype(np.float64)
    g = np.concatenate([grads[k].ravel() for k in grads]).astype(np.float64)
    return worst_angle, float(np.linalg.norm(u - g) / np.linalg.norm(g))


for T in range(4):
    angle, rel = compare(fixed_prediction=True, inference_rate=1.0, T=T)
    print(f"fixed prediction, gamma = 1, T = {T}: largest angle {angle:6.2f} deg, "
          f"relative error {rel:.1e}")
angle, rel = compare(fixed_prediction=True, inference_rate=1.0, T=len(SIZES) - 2)
assert rel < 1e-5, rel            # T = L - 1: backprop, to float32 rounding

# %% [markdown]
# With $T = 0$ no error has reached the hidden layers (only the last layer
# learns: the `shallow` control); with $T = 1$ the second hidden layer has
# its $\delta$; with $T = 2 = L-1$ every layer has it, and the updates equal
# backprop's to float32 rounding.
#
# Now the general picture: the angle (the largest over the three weight
# matrices) and the relative error $\lVert u - g \rVert / \lVert g \rVert$ (all
# parameters together) as a function of the number of inference steps
# $T$, for fixed prediction with $\gamma = 1$ and $\gamma = 0.1$, and for standard
# predictive coding ($\gamma = 0.1$) with three output-error scales $\beta$.

# %%
T_VALUES = pick([0, 1, 2, 5, 10, 20, 50], [0, 1, 2, 3, 5, 10, 20, 50, 100, 200])
SETTINGS = {
    "fixed prediction, γ = 1": dict(fixed_prediction=True, inference_rate=1.0),
    "fixed prediction, γ = 0.1": dict(fixed_prediction=True, inference_rate=0.1),
    "standard, β = 1": dict(nudge=1.0, inference_rate=0.1),
    "standard, β = 0.1": dict(nudge=0.1, inference_rate=0.1),
    "standard, β = 0.01": dict(nudge=0.01, inference_rate=0.1),
}
by_steps = {label: [compare(T=T, **opts) for T in T_VALUES] for label, opts in SETTINGS.items()}
for label, rows in by_steps.items():
    print(f"{label:26s} T = {T_VALUES[-1]}: largest angle {rows[-1][0]:6.2f} deg, "
          f"relative error {rows[-1][1]:.3f}")

BETAS = [3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.003]
T_LONG = T_VALUES[-1]
by_beta = [compare(T=T_LONG, nudge=b, inference_rate=0.1) for b in BETAS]
for b, (angle, rel) in zip(BETAS, by_beta):
    print(f"standard, T = {T_LONG}, beta = {b:5}: largest angle {angle:6.2f} deg, "
          f"relative error {rel:.4f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
for i, (label, rows) in enumerate(by_steps.items()):
    style = dict(marker="o", ms=3, color=f"C{i}", ls="--" if "fixed" in label else "-")
    axes[0].plot(T_VALUES, [a for a, _ in rows], label=label, **style)
    axes[1].plot(T_VALUES, [max(r, 1e-8) for _, r in rows], label=label, **style)
axes[0].set_ylabel("largest angle to backprop's gradient\n(over W1, W2, W3; degrees)")
axes[0].set_title("angle vs inference steps")
axes[1].set_yscale("log")
axes[1].set_ylabel("relative error ‖u − g‖ / ‖g‖")
axes[1].set_title("relative error vs inference steps")
for ax in axes[:2]:
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(-0.2, 1.5 * T_VALUES[-1])
    ax.set_xlabel("inference steps T (0, then log scale)")
axes[0].legend(fontsize=8)
axes[2].loglog(BETAS, [a for a, _ in by_beta], "o-", color="C4", label="largest angle (degrees)")
axes[2].loglog(BETAS, [r for _, r in by_beta], "s--", color="C5", label="relative error")
axes[2].set_xlabel("output-error scale β (nudge)")
axes[2].set_title(f"standard PC at equilibrium (T = {T_LONG}, γ = 0.1)")
axes[2].set_ylabel("angle (degrees) / relative error")
axes[2].legend(fontsize=8)
for ax in axes:
    ax.grid(alpha=0.3, which="both")
fig.tight_layout()
save_figure(fig, "11_pc_vs_backprop")

# %% [markdown]
# **Reading the figure.** Under fixed prediction the *direction* of every
# hidden update is backprop's as soon as the error has reached it (angle 0
# from $T = L-1 = 2$ on, even with $\gamma = 0.1$: each layer's error is then a
# multiple of its $\delta$), but with $\gamma = 0.1$ its *size* converges only
# geometrically, so the relative error falls slowly. Standard predictive
# coding needs enough steps to reach equilibrium -- with $\gamma = 0.1$, of
# the order of a hundred here -- and then levels off at an error set by
# $\beta$: with $\beta = 1$ the output layer learns from the error left *after*
# the output has been pulled towards the target, and its update ends about
# 30° from backprop's in full mode (the largest angle is the output
# layer's). The right panel (full mode: $T = 200$, enough for equilibrium)
# shows the limit: both the angle and the relative error shrink in
# proportion to $\beta$ (slope 1 on the log-log axes) -- the regime in which
# Whittington & Bogacz showed predictive coding approximates backprop --
# until, at the smallest $\beta$, the relative error meets float32 rounding:
# the errors $\varepsilon_l = x_l - \mu_l$ are then differences of nearly equal
# numbers, and the rule divides them by $\beta$. (Fast mode stops at $T = 50$,
# before equilibrium, and its right panel flattens early.)
#
# ## 3. Training with predictive coding
#
# Is the approximation good enough to learn? We train the MLP with
# minigrad's default predictive coding ($T = 20$, $\gamma = 0.1$, $\beta = 1$:
# far from the exact regime) beside backprop and the `shallow` control,
# from the same initial weights, with SGD (η = 0.01, momentum 0.9, batch 64).

# %%
EPOCHS = pick(2, 5)


def accuracy(rule, split):
    with mg.no_grad():
        scores = rule.predict(mg.tensor(split.x)).data
    return float((scores.argmax(axis=1) == split.y).mean())


curves, seconds = {}, {}
for label, name in [("bp", "bp"), ("predictive coding", "predictive_coding"),
                    ("shallow", "shallow")]:
    net = new_model()
    rule = rules.make(name, net)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = mg.data.DataLoader(data.train, batch_size=64, shuffle=True, seed=0)
    curves[label], start = [], time.perf_counter()
    for epoch in range(EPOCHS):
        for xb, yb in loader:
            rule.step(xb, yb, opt)
        curves[label].append(accuracy(rule, data.test))
    seconds[label] = (time.perf_counter() - start) / EPOCHS
    print(f"{label:18s} test accuracy per epoch {np.round(curves[label], 3)}, "
          f"{seconds[label]:.2f} s per epoch")

fig, ax = plt.subplots(figsize=(6, 4))
for label, accs in curves.items():
    ax.plot(range(1, EPOCHS + 1), 100 * np.array(accs), "o-", label=label)
ax.set_xticks(range(1, EPOCHS + 1))
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy (%)")
ax.set_title(f"Fashion-MNIST, {len(data.train)} training examples,\n784-128-64-10 tanh MLP")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
save_figure(fig, "11_pc_training")

# %% [markdown]
# Even far from the exact regime, predictive coding trains the network
# about as well as backprop (in full mode 83.7% against 84.3% after five
# epochs) and far better than `shallow` (70.6%): its hidden updates point
# close to backprop's, and the output layer's update, though off in
# direction, still reduces the loss. The cost is time: every step runs
# $T = 20$ inference iterations, each a pass up and down the network, so an
# epoch takes several times as long as backprop's (the printout has the
# seconds of this run). The relaxation is also what a brain would have to do
# between seeing an input and changing its synapses.
#
# ## Summary
#
# * Predictive coding keeps value nodes and error nodes; inference lowers
#   the energy $F = \sum \frac12\lVert\varepsilon_l\rVert^2 + \beta\ell$ by local dynamics,
#   and learning changes each weight by its own error times its input.
# * At equilibrium the errors obey backprop's recursion, evaluated at the
#   relaxed state. With fixed predictions and $\gamma = 1$, $T = L-1$ steps give
#   backprop exactly; without them, the updates approach backprop's as the
#   output-error scale $\beta \to 0$.
#
# ## Exercises

# %% [markdown]
# **1.** Write one inference step for the value nodes of a hidden layer (row
# convention): given `x` and `eps` (this layer's values and errors, $N \times
# n$), `eps_above` and `fprime_above` (the layer above's errors and
# $f'(a)$, $N \times m$) and `W_above` ($m \times n$), return
# $x + \gamma(-\varepsilon + (\varepsilon_\text{above} \odot f'_\text{above}) W_\text{above})$.

# %%
def inference_step(x, eps, eps_above, fprime_above, W_above, gamma):
    return None   # your code here


answer = None   # set answer = inference_step when it is written
exercise(check_inference_step, answer)

# %% [markdown]
# **2.** With fixed prediction and $\gamma = 1$, what is the smallest number of
# inference steps $T$ for which predictive coding equals backprop on a
# 784-128-128-128-10 tanh MLP (four Linear layers)? Answer with an integer.

# %%
answer = None   # your answer here: an integer
exercise(check_exact_steps, answer)

# %% [markdown]
# **3.** Write the local weight update as `rule.updates` returns it (the
# gradient's sign, divided by $\eta\beta$, averaged over the batch): given a
# layer's errors `eps` ($N \times$ out), its $f'(a)$ `fprime` ($N \times$ out),
# the value nodes below `x_below` ($N \times$ in) and `beta`, return the
# (out × in) matrix. The checker compares with minigrad on a relaxed network.

# %%
def pc_weight_update(eps, fprime, x_below, beta):
    return None   # your code here


answer = None   # set answer = pc_weight_update when it is written
exercise(check_pc_weight_update, answer)
