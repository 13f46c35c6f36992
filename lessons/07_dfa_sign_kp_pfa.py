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
# # Lesson 7: DFA, sign symmetry, Kolen-Pollack and PFA
#
# Lesson 6 replaced the transposed weights of backprop's backward pass by a
# fixed random matrix. This lesson sets the main variations on that idea
# side by side, on one network, one data set and one budget.
#
# **What you will learn**
#
# * direct feedback alignment (DFA): the output error sent straight to
#   every hidden layer;
# * sign symmetry: feedback that shares the *signs* of the forward weights
#   (three variants);
# * Kolen-Pollack (KP): feedback that learns, and why weight decay makes it
#   converge to the forward weights;
# * product feedback alignment (PFA): feedback through a fixed matrix times
#   a plastic one;
# * what each rule needs to transport, how well its updates align with
#   backprop's and what accuracy it reaches;
# * DFA's bottleneck: a hidden layer narrower than the number of classes
#   stops the layers around it from aligning.
#
# **Prerequisites:** lesson 6 (feedback alignment, update and weight
# alignment, the `Recorder`).
#
# **Run time:** about 10 s in fast mode (`MINIGRAD_FAST=1`), two to three
# minutes in full mode on two cores.

# %%
import inspect as python_inspect

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from minigrad import nn, optim, rules
from minigrad.inspect import Recorder
from _course import FAST, pick, save_figure, fashion_mnist, exercise
from checks.lesson07 import check_dfa_delta, check_kp_gap, check_dfa_signal_rank

np.set_printoptions(precision=3, suppress=True)

data = fashion_mnist(pick(3000, 60000), pick(1000, 5000))
print(data)

