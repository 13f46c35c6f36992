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
# # Lesson 6: The weight-transport problem and feedback alignment
#
# Backprop's backward pass multiplies the error by the *transpose of the
# forward weights*. A brain would need a second set of synapses, running the
# other way, with exactly the same strengths. Feedback alignment replaces
# that transpose by a fixed random matrix -- and the network still learns.
#
# **What you will learn**
#
# * why backprop needs $W^\top$ in the backward pass, and why that is called
#   the weight-transport problem (Grossberg 1987; Crick 1989);
# * feedback alignment (FA; Lillicrap et al. 2016): the error travels back
#   through a fixed random $B$; written by hand in NumPy and checked against
#   minigrad's `fa` rule;
# * that FA with $B$ standing exactly for $W^\top$ *is* backprop, to the bit;
# * how FA's updates come to point within 90° of backprop's during training
#   (update alignment), and how the forward weights turn towards the
#   feedback (weight alignment);
# * why this happens: the forward weights learn to make $B$ act like
#   $W^\top$.
#
# **Prerequisites:** backprop through an MLP (lesson 2), minigrad's rule
# interface (`mg.rules.make`, `rule.updates`, `rule.step`), the angle
# between two vectors.
#
# **Run time:** about 10 s in fast mode (`MINIGRAD_FAST=1`), under a minute
# in full mode on two cores.

# %%
import inspect as python_inspect

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from minigrad import nn, optim, rules
from minigrad.inspect import Recorder, update_alignment, weight_alignment
from _course import FAST, pick, save_figure, fashion_mnist, exercise
from checks.lesson06 import check_fa_delta_relu, check_flipped_feedback, check_exact_layers

np.set_printoptions(precision=3, suppress=True)

SIZES = [784, 128, 128, 10]          # a tanh MLP: W1 (128x784), W2 (128x128), W3 (10x128)
data = fashion_mnist(pick(4000, 20000), pick(1000, 5000))
print(data)

# %% [markdown]
# ## 1. Why backprop needs $W^\top$
#
# Layer $l$ computes $a_l = W_l h_{l-1} + b_l$ and $h_l = f(a_l)$; the output
# is $a_L$ and $e = \partial L/\partial a_L$ is the output error. Backprop
# (Rumelhart, Hinton & Williams 1986) sends the error down one layer at a time,
#
# $$\delta_l = \big(W_{l+1}^\top \delta_{l+1}\big) \odot f'(a_l), \qquad
#   \frac{\partial L}{\partial W_l} = \delta_l\, h_{l-1}^\top, \qquad \delta_L = e.$$
#
# The forward pass uses $W_{l+1}$ to carry activity *up* from layer $l$ to
# layer $l+1$; the backward pass uses the same numbers, transposed, to carry
# error *down*. In a brain the synapse from neuron $j$ to neuron $i$ has
# strength $W_{ij}$ and transmits in one direction only, so the error would
# need a separate pathway from $i$ back to $j$ whose strengths equal the
# forward ones -- and stay equal while the forward synapses learn; no
# mechanism is known that would copy synaptic strengths from one set of
# synapses to another.
# Grossberg (1987, "Competitive learning: from interactive activation to
# adaptive resonance", *Cognitive Science* 11) called this the
# **weight-transport problem**, and Crick (1989, "The recent excitement
# about neural networks", *Nature* 337) used it to argue that the brain is
# unlikely to run backprop.
#
# ## 2. Feedback alignment
#
# Lillicrap, Cownden, Tweed & Akerman (2016, "Random synaptic feedback
# weights support error backpropagation for deep learning", *Nature
# Communications* 7) keep everything but one matrix: the error goes down
# through a **fixed random** $B_{l+1}$ of $W_{l+1}^\top$'s shape,
#
# $$\delta_l = \big(B_{l+1}\, \delta_{l+1}\big) \odot f'(a_l), \qquad
#   \Delta W_l = -\eta\, \delta_l\, h_{l-1}^\top .$$
#
# The last layer still learns from $e$ itself, and the first layer's input
# needs no error, so an $L$-layer net has $L-1$ feedback matrices.
#
# **The code's convention.** minigrad (like PyTorch) puts examples in rows:
# a batch $X$ is $N\times$inputs and a layer computes $XW^\top + b$. The
# error rows then go down as $D_l = (D_{l+1} W_{l+1}) \odot f'(A_l)$, and FA's
# $B$ is *stored in $W$'s shape* (outputs, inputs) and used where backprop
# uses $W$: $D_l = (D_{l+1} B_{l+1}) \odot f'(A_l)$. So the paper's "$B = W^\top$"
# is `feedback = W` in the code. The custom op that does this,
# `FeedbackLinear`, computes $XW^\top + b$ forward; its vjp differs from a
# Linear layer's in one product:

