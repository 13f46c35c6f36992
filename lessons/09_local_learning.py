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
# # Lesson 9: Local learning: Mono-Forward, local heads and PEPITA
#
# In backprop, layer 1 cannot learn until the error has come all the way back
# from the output (*update locking*), and every layer's activations must be
# kept until then (*memory*). Local learning rules give each block of the
# network an error it can compute **on the spot**, so that no error crosses
# from one block into the one before it.
#
# **You will learn**
# * local classifier heads: greedy layer-wise learning and Deeply-Supervised
#   Nets (Lee et al. 2015), minigrad's `local_ce` with `detach=True` and
#   `detach=False` -- and that with zero auxiliary weight the latter *is*
#   backprop;
# * Mono-Forward (Gong et al. 2025): a learnable projection $M_i$ per layer and
#   a local softmax on the "goodness" $a_i M_i^\top$;
# * PEPITA (Dellaferrera & Kreiman 2022): a second forward pass on an input
#   modulated by the error, $x' = x + F e$;
# * how to *test* locality, how much activation memory each rule keeps, how
#   they learn on Fashion-MNIST beside backprop, and PEPITA's weight alignment.
#
# **Prerequisites:** backprop, the cross-entropy loss, feedback alignment (a
# fixed random matrix in place of $W^\top$), minigrad's rule interface.
#
# **Run time:** under 15 s in fast mode (`MINIGRAD_FAST=1`), about a minute in
# full mode.

# %%
import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from _course import FAST, pick, save_figure, fashion_mnist, exercise
from checks.lesson09 import check_mono_forward_grad, check_equivalent_rule, check_pepita_update

mg.manual_seed(0)
SIZES = [784, 256, 256, 256, 10]        # three hidden layers of 256 ReLUs, 10 classes
C = SIZES[-1]


def new_model(sizes=SIZES, seed=0):
    return mg.nn.mlp(sizes, "relu", generator=np.random.default_rng(seed))


data = fashion_mnist(pick(600, 5000), pick(300, 2000))
x_train = data.train.x.reshape(len(data.train.x), -1)     # (N, 784)
x_test = data.test.x.reshape(len(data.test.x), -1)
y_train, y_test = data.train.y, data.test.y
xb, yb = mg.tensor(x_train[:64]), y_train[:64]             # one batch for the checks
print(data)

# %% [markdown]
# ## 1. Local heads: greedy layer-wise learning and deep supervision
#
# Cut the network into blocks $a_i = f(W_i a_{i-1} + b_i)$ and put a small
# classifier $h_i$ (here linear) on every hidden block. Each block has a local
# loss $L_i = \mathrm{CE}(h_i(a_i), y)$, and `local_ce` differentiates
#
# $$L = L_{\text{task}} + \alpha \sum_i L_i .$$
#
# * `detach=True` -- **greedy layer-wise learning**, all blocks at once
#   (Bengio, Lamblin, Popovici & Larochelle 2007, "Greedy Layer-Wise Training
#   of Deep Networks"; Belilovsky, Eickenberg & Oyallon 2019, "Greedy Layerwise
#   Learning Can Scale to ImageNet"): every block's input is detached, so block
#   $i$ learns from $\alpha L_i$ only, and the output layer from $L_\text{task}$ on
#   its detached input.
# * `detach=False` -- **Deeply-Supervised Nets** (Lee, Xie, Gallagher, Zhang &
#   Tu 2015): nothing is cut; every layer gets backprop's gradient of
#   $L_\text{task}$ plus $\alpha$ times the gradients of the heads above it. The
#   heads are a regulariser and an extra, shorter path for the error. (Lee et
#   al. used squared-hinge "companion" losses; minigrad's heads use
#   cross-entropy.)
#
# With $\alpha = 0$ the DSN loss is $L_\text{task}$ alone, so its updates must be
# backprop's exactly. We check.

# %%
model = new_model()
bp_updates = mg.rules.make("bp", model).updates(xb, yb)
dsn0 = mg.rules.make("local_ce", model, detach=False, aux_weight=0.0)
dsn0_updates = dsn0.updates(xb, yb)
worst = max(np.abs(dsn0_updates[k] - g).max() for k, g in bp_updates.items())
heads = max(np.abs(dsn0_updates[k]).max() for k in dsn0_updates if k.startswith("rule."))
print(f"local_ce(detach=False, aux_weight=0) vs bp: max |difference| = {worst:.2e}")
print(f"largest update of a head at alpha = 0: {heads:.2e}")
assert worst < 1e-6 and heads == 0

