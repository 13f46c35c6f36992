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
# # Lesson 8: Forward-Forward
#
# Backprop needs a backward pass that carries exact error derivatives from the
# output down through every layer. Hinton (2022, "The Forward-Forward
# Algorithm: Some Preliminary Investigations") replaces it with **two forward
# passes**: one on *positive* (real) data and one on *negative* data, and gives
# every layer its own objective -- be "good" on positive data and "bad" on
# negative data. No error ever travels from one layer into the one before it.
#
# **You will learn**
# * the goodness $G = \sum_j h_j^2$, the probability $p(\text{positive}) =
#   \sigma(G - \theta)$ and the per-layer logistic loss;
# * how supervised FF builds positive and negative data by writing a label
#   over the image (right label: positive, wrong label: negative);
# * why the activity is length-normalised between layers, and why no gradient
#   crosses from a layer into the one below;
# * two ways to predict: scanning the labels and a linear read-out;
# * collaborative FF (Lorberbom et al. 2024), and how both compare with
#   backprop on the same network -- including how many more epochs FF needs.
#
# **Prerequisites:** backprop and the cross-entropy loss, minigrad's rule
# interface (`mg.rules.make`, `rule.updates`, `rule.step`).
#
# **Run time:** under 15 s in fast mode (`MINIGRAD_FAST=1`), two to three minutes in
# full mode.

# %%
import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from minigrad.rules.forward_forward import (ff_loss, goodness, length_normalize,
                                            negative_labels, overlay_labels)
from _course import FAST, pick, save_figure, fashion_mnist, exercise
from checks.lesson08 import check_ff_loss, check_normalized_goodness, check_negative_labels

mg.manual_seed(0)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. Goodness and the per-layer loss
#
# A hidden layer with activity $h = \mathrm{relu}(W x + b)$ measures its
# **goodness** as the sum of squared activities, and turns it into the
# probability that its input is positive data (Hinton 2022, eq. 1):
#
# $$G = \sum_j h_j^2, \qquad p(\text{positive}) = \sigma\Big(\sum_j h_j^2 - \theta\Big),$$
#
# with a threshold $\theta$ (minigrad's default: the layer's width, i.e. a mean
# squared activity of 1). On a batch of $N$ positive and $N$ negative examples
# the layer minimises the logistic loss
#
# $$L = \frac1N\sum_{\text{pos}} -\log\sigma(G^+ - \theta) \;+\;
#       \frac1N\sum_{\text{neg}} -\log\big(1 - \sigma(G^- - \theta)\big)
#     = \overline{\mathrm{softplus}(-(G^+ - \theta))} + \overline{\mathrm{softplus}(G^- - \theta)}.$$
#
# minigrad's `goodness(h)` and `ff_loss(z_pos, z_neg)` (with $z = G - \theta$)
# are these two lines. We check them against NumPy on a few random activities.

# %%
rng = np.random.default_rng(0)
theta = 4.0
h_pos = mg.tensor(np.abs(rng.normal(size=(5, 4))) * 1.5)   # 5 "positive" examples, 4 units
h_neg = mg.tensor(np.abs(rng.normal(size=(5, 4))) * 0.5)   # 5 "negative" examples

g_pos, g_neg = goodness(h_pos), goodness(h_neg)            # G = sum_j h_j^2, one per example
p_pos = 1 / (1 + np.exp(-(g_pos.data - theta)))            # p(positive) of the positives
p_neg = 1 / (1 + np.exp(-(g_neg.data - theta)))            # ... and of the negatives
by_hand = np.mean(-np.log(p_pos)) + np.mean(-np.log(1 - p_neg))
loss = ff_loss(g_pos - theta, g_neg - theta)

print("G+ =", g_pos.data, "  p(positive) =", p_pos)
print("G- =", g_neg.data, "  p(positive) =", p_neg)
print(f"loss: minigrad {loss.item():.6f}, by hand {by_hand:.6f}")
assert np.allclose(g_pos.data, (h_pos.data ** 2).sum(axis=1))
assert abs(loss.item() - by_hand) < 1e-5