# %% [markdown]
# ## 1. Four ways to send the error back
#
# Notation as in lesson 6 (paper notation, examples as columns): layer $l$
# computes $a_l = W_l h_{l-1} + b_l$, $h_l = f(a_l)$; $e$ is the output error;
# every rule updates $\Delta W_l = -\eta\, \delta_l h_{l-1}^\top$ and differs only
# in the error $\delta_l$ that reaches layer $l$.
#
# * **DFA** -- Nøkland (2016, "Direct feedback alignment provides learning
#   in deep neural networks", NeurIPS): every hidden layer gets the output
#   error through its own fixed random matrix, $\delta_l = (D_l\, e) \odot
#   f'(a_l)$, $D_l$ of shape (width of layer $l$) × (outputs). Nothing is sent
#   from layer to layer, so all layers can learn at once.
# * **Sign symmetry** -- Liao, Leibo & Poggio (2016, "How important is
#   weight symmetry in backpropagation?", AAAI): the feedback has the signs
#   of $W^\top$ but not its magnitudes. minigrad has the three variants
#   benchmarked by Sanfiz & Akrout (2021, "Benchmarking the accuracy and
#   robustness of feedback alignment algorithms"): `usf`, $B = \operatorname{sign}(W)^\top
#   \sqrt{2/(\text{fan-in} + \text{fan-out})}$; `frsf`, $B = (|R| \odot
#   \operatorname{sign}(W))^\top$ with $R$ fixed random; `brsf`, the same
#   with $R$ redrawn for every batch.
# * **Kolen-Pollack** -- Kolen & Pollack (1994, "Backpropagation without
#   weight transport", IEEE ICNN); Akrout, Wilson, Humphreys, Lillicrap &
#   Tweed (2019, "Deep learning without weight transport", NeurIPS): the
#   feedback synapses learn with the *same* update as the forward ones, and
#   both decay. In the code's storage ($B$ kept in $W$'s shape, as in
#   lesson 6), with plain SGD,
#   $$\Delta W = -\eta(\delta x^\top + \lambda W), \qquad \Delta B = -\eta(\delta x^\top + \lambda B)
#     \;\Longrightarrow\; B_t - W_t = (1-\eta\lambda)^t\,(B_0 - W_0).$$
#   The update of a feedback synapse uses the error at one end and the
#   activity at the other -- both present at that synapse -- so nothing is
#   transported; the decay forgets the random start, and $B \to W$.
# * **PFA** -- Li & Benna (2024, "Deep learning without weight symmetry"):
#   the error goes back through a fixed random $B$ ($n_\text{out} \times
#   n_\text{mid}$, into $n_\text{mid}$ = 4 $n_\text{out}$ intermediate error
#   neurons) and a plastic $R$ ($n_\text{mid} \times n_\text{in}$), so $BR$ stands
#   where backprop has $W$: $\delta_\text{in} = R^\top (B^\top \delta_\text{out}) \odot f'$.
#   $R$ learns from the intermediate signal like $W$ does from its own,
#   $\Delta R = -\eta(B^\top \delta_\text{out} x^\top + \lambda R)$; since
#   $BB^\top \approx I$, $BR$ receives nearly $W$'s update and comes to track $W$
#   without any feedback synapse mirroring a forward one.
#
# | rule | error reaching hidden layer $l$ | what must be transported |
# | --- | --- | --- |
# | `bp` | $(W_{l+1}^\top \delta_{l+1}) \odot f'$ | every forward weight, exactly and continuously |
# | `fa` | $(B_{l+1} \delta_{l+1}) \odot f'$, $B$ fixed random | nothing |
# | `dfa` | $(D_l\, e) \odot f'$, $D_l$ fixed random | nothing (a direct path from the output to every layer) |
# | `usf` | $(\operatorname{sign}(W_{l+1})^\top s\, \delta_{l+1}) \odot f'$ | the sign of every forward weight, continuously |
# | `frsf`, `brsf` | $((\lvert R\rvert \odot \operatorname{sign} W_{l+1})^\top \delta_{l+1}) \odot f'$ | the signs, continuously |
# | `kp` | $(B_{l+1} \delta_{l+1}) \odot f'$, $B$ learns like $W^\top$ | nothing: $B$'s update is local |
# | `pfa` | $(R_{l+1}^\top B_{l+1}^\top \delta_{l+1}) \odot f'$, $R$ learns | nothing: $R$'s update is local |
# | `shallow` | no error: only the last layer learns | nothing (the control) |
#
# Each rule's file in `minigrad/rules/` reads like its paper. Three short
# pieces: `usf`'s feedback matrix, KP's update of $B$ after the optimizer
# has moved $W$ (written as $B \leftarrow W_\text{new} + (1-\eta\lambda)(B - W_\text{old})$,
# which is the equation above), and PFA's update of $R$.

# %%
for piece in [rules.feedback_alignment.UniformSignSymmetry.current_feedback,
              rules.feedback_alignment.KolenPollack.after_step,
              rules.product_feedback_alignment.ProductFeedbackAlignment.after_step]:
    print(python_inspect.getsource(piece))

# %% [markdown]
# ## 2. The same network, data and budget for every rule
#
# A 784-128-128-10 tanh MLP, the same initial weights for every rule, plain
# SGD (η = 0.05, batch 64, no momentum: KP's and PFA's formulas above hold
# exactly under plain SGD). KP's decay rate matters: the distance $B - W$
# shrinks by $(1-\eta\lambda)$ per step, so with the default $\lambda = 10^{-3}$
# it takes $1/(\eta\lambda) = 20{,}000$ steps to shrink by $e$ -- longer than
# this run. We therefore also train KP and PFA with $\lambda = 0.02$
# ($1/(\eta\lambda) = 1{,}000$ steps). The `Recorder` stores the update
# alignment (angle between each applied update and backprop's gradient on the
# same batch) and the weight alignment; for KP and PFA we also keep
# $\lVert B - W \rVert$ (for PFA, $\lVert BR - W \rVert$) after every recorded step.