# %%
print(python_inspect.getsource(rules.feedback_alignment.FeedbackLinear.vjp))

# %% [markdown]
# The loop over `factor` is the whole rule: the incoming error `g` is
# multiplied by the feedback matrix (or, for the product feedback alignment
# of lesson 7, by a product of matrices) where a Linear layer's vjp
# multiplies it by $W$. The weight gradient `grad_w` is backprop's formula,
# error times input.
#
# Let us write FA for our tanh MLP by hand, in float64 NumPy, one line per
# equation, and compare it with the rule. For the mean cross-entropy the
# output error is $E = (\operatorname{softmax}(Z) - \text{onehot}(y))/N$.

# %%
def fa_by_hand(params, feedback, X, y):
    """FA's updates for a 3-layer tanh MLP; params = [W1, b1, W2, b2, W3, b3],
    feedback = {"3": B2, "5": B3}, each stored in its W's shape."""
    W1, b1, W2, b2, W3, b3 = params
    H1 = np.tanh(X @ W1.T + b1)
    H2 = np.tanh(H1 @ W2.T + b2)
    Z = H2 @ W3.T + b3
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    E = (P - np.eye(Z.shape[1])[y]) / len(y)              # dL/dZ
    D2 = (E @ feedback["5"]) * (1 - H2 ** 2)               # backprop: E @ W3
    D1 = (D2 @ feedback["3"]) * (1 - H1 ** 2)              # backprop: D2 @ W2
    return {"1.weight": D1.T @ X, "1.bias": D1.sum(0), "3.weight": D2.T @ H1,
            "3.bias": D2.sum(0), "5.weight": E.T @ H2, "5.bias": E.sum(0)}


def new_model():
    """The same initial weights every time (a seeded generator)."""
    return nn.mlp(SIZES, "tanh", generator=np.random.default_rng(0))


model = new_model()
fa = rules.make("fa", model, seed=0)
print("layers with a feedback matrix:", {k: v.shape for k, v in fa.feedback.items()})

X = data.train.x[:256].reshape(256, -1).astype(np.float64)
y = data.train.y[:256]
ours = fa_by_hand([p.data.astype(np.float64) for p in model.parameters()],
                  {k: v.astype(np.float64) for k, v in fa.feedback.items()}, X, y)
theirs = fa.updates(mg.tensor(data.train.x[:256]), y)
for name in ours:
    rel = np.abs(ours[name] - theirs[name]).max() / np.abs(ours[name]).max()
    print(f"{name:9s} largest difference / largest entry: {rel:.1e}")
    assert rel < 1e-4, name          # float32 (the rule) against float64 (by hand)

# %% [markdown]
# ## 3. With $B$ standing for $W^\top$, FA is backprop
#
# The feedback matrices are part of the rule's state: `fa.state_dict()`
# holds them under `"feedback"` (also readable as `fa.feedback`), and
# `fa.load_state_dict` puts new ones in. Give every layer the current
# forward weights (a *copy*: otherwise the optimizer would keep them equal
# by moving both) and FA's updates must equal backprop's.

# %%
state = fa.state_dict()
layers = dict(model.named_modules())
state["feedback"] = {name: layers[name].weight.data.copy() for name in state["feedback"]}
fa.load_state_dict(state)