# %% [markdown]
# ## 2. Positive and negative data: the label overlay
#
# In the supervised variant (section 3.3 of the paper) the label is *part of
# the input*: the first $C$ input features (here the first 10 pixels of the top
# row) are replaced by a one-hot code of a label.
#
# * **positive data:** the image with its **true** label;
# * **negative data:** the same image with a **wrong** label, $(y + k) \bmod C$
#   with $k$ uniform in $1, \dots, C-1$ -- never the true label, every wrong one
#   equally likely.
#
# A layer can only tell the two apart by relating the label to the image: that
# is what makes it learn features useful for classification. The height of the
# label is a choice. Hinton's MNIST pixels lie in $[0, 1]$ and so does his
# label; our standardised Fashion-MNIST pixels reach about 2, and we write the
# label at `LABEL = 10` so that 10 of 784 inputs are loud enough for the first
# layer to notice early (minigrad's default, `label_value=None`, uses the
# brightest input; in our tries it learned too, but more slowly: try it).

# %%
C = 10
LABEL = 10.0
data = fashion_mnist(pick(600, 5000), pick(300, 2000))
x_train = data.train.x.reshape(len(data.train.x), -1)     # (N, 784) arrays
x_test = data.test.x.reshape(len(data.test.x), -1)
y_train, y_test = data.train.y, data.test.y
print(data, " brightest pixel:", float(x_train.max()))

wrong = negative_labels(y_train, C, np.random.default_rng(0))
assert not np.any(wrong == y_train)                       # never the true label
pos = overlay_labels(x_train[:4], y_train[:4], C, LABEL)
neg = overlay_labels(x_train[:4], wrong[:4], C, LABEL)
print("true labels  ", y_train[:4], "\nwrong labels ", wrong[:4])
print("first 12 inputs of example 0, positive:", pos[0, :12].round(2))
print("first 12 inputs of example 0, negative:", neg[0, :12].round(2))

# %%
names = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
         "sneaker", "bag", "boot"]