# %% [markdown]
# ## 2. Testing locality: perturb another layer
#
# "Local" is a claim we can test. If block 1 learns from its own head only,
# its update cannot depend on the weights *above* it. So: compute layer 1's
# update, change the weights of layers 2, 3 and the output layer, compute it
# again. For a local rule the two updates are identical to the bit; for
# backprop and DSN they are not.

# %%
def layer1_update_change(rule_name, **options):
    """Relative change of layer 1's weight update when the layers above it change."""
    net = new_model()
    rule = mg.rules.make(rule_name, net, seed=0, **options)
    before = rule.updates(xb, yb)["1.weight"]
    rng = np.random.default_rng(1)
    for layer in [m for m in net if isinstance(m, mg.nn.Linear)][1:]:
        layer.weight.data += 0.05 * rng.standard_normal(layer.weight.shape).astype(np.float32)
    after = rule.updates(xb, yb)["1.weight"]
    return np.linalg.norm(after - before) / np.linalg.norm(before)


change = {"bp": layer1_update_change("bp"),
          "local_ce (detach=False, DSN)": layer1_update_change("local_ce", detach=False),
          "local_ce (detach=True)": layer1_update_change("local_ce", detach=True),
          "mono_forward": layer1_update_change("mono_forward")}
for name, value in change.items():
    print(f"{name:30s} layer 1's update changed by {value:.3e} (relative)")
assert change["local_ce (detach=True)"] == 0 and change["mono_forward"] == 0
assert change["bp"] > 1e-3 and change["local_ce (detach=False, DSN)"] > 1e-3

# %% [markdown]
# ## 3. Mono-Forward
#
# Gong, Li & Abdulla (2025, "Mono-Forward: Backpropagation-Free Algorithm for
# Efficient Neural Network Training Harnessing Local Errors") give every hidden
# layer $i$ a learnable projection $M_i$ ($C \times$ width, no bias) and read
# its activity $a_i$ as class scores, the layer's **goodness**:
#
# $$G_i = a_i M_i^\top, \qquad L_i = -\frac1N \sum_n \log \mathrm{softmax}(G_i)_{n, y_n},$$
# $$\Delta W_i = -\eta\, \frac{\partial L_i}{\partial W_i}, \qquad
#   \Delta M_i = -\eta\, \frac1N \big(\mathrm{softmax}(G_i) - Y\big)^\top a_i .$$
#
# It is a local linear head without a bias, under another name -- and minigrad
# runs it the same way: block by block, each block learning as soon as it has
# run. The model's own output layer learns from the task loss on its detached
# input, so `rule.predict(x)` is just `model(x)`. By hand, for layer 1:

# %%
model = new_model()
mono = mg.rules.make("mono_forward", model, seed=0)
ups = mono.updates(xb, yb)

layer1 = model[1]                                     # model = Flatten, Linear, ReLU, ...
M1 = mono.projection("1")                             # a bias-free Linear: M1(a) = a M1^T
a1 = mg.relu(layer1(xb))                              # a_1
G1 = a1 @ M1.weight.T                                 # goodness G_1 = a_1 M_1^T, (N, C)
L1 = mg.cross_entropy(G1, yb)                         # local softmax cross-entropy
dW1, dM1 = mg.autograd.grad(L1, [layer1.weight, M1.weight])
Y = np.eye(C)[yb]
p = np.exp(G1.data - G1.data.max(1, keepdims=True))
p /= p.sum(1, keepdims=True)
dM1_formula = (p - Y).T @ a1.data / len(yb)           # the closed form above
print("rule's parameters:", [name for name, _ in mono.named_parameters()])
print(f"layer 1: |dW by hand - rule| = {np.abs(dW1.data - ups['1.weight']).max():.2e}, "
      f"|dM by hand - rule| = {np.abs(dM1.data - ups['rule.1.weight']).max():.2e}, "
      f"|dM formula - rule| = {np.abs(dM1_formula - ups['rule.1.weight']).max():.2e}")
assert np.abs(dW1.data - ups["1.weight"]).max() < 1e-6
assert np.abs(dM1_formula - ups["rule.1.weight"]).max() < 1e-6

