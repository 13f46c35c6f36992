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
# # Lesson 5: Training a real model
#
# So far the networks were small and the data synthetic. Here we train two
# classic architectures -- a multi-layer perceptron and LeNet-5 -- on
# Fashion-MNIST, with the whole training loop written out, and compare three
# optimizers from the same starting weights.
#
# **You will learn**
#
# * the training loop, line by line: data loader, forward pass, loss,
#   backward pass, optimizer step, evaluation;
# * what an MLP and a convolutional network (LeNet-5) compute, and their sizes;
# * SGD, SGD with momentum and Adam, their update equations, and how to
#   compare them from the same initial weights;
# * how to read training and test curves: underfitting, overfitting and the
#   gap between training and test error.
#
# **Prerequisites:** reverse mode and `backward` (the earlier lessons),
# `minigrad.nn` layers.
#
# **Run time:** about 10 s in fast mode (a few hundred examples, one epoch);
# about 1-2 minutes in full mode on 2 CPU cores. Full mode trains on the first
# **10,000** of Fashion-MNIST's 60,000 training images and tests on the first
# 2,000 test images: LeNet-5 is slow on a CPU (its convolutions are matrix
# products over every 5×5 patch), so it gets 4 epochs, the MLP 15. These are
# not the numbers of a full training run (`minigrad train --data fashion-mnist
# --model lenet5` trains on everything for 15 epochs).
#
# **Reading.** H. Xiao, K. Rasul & R. Vollgraf (2017), "Fashion-MNIST: a novel
# image dataset for benchmarking machine learning algorithms", arXiv:1708.07747.
# Y. LeCun, L. Bottou, Y. Bengio & P. Haffner (1998), "Gradient-based learning
# applied to document recognition", *Proc. IEEE* 86(11):2278-2324.
# D. P. Kingma & J. Ba (2015), "Adam: a method for stochastic optimization",
# ICLR. I. Sutskever, J. Martens, G. Dahl & G. Hinton (2013), "On the
# importance of initialization and momentum in deep learning", ICML.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from minigrad import nn, optim
from minigrad.train import Run, TrainConfig, evaluate
from _course import FAST, pick, save_figure, fashion_mnist, exercise
from checks.lesson05 import check_steps_per_epoch, check_momentum_step, check_adam_step

N_TRAIN, N_TEST = pick(500, 10_000), pick(200, 2_000)
EPOCHS = {"mlp": pick(1, 15), "lenet5": pick(1, 4)}
BATCH = 64
print("fast mode" if FAST else "full mode", f": {N_TRAIN} training and {N_TEST} test images")

# %% [markdown]
# ## 1. The data
#
# Fashion-MNIST (Xiao et al. 2017) has the format of MNIST -- 28×28 grey
# images, 10 classes, 60,000 for training and 10,000 for testing -- but shows
# clothes, which are harder to tell apart than digits. `fashion_mnist(n_train,
# n_test)` returns the first examples, standardised (zero mean, unit variance
# over the training pixels), as a `minigrad.data.Split`.

# %%
split = fashion_mnist(N_TRAIN, N_TEST)
print(split)
print("x:", split.train.x.shape, split.train.x.dtype, "  y:", split.train.y.shape, split.train.y.dtype)
print("examples per class in the training part:", np.bincount(split.train.y, minlength=10))

if split.name == "fashion-mnist":
    CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
else:                                       # the digits stand in (see the note above)
    CLASSES = [str(k) for k in range(10)]

fig, axes = plt.subplots(2, 8, figsize=(12, 3.6))
for ax, image, label in zip(axes.ravel(), split.train.x, split.train.y):
    ax.imshow(image[0], cmap="gray_r")
    ax.set_title(CLASSES[label], fontsize=9)
    ax.axis("off")
fig.suptitle(f"The first training images of {split.name} (standardised pixels)")
fig.tight_layout()
save_figure(fig, "05_examples")