fig, axes = plt.subplots(2, 4, figsize=(9, 4.8))
for i in range(4):
    for row, (rows, labels, kind) in enumerate([(pos, y_train, "positive"),
                                                (neg, wrong, "negative")]):
        ax = axes[row, i]
        ax.imshow(rows[i].reshape(28, 28), cmap="gray", vmin=-1, vmax=LABEL / 3)
        ax.add_patch(plt.Rectangle((-0.5, -0.5), C, 1, fill=False, ec="red", lw=1.2))
        ax.set_title(f"{kind}: label '{names[labels[i]]}'", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
fig.suptitle("Label overlay: one-hot label in the first 10 pixels (red box)\n"
             "top: true label (positive data), bottom: wrong label (negative data)")
fig.tight_layout()
save_figure(fig, "08_label_overlay")

# %% [markdown]
# ## 3. Length normalisation: hide the goodness from the next layer
#
# If layer 2 received $h_1$ as it is, it could judge "positive or negative"
# just by reading how large $h_1$ is -- the decision layer 1 already made --
# and learn nothing new. So FF passes on only the **direction** of the
# activity:
#
# $$\hat h = \frac{h}{\sqrt{\tfrac1n \sum_j h_j^2} + \varepsilon}
#   \qquad\Rightarrow\qquad \sum_j \hat h_j^2 = n \text{ for every input}$$
#
# (Hinton normalises to unit length; minigrad to unit root-mean-square, the
# same up to the constant $\sqrt n$.) Every example then has the same goodness
# at the next layer's input, and only the *pattern* of activity is left.
# And the normalised activity is **detached**: layer 2's loss cannot send a
# gradient into layer 1.

# %%
h = mg.tensor(np.abs(rng.normal(size=(3, 256))) * np.array([[0.2], [1.0], [5.0]]))
h_hat = length_normalize(h)
print("goodness before normalising:", goodness(h).data)
print("goodness after normalising: ", goodness(h_hat).data)
assert np.allclose(goodness(h_hat).data, 256, rtol=1e-5)

# %% [markdown]
# ## 4. One FF step, written out by hand
#
# The model is an ordinary `mlp([784, 256, 256, 10])`: two hidden ReLU layers
# are the FF layers, the last Linear is the read-out (section 5). `rule.updates`
# gives each layer the gradient of **its own** loss $L_\ell$ only:
#
# $$\Delta W_\ell = -\eta\, \frac{\partial L_\ell}{\partial W_\ell}, \qquad
#   L_\ell = \overline{\mathrm{softplus}(-(G^+_\ell - \theta_\ell))}
#          + \overline{\mathrm{softplus}(G^-_\ell - \theta_\ell)},\qquad
#   G_\ell = \big\|\mathrm{relu}(W_\ell \hat h_{\ell-1} + b_\ell)\big\|^2,$$
#
# where $\hat h_{\ell-1}$ is the normalised, detached activity of the layer
# below ($\hat h_0$ = the overlaid image). We redo one step by hand with the
# engine's `mg.autograd.grad` on each layer's loss alone, using the wrong
# labels the rule drew (`rule.last_negative_labels`), and compare.

# %%
def new_model(seed=0):
    return mg.nn.mlp([784, 256, 256, C], "relu", generator=np.random.default_rng(seed))


model = new_model()
rule = mg.rules.make("ff", model, seed=0, label_value=LABEL)
layers = [m for m in model if isinstance(m, mg.nn.Linear)]    # hidden 1, hidden 2, read-out
ff_names = [name for name, _, _ in rule.ff_blocks]             # the FF layers' names in the model
print("FF layers:", ff_names, " thresholds:", rule.thresholds)

xb, yb = x_train[:64], y_train[:64]
ups = rule.updates(mg.tensor(xb), yb)                      # the rule's updates
wrong_b = rule.last_negative_labels                        # the negative labels it drew

rows = mg.tensor(np.concatenate([overlay_labels(xb, yb, C, LABEL),     # N positive rows
                                 overlay_labels(xb, wrong_b, C, LABEL)]))  # N negative rows
n = len(xb)
for k, (layer, name) in enumerate(zip(layers[:2], ff_names)):
    a = mg.relu(layer(rows))                                # h_l on 2N rows
    g = goodness(a)
    loss_l = ff_loss(g[:n] - rule.thresholds[k], g[n:] - rule.thresholds[k])
    dW, db = mg.autograd.grad(loss_l, [layer.weight, layer.bias])
    diff = max(np.abs(dW.data - ups[f"{name}.weight"]).max(),
               np.abs(db.data - ups[f"{name}.bias"]).max())
    print(f"hidden layer {k + 1} (model[{name}]): L = {loss_l.item():.2f}, "
          f"max |by hand - rule| = {diff:.2e}")
    assert diff < 1e-5
    rows = length_normalize(a).detach()                     # the next layer's input
print("mean goodness (positive, negative) per layer:", rule.last_goodness)

# %% [markdown]
# The hand computation of layer 2 starts from `length_normalize(a).detach()`:
# whatever layer 2's loss wants, it has no path into $W_1$. Each layer is a
# small logistic-regression problem of its own, solved on the fly -- which is
# also why minigrad can free layer 1's activations before layer 2 runs.
#
# ## 5. Predicting: label scan or read-out
#
# **Label scan** (the paper's main method): run the image once with each of
# the $C$ labels overlaid, add up the goodness of every layer **but the first**
# (as Hinton does), and pick the label with the most:
#
# $$\hat y = \arg\max_c \sum_{\ell \ge 2} G_\ell(x \text{ with label } c).$$
#
# $C$ forward passes per image. **Linear read-out** (the cheaper alternative):
# one pass with a *neutral* label ($\text{LABEL}/C$ in every slot), then a
# softmax classifier on the normalised activities of the layers but the first,
# trained with cross-entropy on detached inputs (minigrad trains it during every
# FF step: with two hidden layers it is the model's last Linear on $\hat h_2$).
# Here are both, written with the model's own layers.

# %%
def linear_layers(net):
    """The Linear layers of an mlp: hidden 1, hidden 2, read-out."""
    return [m for m in net if isinstance(m, mg.nn.Linear)]


def hidden_activities(net, x_rows):
    """[h1, h2]: the FF forward pass, normalising (and cutting) between layers."""
    acts, h = [], mg.tensor(x_rows)
    with mg.no_grad():
        for layer in linear_layers(net)[:2]:
            a = mg.relu(layer(h))
            acts.append(a)
            h = length_normalize(a)
    return acts


def label_scan(net, x_rows, first_layer_too=False):
    """(N, C) scores: the goodness summed over the layers (but the first)."""
    scores = np.zeros((len(x_rows), C))
    for c in range(C):
        rows_c = overlay_labels(x_rows, np.full(len(x_rows), c), C, LABEL)
        acts = hidden_activities(net, rows_c)
        used = acts if first_layer_too else acts[1:]
        scores[:, c] = sum(goodness(a).data for a in used)
    return scores


def readout(net, x_rows):
    """(N, C) logits of the read-out under the neutral label."""
    h2 = hidden_activities(net, overlay_labels(x_rows, None, C, LABEL))[-1]
    with mg.no_grad():
        return linear_layers(net)[2](length_normalize(h2)).data


scan_diff = np.abs(label_scan(model, x_test[:50])
                   - rule.predict(mg.tensor(x_test[:50])).data).max()
by_rule = rule.predict(mg.tensor(x_test[:50]), prediction="readout").data   # the same rule
read_diff = np.abs(readout(model, x_test[:50]) - by_rule).max()
print(f"label scan: max |by hand - rule.predict| = {scan_diff:.2e}")
print(f"read-out:   max |by hand - rule.predict| = {read_diff:.2e}")
assert scan_diff < 1e-2 and read_diff < 1e-5    # goodness sums are ~1e3: float32 rounding

# %% [markdown]
# ## 6. Collaborative Forward-Forward
#
# In plain FF each layer decides alone, so a lower layer never learns what
# would help the layers above it. Lorberbom, Gat, Adi, Schwing & Hazan (2024,
# "Layer Collaboration in the Forward-Forward Algorithm", AAAI) let every layer
# judge positivity by the goodness of the **whole network**, its own term live
# and the others' held fixed (sg = stop-gradient):
#
# $$p_\ell(\text{positive}) = \sigma\Big(G_\ell + \sum_{k \ne \ell} \mathrm{sg}(G_k)
#    - \sum_k \theta_k\Big).$$
#
# Still no gradient crosses a layer -- $\partial L_\ell / \partial W_\ell$ only --
# but each layer's loss now depends on how the others do. The label scan then
# sums every layer, the first included (that total is what it trains). The
# price: every layer's goodness must be known before any layer learns, so the
# whole network's activations are alive at once, as in backprop.
#
# ## 7. Training: plain FF, collaborative FF and backprop
#
# Same network, same initial weights, same data order, Adam with a cosine
# schedule. During FF training we record each layer's mean goodness on the
# positive and negative data of every batch (`rule.last_goodness`), and after
# every epoch the test accuracy of the label scan (the first layer included for
# collaborative FF, as it trains) and of the read-out.

# %%
EPOCHS = pick(3, 40)
BATCH = 64


def train(rule_name, **options):
    """Train a fresh model with one rule; return per-epoch curves."""
    net = new_model()
    r = mg.rules.make(rule_name, net, seed=0, **options)
    opt = mg.optim.Adam(list(net.parameters()) + list(r.parameters()), lr=1e-3)
    schedule = mg.optim.CosineAnnealingLR(opt, T_max=EPOCHS)
    loader = mg.data.DataLoader(mg.data.Dataset(x_train, y_train), batch_size=BATCH,
                                shuffle=True, seed=0)
    curves = {"scan": [], "readout": [], "bp": [], "good": []}
    for epoch in range(EPOCHS):
        per_step = []
        for x, y in loader:
            r.step(x, y, opt)
            if rule_name == "ff":
                per_step.append(list(r.last_goodness.values()))   # per layer: (pos, neg)
        schedule.step()
        if rule_name == "ff":
            curves["good"].append(np.mean(per_step, axis=0))
            both = options.get("collaborative", False)
            curves["scan"].append(np.mean(label_scan(net, x_test, both).argmax(1) == y_test))
            curves["readout"].append(np.mean(readout(net, x_test).argmax(1) == y_test))
        else:
            with mg.no_grad():
                curves["bp"].append(np.mean(net(mg.tensor(x_test)).data.argmax(1) == y_test))
    return curves


runs = {"bp": train("bp"),
        "FF": train("ff", label_value=LABEL),
        "collaborative FF": train("ff", label_value=LABEL, collaborative=True)}
print(f"test accuracy after {EPOCHS} epochs ({len(x_train)} training images):")
print(f"  backprop                      {runs['bp']['bp'][-1]:.3f}")
for name in ("FF", "collaborative FF"):
    print(f"  {name:17s} label scan  {runs[name]['scan'][-1]:.3f}   "
          f"read-out {runs[name]['readout'][-1]:.3f}")

# %% [markdown]
# ## 8. What each layer learned: goodness on positive vs negative data
#
# A layer learns when its goodness on positive data (solid) climbs above its
# goodness on negative data (dashed). Plain FF pushes each layer across its own
# threshold $\theta = 256$ (dotted), where $p(\text{positive}) = 1/2$.
# Collaborative FF only asks the **sum** over the layers to cross
# $\theta_1 + \theta_2$ (right panel): a single layer may sit wholly below its
# own $\theta$ and still contribute the gap between positive and negative.

# %%
epochs = np.arange(1, EPOCHS + 1)
panels = [(0, "hidden layer 1", rule.thresholds[0]), (1, "hidden layer 2", rule.thresholds[1]),
          (None, "sum of both layers", sum(rule.thresholds))]
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
for ax, (k, title, threshold) in zip(axes, panels):
    for name, color in [("FF", "C0"), ("collaborative FF", "C3")]:
        good = np.array(runs[name]["good"])              # (epoch, layer, pos/neg)
        g = good.sum(axis=1) if k is None else good[:, k]
        ax.plot(epochs, g[:, 0], "-", color=color, label=f"{name}: positive")
        ax.plot(epochs, g[:, 1], "--", color=color, label=f"{name}: negative")
    ax.axhline(threshold, color="gray", ls=":", label="threshold")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"mean goodness $G = \sum_j h_j^2$")
    ax.grid(alpha=0.3)