# %% [markdown]
# ## 4. PEPITA: the error modulates the input
#
# Dellaferrera & Kreiman (2022, "Error-driven Input Modulation: Solving the
# Credit Assignment Problem without a Backward Pass", ICML) keep one global
# error but deliver it *forward*. A fixed random matrix $F$ ($d \times C$)
# adds the output error to the input, and the network runs a second time:
#
# $$\begin{aligned}
# &\text{standard pass:} && h_0 = x,\; h_\ell = \sigma(W_\ell h_{\ell-1} + b_\ell),\;
#    e = \mathrm{softmax}(h_L) - \mathrm{onehot}(y)\\
# &\text{modulated pass:} && h'_0 = x + F e,\; h'_\ell = \sigma(W_\ell h'_{\ell-1} + b_\ell),\;
#    e' = \mathrm{softmax}(h'_L) - \mathrm{onehot}(y)\\
# &\text{updates:} && \Delta W_\ell = -\eta\,(h_\ell - h'_\ell)\,(h'_{\ell-1})^\top \;(\ell < L),
#    \qquad \Delta W_L = -\eta\, e'\,(h'_{L-1})^\top
# \end{aligned}$$
#
# (batch means; $F = 0.05\cdot U(-\sqrt{6/d}, \sqrt{6/d})$). Why does it work?
# To first order $h_1 - h'_1 \approx -\sigma' \odot W_1 F e$: layer 1 receives
# the output error through the matrix $-W_1F$ -- direct feedback alignment
# with a feedback matrix that changes as $W_1$ learns (Srinivasan et al. 2024,
# "Forward Learning with Top-Down Feedback"). We write both passes in NumPy
# and compare with the rule.

# %%
model = new_model()
pep = mg.rules.make("pepita", model, seed=0)
ups = pep.updates(xb, yb)
Ws = [m.weight.data for m in model if isinstance(m, mg.nn.Linear)]
bs = [m.bias.data for m in model if isinstance(m, mg.nn.Linear)]
Y = np.eye(C, dtype=np.float32)[yb]


def softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def forward(h0):
    """[h_0, h_1, ..., h_L]: ReLU hidden layers, linear output (the logits)."""
    hs = [h0]
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = hs[-1] @ W.T + b
        hs.append(z if i == len(Ws) - 1 else np.maximum(z, 0))
    return hs


h = forward(xb.data)                                  # standard pass
e = softmax(h[-1]) - Y
h_mod = forward(xb.data + e @ pep.F.T)                # modulated pass on x + F e
e_mod = softmax(h_mod[-1]) - Y
n = len(yb)
names = [name for name, m in model.named_children() if isinstance(m, mg.nn.Linear)]
for l, name in enumerate(names, start=1):
    delta = e_mod if l == len(Ws) else h[l] - h_mod[l]
    dW = delta.T @ h_mod[l - 1] / n                   # delta (x) h'_{l-1}, batch mean
    diff = np.abs(dW - ups[f"{name}.weight"]).max()
    print(f"layer {l}: |update by hand - rule| = {diff:.2e}   "
          f"(largest |update| {np.abs(dW).max():.2e})")
    assert diff < 1e-6
print("F:", pep.F.shape, f"max |F| = {np.abs(pep.F).max():.4f}")

# %% [markdown]
# ## 5. Activation memory
#
# What must a rule keep between its forward computation and its update?
# `mg.inspect.activation_memory(rule, x, y)` runs one update and counts, from
# the engine's own bookkeeping, the bytes of activations alive at the worst
# moment, and which block they belong to. Backprop keeps every layer's input
# until the backward pass reaches it. Local rules (`local_ce` with
# `detach=True`, Mono-Forward) learn block by block and free each block's graph
# before the next block runs: one block at a time. DSN needs the whole graph, as
# backprop does. PEPITA builds no graph, but must keep the standard pass's
# activities $h_\ell$ until the modulated pass reaches layer $\ell$.

# %%
RULES = [("bp", {}, "bp"),
         ("local_ce", {"detach": False}, "local_ce (DSN)"),
         ("local_ce", {}, "local_ce (detach)"),
         ("mono_forward", {}, "mono_forward"),
         ("pepita", {}, "pepita")]
batch = mg.tensor(x_train[:128]), y_train[:128]
memory = {}
for name, options, label in RULES:
    report = mg.inspect.activation_memory(mg.rules.make(name, new_model(), **options), *batch)
    memory[label] = report
    print(f"{label:18s} peak {report.peak / 1024:7.1f} KiB   per block at the peak (KiB):",
          {k: round(v / 1024, 1) for k, v in report.per_layer.items()})