# %% [markdown]
# ## 2. Two models
#
# **MLP.** `nn.mlp([784, 256, 128, 10], "relu")` flattens the image and applies
# $h_1 = \mathrm{relu}(W_1 x + b_1)$, $h_2 = \mathrm{relu}(W_2 h_1 + b_2)$,
# $z = W_3 h_2 + b_3$: ten class scores (logits). Every pixel is connected to
# every hidden unit; the model knows nothing about images.
#
# **LeNet-5** (LeCun et al. 1998), `nn.lenet5()`: two stages of a 5×5
# convolution, a ReLU and 2×2 max pooling, then three linear layers. A
# convolution applies the *same* small filter at every position,
#
# $$y_{c,i,j} = b_c + \sum_{c'}\sum_{p,q=0}^{4} K_{c,c',p,q}\; x_{c',\,i+p,\,j+q},$$
#
# so it has few parameters and responds to a pattern wherever it appears.
# Run one batch through each model layer by layer to see the shapes:

# %%
N_PIXELS = int(np.prod(split.input_shape))          # 784 = 28 x 28
ARCHS = ["mlp", "lenet5"] if split.input_shape[-1] >= 12 else ["mlp"]
if "lenet5" not in ARCHS:
    print("note: LeNet-5 needs images of at least 12x12; only the MLP is trained")


def build(arch, seed=0):
    """The model `arch` with weights drawn from the seeded generator."""
    rng = np.random.default_rng(seed)
    if arch == "mlp":
        return nn.mlp([N_PIXELS, 256, 128, 10], "relu", generator=rng)
    return nn.lenet5(in_channels=1, num_classes=10, input_size=split.input_shape[-1],
                     generator=rng)


x_batch = mg.tensor(split.train.x[:BATCH])
for arch in ARCHS:
    model = build(arch)
    print(f"{arch}: {model.num_parameters():,} parameters")
    h = x_batch
    for layer in model:
        h = layer(h)
        print(f"    {type(layer).__name__:10s} -> {h.shape}")

# %% [markdown]
# ## 3. The training loop, written out
#
# One **step** on a mini-batch $\{(x_i, y_i)\}_{i=1}^{B}$:
#
# 1. **forward:** the scores $z_i = f(x_i; w)$;
# 2. **loss:** the mean cross-entropy
#    $L(w) = -\frac{1}{B}\sum_i \log \mathrm{softmax}(z_i)_{y_i}$;
# 3. **backward:** `loss.backward()` puts $\partial L/\partial w$ in each
#    parameter's `.grad` (after `zero_grad()` cleared the last batch's);
# 4. **optimizer step:** e.g. SGD, $w \leftarrow w - \eta\,\nabla_w L$.
#
# An **epoch** is one pass over the training set in a new random order (the
# `DataLoader` draws it from its own seeded generator, so runs repeat
# exactly). After each epoch we **evaluate** on the test set, under
# `mg.no_grad()` (no graph is needed) and with `model.eval()` (layers such as
# dropout and batch norm behave differently at test time; these two models
# have none, but the habit matters).

# %%
def train_one_epoch(model, loader, optimizer):
    """One pass over `loader`; returns the mean training loss and error
    (measured on each batch as it was trained, so with weights that change
    during the epoch)."""
    model.train()
    total_loss, mistakes, count = 0.0, 0, 0
    for x, y in loader:
        scores = model(x)                         # 1. forward
        loss = mg.cross_entropy(scores, y)        # 2. loss (a scalar tensor)
        optimizer.zero_grad()                     # forget the last batch's gradients
        loss.backward()                           # 3. backward: p.grad for every p
        optimizer.step()                          # 4. update the weights
        total_loss += loss.item() * len(y)
        mistakes += int((scores.numpy().argmax(axis=1) != y.numpy()).sum())
        count += len(y)
    return total_loss / count, mistakes / count