x, y = mg.tensor(data.train.x[:256]), data.train.y[:256]
fa_updates = fa.updates(x, y)
bp_updates = rules.make("bp", model).updates(x, y)
worst = max(float(np.abs(fa_updates[k] - bp_updates[k]).max()) for k in bp_updates)
print("largest |FA - backprop| over all parameters:", worst)
print("weight alignment (angle between B and W, degrees):", weight_alignment(fa))
print("update alignment (degrees):",
      {k: round(v["angle"], 3) for k, v in update_alignment(fa, model, x, y).items()})
assert worst <= 1e-7

# %% [markdown]
# The difference is exactly zero: the two rules do the same float32
# operations in the same order. Every FA result below is therefore about one
# thing only -- what changes when the feedback is random.
#
# ## 4. Training with random feedback
#
# Three rules train the same network from the same initial weights on
# Fashion-MNIST: backprop (`bp`), feedback alignment (`fa`, with fresh random
# $B$ drawn on the scale of the initial weights), and the control `shallow`,
# which trains only the last layer. A rule that does no better than
# `shallow` has not taught its hidden layers anything.
#
# A `Recorder` wraps `rule.step`: every few steps it also computes backprop's
# gradient at the same weights on the same batch and stores the **update
# alignment** (the angle between the update the rule applied and backprop's
# gradient, per parameter, per batch) and the **weight alignment** (the
# angle between each $B$ and the $W$ it stands in for; 90° is what two
# independent random matrices give).

# %%
EPOCHS = pick(2, 8)
RECORD_EVERY = pick(5, 25)


def accuracy(rule, split):
    with mg.no_grad():
        scores = rule.predict(mg.tensor(split.x)).data
    return float((scores.argmax(axis=1) == split.y).mean())