assert memory["local_ce (detach)"].peak < memory["bp"].peak
assert memory["mono_forward"].peak < memory["bp"].peak

depths = [1, 2, 3, 4, 6]
by_depth = {label: [] for _, _, label in RULES}
for depth in depths:
    sizes = [784] + [256] * depth + [10]
    for name, options, label in RULES:
        rule = mg.rules.make(name, new_model(sizes), **options)
        by_depth[label].append(mg.inspect.activation_memory(rule, *batch).peak)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
labels = list(memory)
bottom = np.zeros(len(labels))
for k, block in enumerate(memory["bp"].per_layer):
    kib = np.array([memory[lab].per_layer[block] / 1024 for lab in labels])
    title = f"hidden block {k + 1}" if k < len(SIZES) - 2 else "output layer"
    ax1.bar(labels, kib, bottom=bottom, label=title, color=f"C{k}")
    bottom += kib
ax1.set_ylabel("activations alive at the peak (KiB)")
ax1.set_title(f"One update, batch 128, mlp {'-'.join(map(str, SIZES))}")
ax1.tick_params(axis="x", rotation=20)
ax1.legend(fontsize=8)
for label, marker, style in zip(by_depth, "osd^v", ["-", "-", "-", "--", "-"]):
    ax2.plot(depths, np.array(by_depth[label]) / 1024, style, marker=marker, label=label)
ax2.set_xlabel("number of hidden layers (256 units each)")
ax2.set_ylabel("peak activation memory (KiB)")
ax2.set_title("Peak memory vs depth")
ax2.legend(fontsize=8)
ax2.grid(alpha=0.3)
fig.tight_layout()
save_figure(fig, "09_memory")

# %% [markdown]
# The first block holds the input image (784 numbers per example), so it is the
# largest; each local rule's peak is that one block, whatever the depth (the
# two local rules' lines lie on top of each other), while backprop, DSN and
# PEPITA grow by one hidden layer's activities per layer.
#
# ## 6. Learning on Fashion-MNIST
#
# Same network, same initial weights, same data order; SGD with momentum 0.9
# and learning rate 0.01 for every rule (PEPITA's authors' optimiser; in our
# tries PEPITA did not learn with Adam at lr 1e-3). The `shallow` rule -- only the output
# layer learns, on random hidden features -- is the control every rule must beat.
# We also record PEPITA's weight alignment after every epoch.

# %%
EPOCHS = pick(2, 15)
CURVES = RULES + [("shallow", {}, "shallow (control)")]


def train(name, options):
    net = new_model()
    rule = mg.rules.make(name, net, seed=0, **options)
    opt = mg.optim.SGD(list(net.parameters()) + list(rule.parameters()), lr=0.01,
                       momentum=0.9)
    loader = mg.data.DataLoader(mg.data.Dataset(x_train, y_train), batch_size=64,
                                shuffle=True, seed=0)
    accuracy, alignment = [], [rule.weight_alignment()]
    for epoch in range(EPOCHS):
        for x, y in loader:
            rule.step(x, y, opt)
        with mg.no_grad():
            scores = rule.predict(mg.tensor(x_test)).data
        accuracy.append(np.mean(scores.argmax(axis=1) == y_test))
        alignment.append(rule.weight_alignment())
    return accuracy, alignment