def evaluate_model(model, loader):
    """Mean loss and error rate over `loader`, without training."""
    model.eval()
    total_loss, mistakes, count = 0.0, 0, 0
    with mg.no_grad():
        for x, y in loader:
            scores = model(x)
            total_loss += mg.cross_entropy(scores, y).item() * len(y)
            mistakes += int((scores.numpy().argmax(axis=1) != y.numpy()).sum())
            count += len(y)
    model.train()
    return total_loss / count, mistakes / count


test_loader = mg.data.DataLoader(split.test, batch_size=500)
model = build("mlp")
mine = evaluate_model(model, test_loader)
library = evaluate(model, test_loader, mg.cross_entropy, "classification")
print(f"untrained MLP: test loss {mine[0]:.4f}, error {mine[1]:.1%} "
      "(chance: loss ln 10 = 2.3026, error 90%)")
print(f"minigrad.train.evaluate agrees: loss {library[0]:.4f}, accuracy {library[1]:.1%}")
assert abs(mine[0] - library[0]) < 1e-9 and abs(mine[1] - (1 - library[1])) < 1e-12

# %% [markdown]
# ## 4. Three optimizers
#
# All three use the gradient $g_t = \nabla_w L$ of the current batch
# (minigrad's `optim` follows PyTorch's formulas):
#
# | optimizer | update | rate used here |
# | --- | --- | --- |
# | SGD (Robbins & Monro 1951) | $w \leftarrow w - \eta\, g_t$ | $\eta = 0.1$ |
# | SGD + momentum (Polyak 1964; Sutskever et al. 2013) | $b \leftarrow \mu b + g_t,\;\; w \leftarrow w - \eta\, b$ | $\eta = 0.02,\ \mu = 0.9$ |
# | Adam (Kingma & Ba 2015) | $m \leftarrow \beta_1 m + (1-\beta_1) g_t,\;\; v \leftarrow \beta_2 v + (1-\beta_2) g_t^2,$ $w \leftarrow w - \eta\, \dfrac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}$ | $\eta = 10^{-3}$ ($\beta_1 = 0.9,\ \beta_2 = 0.999,\ \epsilon = 10^{-8}$) |
#
# Momentum averages the gradients of past steps: on a steady slope its step is
# $\eta/(1-\mu) = 10\eta$, so $\eta = 0.02$ with $\mu = 0.9$ moves about as
# far per step as plain SGD with $\eta = 0.2$. Adam divides each coordinate by
# a running estimate of its gradient's size, so $\eta$ is roughly the step
# length per coordinate. The rates are common defaults, **not tuned** for this
# problem: a fair comparison would tune each optimizer's rate (lesson 12).
#
# To compare the optimizers and nothing else, every run starts from **the same
# initial weights** (a copy of the first model's, loaded into each) and sees
# the batches in **the same order** (a loader with the same seed).

# %%
OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.1),
    "SGD + momentum": lambda params: optim.SGD(params, lr=0.02, momentum=0.9),
    "Adam": lambda params: optim.Adam(params, lr=1e-3),
}


def train(arch, opt_name, initial_weights, epochs):
    """Train `arch` from `initial_weights` with optimizer `opt_name`; one row
    of losses and errors per epoch."""
    model = build(arch)
    model.load_state_dict(initial_weights)            # the same start for every run
    optimizer = OPTIMIZERS[opt_name](model.parameters())
    loader = mg.data.DataLoader(split.train, batch_size=BATCH, shuffle=True, seed=0)
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_loss, train_error = train_one_epoch(model, loader, optimizer)
        test_loss, test_error = evaluate_model(model, test_loader)
        history.append({"epoch": epoch, "train_loss": train_loss, "train_error": train_error,
                        "test_loss": test_loss, "test_error": test_error})
        print(f"  {arch} {opt_name:15s} epoch {epoch:2d}: train loss {train_loss:.4f} "
              f"error {train_error:6.1%} | test loss {test_loss:.4f} error {test_error:6.1%}"
              f"  ({time.perf_counter() - start:.1f} s)")
    return history