def train(rule_name):
    model = new_model()
    rule = rules.make(rule_name, model, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = mg.data.DataLoader(data.train, batch_size=64, shuffle=True, seed=0)
    recorder = Recorder(every=RECORD_EVERY, measures=("update", "weight"))
    accuracies = [accuracy(rule, data.test)]
    for epoch in range(EPOCHS):
        for xb, yb in loader:
            recorder.step(rule, opt, xb, yb)
        accuracies.append(accuracy(rule, data.test))
    return rule, recorder.records, accuracies


runs = {name: train(name) for name in ["bp", "fa", "shallow"]}
for name, (rule, records, accs) in runs.items():
    print(f"{name:8s} test accuracy after each epoch: {np.round(accs[1:], 3)}")

# %%
fa_rule, fa_records, _ = runs["fa"]
steps = np.array([r["step"] for r in fa_records])
update_angle = {k: np.array([r["update"][k]["angle"] for r in fa_records])
                for k in ["1.weight", "3.weight", "5.weight"]}
weight_angle = {k: np.array([r["weight"][k] for r in fa_records]) for k in ["3", "5"]}
first, last = slice(0, 3), slice(-5, None)
for k, v in update_angle.items():
    print(f"FA update angle of {k}: first records {v[first].mean():5.1f} deg, "
          f"last records {v[last].mean():5.1f} deg")
for k, v in weight_angle.items():
    print(f"FA weight alignment of layer {k}: start {v[0]:5.1f} deg, end {v[-1]:5.1f} deg")


def smooth(v, width=5):
    """A running mean over `width` records (the per-batch angles are noisy)."""
    width = min(width, len(v))
    return np.convolve(v, np.ones(width) / width, mode="valid"), width


fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
names = {"1.weight": "W1 (first hidden)", "3.weight": "W2 (second hidden)",
         "5.weight": "W3 (output)", "3": "B2 vs W2", "5": "B3 vs W3"}
for i, (k, v) in enumerate(update_angle.items()):
    axes[0].plot(steps, v, ".", color=f"C{i}", alpha=0.25, ms=3)
    s, w = smooth(v)
    axes[0].plot(steps[w - 1:], s, color=f"C{i}", label=names[k])
axes[0].set_title("update alignment of FA (dots: per batch;\nline: running mean)")
axes[0].set_ylabel("angle to backprop's gradient (degrees)")
for i, (k, v) in enumerate(weight_angle.items()):
    axes[1].plot(steps, v, color=f"C{i + 1}", label=names[k])
axes[1].set_title("weight alignment of FA:\nangle between W and its feedback")
axes[1].set_ylabel("angle (degrees)")
for ax in axes[:2]:
    ax.axhline(90, color="gray", ls="--", lw=0.8, label="90° (chance)")
    ax.set_xlabel("training step (batches of 64)")
    ax.set_ylim(-3, 100)
    ax.legend(fontsize=8)
for name, (_, _, accs) in runs.items():
    axes[2].plot(range(1, len(accs)), 100 * np.array(accs[1:]), "o-", label=name)
axes[2].set_xticks(range(1, EPOCHS + 1))
axes[2].set_xlabel("epoch")
axes[2].set_ylabel("test accuracy (%)")
axes[2].set_title(f"Fashion-MNIST, {len(data.train)} training examples")
axes[2].legend()
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()
save_figure(fig, "06_fa_alignment")

# %% [markdown]
# **Reading the figure.** The output layer's update is always backprop's
# (0°): it learns from $e$ itself. The hidden layers' updates start near 90°
# -- at initialisation a random $B$ carries no information about $W$ -- and
# fall below it as training goes on: every update then has a positive
# component along the true gradient, so a small enough step lowers the loss. In full mode
# (2,500 steps) both hidden layers end near 43°; the short fast-mode run
# shows only the start of the fall. The weight alignment falls too: in full
# mode to about 49° for the output layer ($B_3$ vs $W_3$), but only to about
# 83° for the square 128×128 layer, whose large random initial weights
# dominate -- its *updates* align well all the same. In full mode FA's
# accuracy (84.9%) lands close to backprop's (86.8%) and far above
# `shallow`'s (76.8%): the hidden layers did learn.
#
# ## 5. Why alignment happens
#
# Take the last hidden layer $h$ and the output weights $W$ ($e$ the output
# error, $B$ the feedback standing for $W^\top$, paper notation). FA's
# update of the layers below moves $h$ along $-B e$: after a step on an
# example, its hidden activity has changed by about $-\eta' B e$. The output
# layer's own update is $-\eta\, e\, h^\top$; as $h$ accumulates these
# $-\eta' B e$ pieces, $W$ accumulates $+\eta\eta'\, e\, e^\top B^\top$. Summed
# over training, the part of $W$ that was *learned* has the form $P B^\top$
# with $P$ a sum of outer products $e e^\top$ -- a positive semi-definite
# matrix:
#
# $$W \approx W^{(0)} + P B^\top,\; P \succeq 0
#   \;\Longrightarrow\;
#   \underbrace{W^\top e}_{\text{backprop}} \approx W^{(0)\top} e + B\,(P e),
#   \qquad (Be)^\top B (Pe) \approx c\; e^\top P e \;\ge\; 0 .$$
#
# Backprop's signal becomes $B$ applied to a *reshaped* error $Pe$, which is
# never more than 90° from $e$; when $B^\top B \approx c I$ (a random $B$ with
# more rows than columns), FA's signal $Be$ and backprop's $B(Pe)$ are then
# within 90° of each other, and closer as the learned part $PB^\top$ outgrows
# the random start $W^{(0)}$. The forward weights come to lie in the span
# that makes $B$ act like $W^\top$: the *weights* align with the feedback,
# not the other way round. (Lillicrap et al. make the argument precise for
# linear networks.)
#
# We can test the equation on the trained network: fit the learned change
# of the output weights, $\Delta W_3 = W_3 - W_3^{(0)}$, by $P B_3^\top$ with
# least squares, and look at the fraction of $\Delta W_3$ it explains and at
# the eigenvalues of $P$'s symmetric part. (In the code's storage $B_3$ has
# $W_3$'s shape, so the fit is $\Delta W_3 \approx P\, B_3^{\text{code}}$.)

# %%
W3_start = dict(new_model().named_modules())["5"].weight.data          # the same start
W3_end = dict(fa_rule.model.named_modules())["5"].weight.data
B3 = fa_rule.feedback["5"]
dW3 = (W3_end - W3_start).astype(np.float64)
P = dW3 @ np.linalg.pinv(B3.astype(np.float64))          # least squares: dW3 ~ P B3
explained = 1 - np.linalg.norm(dW3 - P @ B3) ** 2 / np.linalg.norm(dW3) ** 2
eigenvalues = np.linalg.eigvalsh((P + P.T) / 2)
print(f"fraction of |dW3|^2 explained by P B3: {explained:.2f} "
      f"(for a random 10x128 matrix in place of dW3: about {10 / 128:.2f})")
print("eigenvalues of (P + P^T)/2:", eigenvalues)
print(f"angle(dW3, B3) = {rules.angle(dW3, B3):.1f} deg,  angle(W3, B3) = "
      f"{rules.angle(W3_end, B3):.1f} deg")

# %% [markdown]
# In full mode $P B_3$ explains 59% of what the output layer learned (of a
# random matrix of the same shape it would explain about $10/128 = 8\%$: the
# share of a random 128-vector that falls in the 10 directions of $B_3$'s
# rows), and $P$'s eigenvalues are all positive but one, which is close to
# zero ($-0.03$). That one has a reason: softmax cross-entropy errors always
# sum to zero over the classes, $e \perp (1,\dots,1)$, so nothing is ever
# learned along that direction. The learned change $\Delta W_3$ is also
# closer to $B_3$ than $W_3$ itself is: the random start $W_3^{(0)}$ is what
# keeps the weight alignment from reaching 0°. (After the short fast-mode
# run the learned part is still small and the fit is weaker.)
#
# ## Summary
#
# * Backprop's backward pass reuses the forward weights, transposed: the
#   weight-transport problem.
# * Feedback alignment sends the error through fixed random matrices
#   instead; with $B$ standing exactly for $W^\top$ it is backprop, bit for bit.
# * With random $B$ the hidden updates start at 90° from the gradient and
#   quickly turn below it, because the forward weights learn a component
#   $PB^\top$ that makes $B$ act like $W^\top$.
#
# Lesson 7 sends the output error straight to every layer (DFA), keeps only
# the signs of $W$ (sign symmetry), or lets $B$ learn too (Kolen-Pollack,
# product feedback alignment).
#
# ## Exercises

# %% [markdown]
# **1.** Write FA's error for a hidden **ReLU** layer in the code's row
# convention: given the error rows of the layer above `D_next` ($N \times$
# outputs), that layer's feedback `B` (stored in its $W$'s shape, outputs ×
# inputs) and this layer's pre-activations `A` ($N \times$ inputs), return
# $D = (D_{\text{next}} B) \odot \operatorname{relu}'(A)$, with
# $\operatorname{relu}'(0) = 0$.

# %%
def fa_delta_relu(D_next, B, A):
    return None   # your code here


answer = None   # set answer = fa_delta_relu when it is written
exercise(check_fa_delta_relu, answer)

# %% [markdown]
# **2.** Flip every feedback matrix: $B = -W$ for both hidden-layer
# feedbacks of the lesson's 3-layer MLP (set them as in section 3). Predict,
# without running it, the angle between FA's update and backprop's gradient
# for each weight. Answer with a dict `{"1.weight": ..., "3.weight": ...,
# "5.weight": ...}` in degrees (then check your prediction with
# `update_alignment(fa, model, x, y)`).

# %%
answer = None   # your answer here: {"1.weight": ?, "3.weight": ?, "5.weight": ?}
exercise(check_flipped_feedback, answer)

# %% [markdown]
# **3.** Now make only the *output* layer's feedback exact, $B_3 = W_3$ (key
# `"5"`), and leave $B_2$ (key `"3"`) random. Which parameters' updates equal
# backprop's? Answer with the set of parameter names, e.g. `{"5.weight",
# "5.bias"}`.

# %%
answer = None   # your answer here: a set of parameter names
exercise(check_exact_layers, answer)