axes[2].legend(fontsize=8)
fig.suptitle("Goodness on positive (true label) vs negative (wrong label) training data, "
             "mean per epoch")
fig.tight_layout()
save_figure(fig, "08_goodness")

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(epochs, runs["bp"]["bp"], "k-", lw=2, label="backprop (same MLP)")
for name, color in [("FF", "C0"), ("collaborative FF", "C3")]:
    ax.plot(epochs, runs[name]["scan"], "-", color=color, label=f"{name}: label scan")
    ax.plot(epochs, runs[name]["readout"], "--", color=color, label=f"{name}: linear read-out")
ax.axhline(0.1, color="gray", ls=":", label="chance")
ax.set_xlabel("epoch")
ax.set_ylabel(f"test accuracy ({len(x_test)} images)")
ax.set_ylim(0, 1)
ax.set_title(f"Fashion-MNIST, {len(x_train)} training images, mlp 784-256-256-10")
ax.legend(loc="lower right", fontsize=9)
ax.grid(alpha=0.3)
save_figure(fig, "08_accuracy")

target = runs["bp"]["bp"][0]
print(f"epochs to reach backprop's accuracy after one epoch ({target:.3f}):")
for name, key in [("bp", "bp"), ("FF", "scan"), ("FF", "readout"),
                  ("collaborative FF", "scan"), ("collaborative FF", "readout")]:
    reached = [e for e, acc in zip(epochs, runs[name][key]) if acc >= target]
    when = f"epoch {reached[0]}" if reached else f"not within {EPOCHS} epochs"
    print(f"  {name:17s} {key:8s} {when}")