results = {}
for arch in ARCHS:
    first = build(arch)
    initial = {name: p.numpy().copy() for name, p in first.state_dict().items()}
    for opt_name in OPTIMIZERS:
        results[arch, opt_name] = train(arch, opt_name, initial, EPOCHS[arch])

# %% [markdown]
# The curves: training loss (solid) and test loss (dashed) on the left, the
# error rates on the right; one colour per optimizer.

# %%
colours = {"SGD": "tab:blue", "SGD + momentum": "tab:orange", "Adam": "tab:green"}
fig, axes = plt.subplots(len(ARCHS), 2, figsize=(12, 4.25 * len(ARCHS)), squeeze=False)
for row, arch in enumerate(ARCHS):
    for opt_name, colour in colours.items():
        h = results[arch, opt_name]
        epochs = [r["epoch"] for r in h]
        for ax, key, scale in ((axes[row, 0], "loss", 1), (axes[row, 1], "error", 100)):
            ax.plot(epochs, [scale * r[f"train_{key}"] for r in h], "o-", color=colour)
            ax.plot(epochs, [scale * r[f"test_{key}"] for r in h], "s--", color=colour)
    name = f"MLP {N_PIXELS}-256-128-10" if arch == "mlp" else "LeNet-5"
    axes[row, 0].set_title(f"{name}: cross-entropy loss")
    axes[row, 0].set_ylabel("mean cross-entropy (nats)")
    axes[row, 1].set_title(f"{name}: error rate")
    axes[row, 1].set_ylabel("error (% of examples)")
    for ax in axes[row]:
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
# one legend for all panels: colour = optimizer, line style = training or test
handles = [plt.Line2D([], [], color=c, lw=2, label=name) for name, c in colours.items()]
handles += [plt.Line2D([], [], color="gray", marker="o", ls="-", label="training (epoch mean)"),
            plt.Line2D([], [], color="gray", marker="s", ls="--", label="test")]
fig.legend(handles=handles, loc="upper center", ncol=5, bbox_to_anchor=(0.5, 0.965), fontsize=9)
fig.suptitle(f"{split.name}: {len(split.train):,} training / {len(split.test):,} test images, "
             f"batch {BATCH}, same initial weights for every optimizer", y=0.995)
fig.tight_layout(rect=(0, 0, 1, 0.94))
save_figure(fig, "05_curves")

# %% [markdown]
# ## 5. Reading the curves
#
# * **Training loss** falls for every optimizer: the optimizer does its job on
#   the data it sees. (It is averaged over the epoch's batches while the
#   weights move, so it trails the weights at the end of the epoch.)
# * **Underfitting:** early on, training and test loss are both high and fall
#   together. A model that stops here -- too small, too few steps, too small a
#   step size -- underfits.
# * **Overfitting:** later, the training loss keeps falling but the test loss
#   stops falling and turns up: the model fits details of its 10,000 training
#   images that do not carry over to new ones. The test *error* rises much
#   less than the test *loss*: the network becomes over-confident on the test
#   images it gets wrong (cross-entropy punishes confident mistakes hard)
#   before it gets many more wrong. Stopping at the lowest test loss (early
#   stopping, with a validation set rather than the test set) or
#   regularising (weight decay, dropout, more data) counters it.
# * **The gap** between training and test error measures how much the model
#   has fitted its particular training set. The MLP has 235,146 parameters for
#   10,000 images and no notion that neighbouring pixels belong together;
#   LeNet-5 has a quarter of the parameters and shares each filter across
#   positions.
# * **Optimizers** differ most in the first epochs and in noise: plain SGD with
#   a large step jumps around, momentum and Adam are smoother. With tuned rates
#   and long enough training the differences shrink.
#
# The cell below reads these things off the runs (in fast mode, with one
# epoch, there is no curve yet to read):