# %%
SIZES = [784, 128, 128, 10]
LR, EPOCHS, RECORD_EVERY = 0.05, pick(1, 4), pick(5, 50)
RUNS = {                                  # label: (rule name, hyper-parameters)
    "bp": ("bp", {}), "fa": ("fa", {}), "dfa": ("dfa", {}),
    "usf": ("usf", {}), "frsf": ("frsf", {}), "brsf": ("brsf", {}),
    "kp": ("kp", {}), "kp λ=0.02": ("kp", {"weight_decay": 0.02}),
    "pfa": ("pfa", {}), "pfa λ=0.02": ("pfa", {"weight_decay": 0.02}),
    "shallow": ("shallow", {}),
}


def accuracy(rule, split):
    with mg.no_grad():
        scores = rule.predict(mg.tensor(split.x)).data
    return float((scores.argmax(axis=1) == split.y).mean())


def feedback_gaps(rule):
    """{layer: ||B - W||} for the layers with a feedback matrix in W's shape."""
    return {name: float(np.linalg.norm(rule.current_feedback(name, layer) - layer.weight.data))
            for name, layer in rule.layers[1:]}


def train(rule_name, hparams, sizes=SIZES, split=data, epochs=EPOCHS):
    model = nn.mlp(sizes, "tanh", generator=np.random.default_rng(0))
    rule = rules.make(rule_name, model, seed=0, **hparams)
    opt = optim.SGD(model.parameters(), lr=LR)
    loader = mg.data.DataLoader(split.train, batch_size=64, shuffle=True, seed=0)
    recorder = Recorder(every=RECORD_EVERY, measures=("update", "weight"))
    track_gap = rule_name in ("kp", "pfa")
    gaps = [feedback_gaps(rule)] if track_gap else []       # before the first step
    for epoch in range(epochs):
        for x, y in loader:
            due = recorder.due()
            recorder.step(rule, opt, x, y)
            if track_gap and due:
                gaps.append(feedback_gaps(rule))
    return {"rule": rule, "records": recorder.records, "gaps": gaps,
            "accuracy": accuracy(rule, split.test)}


results = {}
for label, (name, hparams) in RUNS.items():
    results[label] = train(name, hparams)
    print(f"{label:11s} test accuracy {results[label]['accuracy']:.3f}")

# %% [markdown]
# ## 3. The table
#
# For each rule: the final test accuracy, and the update alignment of the
# two hidden layers' weights ($W_1$: 784→128, $W_2$: 128→128), averaged over
# the records of the second half of training (per batch angles; 0° is
# backprop, 90° is no information), and the weight alignment at the end.