results = {label: train(name, options) for name, options, label in CURVES}
print(f"test accuracy after {EPOCHS} epochs ({len(x_train)} training images):")
for label, (accuracy, _) in results.items():
    print(f"  {label:18s} {accuracy[-1]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
epochs = np.arange(1, EPOCHS + 1)
for (label, (accuracy, _)), style in zip(results.items(), ["k-", "C1-", "C2-", "C3--", "C4-",
                                                           "C7:"]):
    ax.plot(epochs, accuracy, style, marker=".", lw=2 if label == "bp" else 1.5, label=label)
ax.set_xlabel("epoch")
ax.set_ylabel(f"test accuracy ({len(x_test)} images)")
ax.set_title(f"Fashion-MNIST, {len(x_train)} training images, mlp {'-'.join(map(str, SIZES))}")
ax.legend(fontsize=9)
ax.grid(alpha=0.3)
save_figure(fig, "09_accuracy")

# %% [markdown]
# ## 7. PEPITA's weight alignment
#
# Feedback alignment works because the forward weights come to align with the
# fixed feedback. PEPITA's papers measure the same thing: the angle between $F$
# and the product of the forward weights $(W_L \cdots W_1)^\top$ (both
# $d \times C$; Dellaferrera & Kreiman 2022; Srinivasan et al. 2024). With the
# sign conventions above the hidden layers learn from $-W_\ell\cdots W_1 F e$,
# so learning pushes this angle **away from 90° upward** (towards
# anti-alignment with $F$). Per hidden layer, `rule.weight_alignment()` also
# gives the FA-sense angle between the effective feedback
# $-W_\ell \cdots W_1 F$ and the matrix backprop would use,
# $(W_L \cdots W_{\ell+1})^\top$: below 90° the layer's signal points the way
# backprop's does.

# %%
steps = np.arange(0, EPOCHS + 1)
pep_alignment = results["pepita"][1]
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(steps, [a["F"] for a in pep_alignment], "k-o",
        label=r"$\angle(F,\ (W_L\cdots W_1)^\top)$ (the papers' measure)")
for k, name in enumerate(names[:-1]):
    ax.plot(steps, [a[name] for a in pep_alignment], "-o", color=f"C{k}",
            label=rf"hidden layer {k + 1}: $\angle(-W_{k + 1}\cdots W_1F,\ "
                  rf"(W_L\cdots W_{k + 2})^\top)$")
ax.axhline(90, color="gray", ls=":", label="90° (no alignment)")
ax.set_xlabel("epoch (0 = initial weights)")
ax.set_ylabel("angle (degrees)")
ax.set_title("PEPITA: weight alignment during training")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
save_figure(fig, "09_pepita_alignment")
print("PEPITA alignment at the start:", {k: round(v, 1) for k, v in pep_alignment[0].items()})
print("PEPITA alignment at the end:  ", {k: round(v, 1) for k, v in pep_alignment[-1].items()})

# %% [markdown]
# ## 8. What to take away
#
# * Local heads and Mono-Forward give each block an error of its own; we
#   *showed* locality (layer 1's update did not change when every layer above
#   it did) and the memory it buys: one block's activations, whatever the
#   depth. On this small problem they cost little accuracy: in full mode local
#   heads end at 0.827 and Mono-Forward at 0.832, backprop at 0.841.
# * DSN is backprop plus auxiliary losses (equal to it at $\alpha = 0$): no
#   locality, no memory saving.
# * PEPITA needs no backward pass and no transport of weights, but it keeps
#   the first pass's activities as backprop does, and its error reaches the
#   hidden layers only through the small $F e$ perturbation. It learns much
#   more slowly than the others: in full mode it ends at 0.750 after 15 epochs,
#   against 0.841 for backprop and 0.827-0.840 for the local rules. It does
#   beat the `shallow` control (0.650), so its hidden layers do learn, and its
#   effective feedback aligns with backprop's matrices (63-71° at the end).
# * Greedy local losses optimise each block for its own classifier, not for
#   what the blocks above need; on deeper networks and harder data that gap
#   to backprop grows (Belilovsky et al. 2019 use auxiliary networks of a few
#   layers to close it).
#
# ## Exercises

# %%
# 1. Mono-Forward's update of the projection: write a function
#    (a, M, y) -> dL/dM for L = CE(softmax(a M^T), y) averaged over the batch,
#    with a (N, width) and M (C, width) NumPy arrays and y integer labels (N,).
answer = None   # your answer here: a function (a, M, y) -> array of M's shape
exercise(check_mono_forward_grad, answer)

# %%
# 2. local_ce with detach=True and aux_weight=0 gives the hidden layers no
#    update at all. Which rule of mg.rules.available() does it then equal?
answer = None   # your answer here: a rule name (a string)
exercise(check_equivalent_rule, answer)

# %%
# 3. PEPITA's update of a hidden layer, in the gradient sign convention of
#    rule.updates: a function (h, h_mod, h_in_mod) -> update of W, with h and
#    h_mod (N, n_out) the layer's activities in the standard and modulated
#    passes and h_in_mod (N, n_in) its input in the modulated pass.
answer = None   # your answer here: a function (h, h_mod, h_in_mod) -> (n_out, n_in) array
exercise(check_pepita_update, answer)