# %%
for (arch, opt_name), h in results.items():
    best = min(h, key=lambda r: r["test_loss"])
    last = h[-1]
    print(f"{arch:7s} {opt_name:15s} lowest test loss {best['test_loss']:.4f} at epoch "
          f"{best['epoch']:2d} of {last['epoch']:2d} (last: {last['test_loss']:.4f}); "
          f"final error train {last['train_error']:6.1%} test {last['test_error']:6.1%} "
          f"gap {100 * (last['test_error'] - last['train_error']):+.1f} points")

# %% [markdown]
# In full mode the MLP trained with momentum or Adam shows the textbook
# picture. In our run its training loss fell every epoch, to 0.16 (momentum)
# and 0.15 (Adam) at epoch 15, while its test loss was lowest at epoch 10
# (momentum) and 8 (Adam), at about 0.39-0.40, and had risen to about 0.49-0.50
# by epoch 15; the training error ended near 6%, less than half the test
# error of about 13%. Plain SGD with its large step is noisier: its test loss
# jumps from epoch to epoch. LeNet-5, after only 4 epochs on 10,000 images, is
# still in the underfitting regime: its training and test error are within a
# couple of points of each other and its test loss was lowest at the last
# epoch -- more epochs would help it, and would not help the MLP.
#
# ## 6. The same loop, packaged: `minigrad.train.Run`
#
# `minigrad train` (the command line) runs exactly this loop, plus progress
# bars, a learning-rate schedule, metrics files, plots and resumable
# checkpoints. In Python it is `Run(TrainConfig(...))`. Given the same model,
# seed, optimizer and data, it reproduces our loop bit for bit:

# %%
cfg = TrainConfig(model="mlp", data=split.name, hidden=(256, 128), activation="relu",
                  optimizer="sgd", lr=0.02, momentum=0.9, batch_size=BATCH, epochs=1,
                  schedule="none", seed=0)
run = Run(cfg, progress=False, split=split, log=lambda line: None)
record = run.run_epochs()[0]
ours = results["mlp", "SGD + momentum"][0]
print(f"Run:      train loss {record['train_loss']:.6f}  test loss {record['test_loss']:.6f}")
print(f"our loop: train loss {ours['train_loss']:.6f}  test loss {ours['test_loss']:.6f}")
assert abs(record["train_loss"] - ours["train_loss"]) < 1e-9
assert abs(record["test_loss"] - ours["test_loss"]) < 1e-6

# %% [markdown]
# ## Summary
#
# * A training step is forward, loss, `zero_grad`, `backward`, `step`; an
#   epoch is one shuffled pass; evaluate under `no_grad` in `eval` mode.
# * Compare optimizers (or anything) from the same initial weights and the
#   same data order, so that the only difference is the one you study.
# * Training loss measures optimisation; test loss and error measure
#   generalisation. Rising test loss under falling training loss is
#   overfitting; both high is underfitting.
#
# ## Exercises
#
# **1.** The loader keeps the last, smaller batch. Write `steps_per_epoch(n,
# batch_size)`: how many optimizer steps one epoch over `n` examples takes.

# %%
answer = None   # your answer here: a function steps_per_epoch(n, batch_size) -> int
exercise(check_steps_per_epoch, answer)

# %% [markdown]
# **2.** Write one step of SGD with momentum in the table's form:
# `momentum_step(w, g, b, lr, mu)` returns the new `(w, b)` (NumPy arrays; on
# the first step `b` is `None` and the buffer starts as a copy of `g`). It is
# checked against `minigrad.optim.SGD` over several steps.

# %%
answer = None   # your answer here: a function momentum_step(w, g, b, lr, mu) -> (w, b)
exercise(check_momentum_step, answer)

# %% [markdown]
# **3.** Write one step of Adam: `adam_step(w, g, m, v, t, lr, beta1, beta2,
# eps)` returns the new `(w, m, v)`, where `t` is the step number (1 for the
# first step) and `m`, `v` start as zeros. It is checked against
# `minigrad.optim.Adam`.

# %%
answer = None   # your answer here: a function adam_step(w, g, m, v, t, lr, beta1, beta2, eps) -> (w, m, v)
exercise(check_adam_step, answer)