# %% [markdown]
# ## 9. What to take away
#
# * Each FF layer solves its own logistic-regression problem on its goodness;
#   length normalisation and the detach make the layers independent: no
#   derivative ever travels backward, and a layer needs only its own
#   activations to learn (lesson 9 measures what that saves).
# * **FF needs many more epochs than backprop.** In full mode backprop scores
#   0.802 after one epoch and 0.854 after 40; plain FF's label scan first
#   reaches 0.802 at epoch 17 (its read-out at epoch 11) and ends at 0.824
#   (read-out 0.828), below backprop. Hinton (2022)
#   reports the same on MNIST: FF reached 1.36 % test error after 60 epochs,
#   backprop similar performance in about 20. One reason: each layer learns
#   from a yes/no question (is this label the right one?) asked about one
#   wrong label at a time, a much weaker signal than the full softmax error
#   that backprop sends to every layer.
# * The label scan costs $C$ forward passes per image; the read-out one.
# * Collaborative FF makes a layer's loss depend on the others' goodness. In
#   full mode its label scan reaches 0.802 sooner (epoch 13) and ends a little
#   higher (0.830), its read-out lower (0.799); it keeps every layer's
#   activations at once.
#
# Things to try: `label_value=None` (the brightest pixel), three hidden
# layers, `peer_normalization=0.03`, or `goodness="mean_squares"`.
#
# ## Exercises

# %%
# 1. Write the per-layer FF loss: a function of the goodness of the positive
#    rows, of the negative rows (1-D NumPy arrays) and the threshold theta,
#    returning mean(-log sigma(G+ - theta)) + mean(-log(1 - sigma(G- - theta))).
#    Use a numerically stable form (np.logaddexp(0, z) = log(1 + e^z)).
answer = None   # your answer here: a function (g_pos, g_neg, theta) -> float
exercise(check_ff_loss, answer)

# %%
# 2. A hidden layer of 256 units passes length_normalize(h) to the next layer.
#    What is the goodness sum_j h_hat_j^2 of that normalised activity, for any
#    input (that does not switch every unit off)?
answer = None   # your answer here: a number
exercise(check_normalized_goodness, answer)

# %%
# 3. Write your own negative labels: a function (y, C, rng) -> array of wrong
#    labels, one per example, never equal to y and uniform over the C - 1 wrong
#    classes (rng is a np.random.Generator; use only it for randomness).
answer = None   # your answer here: a function (y, num_classes, rng) -> array
exercise(check_negative_labels, answer)