# %%
def mean_angle(records, key):
    late = records[len(records) // 2:]
    return float(np.mean([r["update"][key]["angle"] for r in late]))


print(f"{'rule':11s} {'accuracy':>8s} {'angle W1':>9s} {'angle W2':>9s}   weight alignment at the end")
for label, res in results.items():
    weight = res["records"][-1]["weight"]
    shown = ", ".join(f"B{int(k) // 2 + 1}: {v:.1f}°" for k, v in weight.items()) or "-"
    print(f"{label:11s} {res['accuracy']:8.3f} {mean_angle(res['records'], '1.weight'):8.1f}° "
          f"{mean_angle(res['records'], '3.weight'):8.1f}°   {shown}")

# %% [markdown]
# Read the table with three facts in mind. (i) Sign information is worth a
# lot: the sign-symmetric rules start aligned (sharing $W$'s signs puts $B$
# within 90° of $W^\top$ from the first step), and `usf` and `frsf` stay the
# closest to backprop of the rules with fixed feedback -- at the price of
# knowing every weight's sign. `brsf`, whose magnitudes change every batch,
# ends about as close as DFA. (ii) KP's and PFA's *updates* include the decay
# term $\lambda W$, which backprop's gradient does not have, so even perfect
# feedback would not give them 0°. (iii) One seed and one short run:
# accuracy differences of a point or so are within the noise. In full mode
# every rule lands between 83% and 86.5% against backprop's 85.5% (DFA, `usf`,
# KP and PFA slightly above it) and far above `shallow`'s 76.3%.
#
# The next figure shows the update angles over training (running means of
# the per-batch angles; `bp` would be a line at 0° and `shallow` at 90°).

# %%
def running_mean(v, width):
    width = max(1, min(width, len(v)))
    return np.convolve(v, np.ones(width) / width, mode="valid"), width


fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
for ax, (key, title) in zip(axes, [("1.weight", "W1 (784→128)"), ("3.weight", "W2 (128→128)")]):
    for i, (label, res) in enumerate(results.items()):
        if label in ("bp", "shallow"):
            continue
        steps = np.array([r["step"] for r in res["records"]])
        angles = np.array([r["update"][key]["angle"] for r in res["records"]])
        smooth, w = running_mean(angles, 5)
        ax.plot(steps[w - 1:], smooth, color=plt.cm.tab10(i % 10),
                ls="--" if "λ" in label else "-", label=label)
    ax.axhline(90, color="gray", lw=0.8, ls=":")
    ax.set_title(f"update alignment of {title}")
    ax.set_xlabel("training step (batches of 64)")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("angle to backprop's gradient (degrees)\n(running mean of 5 records)")
axes[1].legend(fontsize=8, ncol=2)
fig.tight_layout()
save_figure(fig, "07_rules_alignment")

# %% [markdown]
# ## 4. Kolen-Pollack: the feedback converges to the forward weights
#
# Under plain SGD the distance between KP's feedback and the forward
# weights follows $\lVert B_t - W_t \rVert = (1-\eta\lambda)^t \lVert B_0 - W_0 \rVert$
# exactly, whatever the data. We check it against the recorded distances,
# then plot the weight alignment (the angle between $B$ and $W$) for KP and
# for PFA ($BR$ against $W$).

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
for label in ["kp", "kp λ=0.02", "pfa", "pfa λ=0.02"]:
    res = results[label]
    lam = RUNS[label][1].get("weight_decay", 1e-3)
    steps = np.array([r["step"] for r in res["records"]])
    for j, layer in enumerate(["3", "5"]):
        gap = np.array([g[layer] for g in res["gaps"]])
        ratio = gap[1:] / gap[0]                       # after steps 0, E, 2E, ... were applied
        style = dict(color=f"C{j}", ls="-" if label.startswith("kp") else ":",
                     lw=2.2 if "λ" in label else 1.0)
        pair = "B2 vs W2" if layer == "3" else "B3 vs W3"
        axes[0].semilogy(steps + 1, ratio, label=f"{label}, {pair}", **style)
        weight = np.array([r["weight"][layer] for r in res["records"]])
        axes[1].plot(steps + 1, weight, label=f"{label}, {pair}", **style)
        if label.startswith("kp"):
            theory = (1 - LR * lam) ** (steps + 1)
            worst = float(np.max(np.abs(ratio / theory - 1)))
            print(f"{label:10s} layer {layer}: |B-W| shrank to {ratio[-1]:.4f} of its start; "
                  f"(1 - ηλ)^t = {theory[-1]:.4f}; largest relative deviation {worst:.1e}")
            assert worst < 1e-3
    print(f"{label:10s} weight alignment at the end: "
          f"{ {k: round(v, 1) for k, v in res['records'][-1]['weight'].items()} }")
t = np.arange(1, steps[-1] + 2)
axes[0].semilogy(t, (1 - LR * 0.02) ** t, "k--", lw=0.8, label="(1 - ηλ)^t, λ = 0.02")
axes[0].set_title("distance of the feedback from W\n(solid: KP; dotted: PFA, BR - W)")
axes[0].set_ylabel("‖B − W‖ / ‖B₀ − W₀‖")
axes[1].set_title("weight alignment: angle between the feedback\n(B for KP, BR for PFA) and W")
axes[1].set_ylabel("angle (degrees)")
axes[1].axhline(90, color="gray", lw=0.8, ls=":")
for ax in axes:
    ax.set_xlabel("training steps applied")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
fig.tight_layout()
save_figure(fig, "07_kp_weight_alignment")

# %% [markdown]
# The measured distance follows $(1-\eta\lambda)^t$ to float32 rounding: the
# forward and feedback weights receive the same updates, so their difference
# only decays. With $\lambda = 0.02$ the weight alignment falls to a few
# degrees in full mode (the printout has the numbers) and KP becomes
# backprop in all but name; with the default $\lambda$ the random start is
# forgotten too slowly for this run, but the shared learned part still turns
# $B$ towards $W$. PFA's $BR$ follows $W$ more loosely: $BB^\top$ is only
# approximately the identity, so $BR$ does not receive exactly $W$'s update.
#
# The price of a large $\lambda$ is ordinary weight decay on $W$: it
# regularises the forward weights as well (compare the accuracies in the
# table). Akrout et al. trained for hundreds of thousands of steps, where a
# small $\lambda$ suffices.
#
# ## 5. DFA's bottleneck: a layer narrower than the output
#
# DFA hands every layer a random projection $D_l e$ of the output error. Over
# a batch, softmax cross-entropy errors span at most $k-1 = 9$ dimensions
# (each row of $E$ sums to zero), so the DFA signals of a wide layer vary
# in 9 directions. Launay, Poli & Krzakala (2019, "Principled training of
# neural networks with direct feedback alignment") observed that narrow
# layers create a *bottleneck* for this alignment. We sweep the width $w$
# of the middle layer of a 784-128-$w$-128-10 MLP and measure DFA's update
# alignment of the three hidden weight matrices: the one *below* the narrow
# layer (784→128), the narrow layer's own (128→$w$) and the one *above* it
# ($w$→128).

# %%
WIDTHS = pick([4, 16, 64], [2, 4, 8, 16, 32, 128])
BOTTLENECK = {"1.weight": "below (784→128)", "3.weight": "narrow layer (128→w)",
              "5.weight": "above (w→128)"}
sweep_data = mg.data.Split(data.name, data.train.subset(pick(3000, 20000)), data.test,
                           data.input_shape, data.num_classes)       # a smaller training set
sweep = {"bp": [], "dfa": []}
for width in WIDTHS:
    for name in sweep:
        res = train(name, {}, sizes=[784, 128, width, 128, 10], split=sweep_data,
                    epochs=pick(1, 3))
        angles = {key: mean_angle(res["records"], key) for key in BOTTLENECK}
        sweep[name].append((res["accuracy"], angles))
    acc_bp, (acc_dfa, angles) = sweep["bp"][-1][0], sweep["dfa"][-1]
    print(f"width {width:3d}: DFA angles " +
          ", ".join(f"{BOTTLENECK[k].split()[0]} {a:5.1f}°" for k, a in angles.items()) +
          f";  accuracy bp {acc_bp:.3f}, dfa {acc_dfa:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.3))
for i, (key, label) in enumerate(BOTTLENECK.items()):
    axes[0].plot(WIDTHS, [angles[key] for _, angles in sweep["dfa"]], "o-", color=f"C{i + 2}",
                 label=label)
axes[0].axhline(90, color="gray", lw=0.8, ls=":", label="90° (no information)")
axes[0].set_ylabel("angle to backprop's gradient (degrees)\nmean over the second half")
axes[0].set_title("DFA: update alignment around the narrow layer")
for name, color in [("bp", "C0"), ("dfa", "C2")]:
    axes[1].plot(WIDTHS, [100 * acc for acc, _ in sweep[name]], "o-", color=color, label=name)
axes[1].set_ylabel("test accuracy (%)")
axes[1].set_title(f"accuracy ({len(sweep_data.train)} training examples)")
for ax in axes:
    ax.axvline(10, color="C3", lw=0.8, ls="--", label="10 classes")
    ax.set_xscale("log", base=2)
    ax.set_xticks(WIDTHS, [str(w) for w in WIDTHS])
    ax.set_xlabel("width w of the middle layer (784-128-w-128-10)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, "07_dfa_width")

# %% [markdown]
# The narrow layer's *own* weights align as well as ever -- its signal has
# only $w$ components, and a $w$-dimensional target is easy to hit. The
# layers around it suffer, each for its own reason:
#
# * **Below the bottleneck**, backprop's error has to pass through the narrow
#   layer: $\delta_1 = (W_2^\top \delta_2) \odot f'$ lies (before the $\odot f'$) in the
#   $w$-dimensional row space of $W_2$, while DFA's $D_1 e$ varies in 9
#   dimensions (exercise 3). For $w < 9$ the two cannot agree, however the
#   weights learn.
# * **Above the bottleneck**, alignment needs what lesson 6 described: the
#   layer's activity must move along $-D_3 e$ so that the layers above can
#   learn to make $D_3$ act like their transpose. But a layer fed by $w$
#   units can change its activity, across examples, only within about $w$
#   directions -- too few to carry a 9-dimensional error pattern. In full
#   mode this layer's updates stay near 90° for widths below 10 and recover
#   only as $w$ grows (about 50° at width 128).
#
# In full mode DFA's accuracy falls well below backprop's at width 2 and
# stays close to it from width 4 on: the other layers compensate. The
# angles, not the accuracy, show where credit assignment breaks.
#
# ## Summary
#
# * DFA, sign symmetry, KP and PFA all keep backprop's forward pass and
#   change only the path of the error; they differ in what must be known
#   about $W$ (nothing, its signs, or nothing but local learning).
# * Sign symmetry aligns from the start; FA and DFA must wait for the
#   forward weights to align with their random feedback.
# * KP's feedback and forward weights get the same updates, so their
#   difference only decays, by $(1-\eta\lambda)$ per step: $B \to W$.
# * A layer narrower than the output is a bottleneck for DFA: the layers
#   around it cannot align, because a $w$-dimensional layer cannot carry (or
#   pass down) a 9-dimensional error pattern.
#
# ## Exercises

# %% [markdown]
# **1.** Write DFA's error for a hidden **tanh** layer in the code's row
# convention: `E` holds the output errors ($N \times k$), `D` is the layer's
# feedback as minigrad stores it (width × $k$, `rule.feedback[name]`) and `A`
# the layer's pre-activations ($N \times$ width). Return
# $(E D^\top) \odot \tanh'(A)$.

# %%
def dfa_delta(E, D, A):
    return None   # your code here


answer = None   # set answer = dfa_delta when it is written
exercise(check_dfa_delta, answer)

# %% [markdown]
# **2.** Write `kp_gap(eta, lam, t)`: the factor by which $\lVert B - W \rVert$
# has shrunk after $t$ steps of KP under plain SGD with learning rate `eta`
# and weight decay `lam`. (The checker also runs minigrad's `kp` rule.)

# %%
def kp_gap(eta, lam, t):
    return None   # your code here


answer = None   # set answer = kp_gap when it is written
exercise(check_kp_gap, answer)

# %% [markdown]
# **3.** With the softmax cross-entropy loss, what is the rank of the
# matrix of DFA signals $E D^\top$ (before the $\odot f'$) over a large batch,
# for a layer of width `w` and `k` classes? Write `dfa_signal_rank(w, k)`.
# (Hint: what do the entries of one row of $E$ sum to?)

# %%
def dfa_signal_rank(w, k):
    return None   # your code here


answer = None   # set answer = dfa_signal_rank when it is written
exercise(check_dfa_signal_rank, answer)
