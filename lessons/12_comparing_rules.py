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
# # Lesson 12: Comparing rules fairly
#
# "Rule A reaches 97%, rule B 95%" says little unless both had the same
# chance. This lesson runs a comparison of learning rules the way it should be
# run and reported, with minigrad's comparison harness (`minigrad compare`).
#
# **You will learn**
#
# * what makes a comparison fair: the same data, architecture, initial weights
#   and budget; several seeds; a learning rate tuned *for each rule* on a
#   validation set, by the same sweep;
# * to run `minigrad.compare.Comparison` (the Python side of `minigrad
#   compare`) and read its `results.json`;
# * to report mean ± standard deviation over seeds, curves with seed bands,
#   the activation memory each rule needs, and what a budget does to a
#   ranking.
#
# **Prerequisites:** lesson 5 (training loops, optimizers) and the lessons on
# feedback alignment, local learning and forward gradients (the rules compared
# here).
#
# **Run time:** about 10 s in fast mode (three rules, two seeds, one epoch);
# about 2-3 minutes in full mode on 2 CPU cores (five rules and a control, a
# seven-point learning-rate sweep, three seeds, ten epochs).
#
# **Reading.** S. Bartunov, A. Santoro, B. Richards, L. Marris, G. Hinton &
# T. Lillicrap (2018), "Assessing the scalability of biologically-motivated
# deep learning algorithms and architectures", NeurIPS -- tunes every rule
# before comparing. G. Melis, C. Dyer & P. Blunsom (2018), "On the state of the
# art of evaluation in neural language models", ICLR -- well-tuned baselines
# beat newer models. D. Choi, C. Shallue, Z. Nado, J. Lee, C. Maddison &
# G. Dahl (2019), "On empirical comparisons of optimizers for deep learning",
# arXiv:1910.05446 -- rankings follow the tuning budget. X. Bouthillier et al.
# (2021), "Accounting for variance in machine learning benchmarks", MLSys.
# A. Sanfiz & M. Akrout (2021), "Benchmarking the accuracy and robustness of
# feedback alignment algorithms", arXiv:2108.13446.

# %%
import json
import tempfile
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt
import minigrad as mg
from minigrad import nn, rules
from minigrad.compare import Comparison
from minigrad.errors import TrainingDivergedError
from minigrad.inspect import activation_memory
from minigrad.train import Run, TrainConfig
from _course import FAST, pick, save_figure, fashion_mnist, exercise  # noqa: F401
from checks.lesson12 import check_mean_std, check_best_lr, check_welch_t

RULES = pick(["bp", "dfa", "local_ce"],
             ["bp", "fa", "dfa", "local_ce", "activity_forward_gradient", "shallow"])
LEARNING_RATES = pick([0.01, 0.1], [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0])
SEEDS = pick(2, 3)
EPOCHS = pick(1, 10)
TRAIN_SUBSET = pick(300, 0)            # 0: every training example
# what every run shares: model, data, optimizer, batch, budget
SHARED = dict(model="mlp", data="digits", hidden=(64, 64), activation="tanh",
              optimizer="sgd", momentum=0.9, batch_size=32, epochs=EPOCHS,
              schedule="none")
print("fast mode" if FAST else "full mode", f": rules {RULES}, {SEEDS} seeds, {EPOCHS} epoch(s)")

# %% [markdown]
# ## 1. What "fair" means
#
# A comparison measures the difference between rules, so everything else must
# be held fixed or averaged over:
#
# | held fixed | why |
# | --- | --- |
# | **data**: the same training examples, in the same order, the same test set | different data is a different problem |
# | **architecture and initial weights**: seed $s$ gives every rule the same start | a lucky initialisation is not a better rule |
# | **budget**: the same epochs (or steps, or seconds) | a rule given more steps has had more chances |
# | **tuning**: each rule's learning rate chosen by *the same* sweep, on a validation set | a rate that suits one rule can cripple another |
# | **seeds**: several, reported as mean ± std | one run is one draw of a random variable |
#
# `Comparison` enforces the first three: every run is a `minigrad.train.Run`
# with the same configuration but the rule, and seed $s$ builds the same
# initial weights and data order for every rule. The learning rates are ours
# to choose. The experiment: an MLP 64-64-64-10 (tanh) on the 8×8 digits,
# SGD with momentum 0.9, batch 32, a constant learning rate, and five rules:
# backprop (`bp`), feedback alignment (`fa`, Lillicrap et al. 2016), direct
# feedback alignment (`dfa`, Nøkland 2016), local classifiers on every block
# (`local_ce`, Belilovsky et al. 2019) and the activity-perturbed forward
# gradient (`activity_forward_gradient`, Ren et al. 2023) -- plus a
# **control**, `shallow`, in which only the last layer learns and the hidden
# layers keep their random weights. A rule that does not beat `shallow` has
# not trained its hidden layers at all, however good its number looks.
#
# ## 2. Tune each rule's learning rate -- on a validation set
#
# The test set must not choose anything, or the reported accuracy is the
# maximum of several noisy test scores and too high. So we split the digits'
# training part into a *fit* part and a *validation* part, train each rule at
# every rate of one grid for the full budget, and keep the rate with the best
# validation accuracy. The tuning runs use a seed (100) that the comparison
# does not use.

# %%
digits = mg.data.digits()
N_FIT = pick(300, 1150)
fit = digits.train.subset(N_FIT)
validation = mg.data.Dataset(digits.train.x[1150:], digits.train.y[1150:], "digits/validation")
tuning_split = mg.data.Split("digits", fit, validation, digits.input_shape, digits.num_classes)
print(f"digits: {len(digits.train)} training images -> {len(fit)} fit + "
      f"{len(validation)} validation; {len(digits.test)} test images (kept for the end)")

sweep = {}                      # (rule, lr) -> validation accuracy, None if it diverged
for rule in RULES:
    for lr in LEARNING_RATES:
        config = TrainConfig(rule=rule, lr=lr, seed=100, **SHARED)
        run = Run(config, progress=False, log=lambda line: None, split=tuning_split)
        try:
            sweep[rule, lr] = run.run_epochs()[-1]["test_accuracy"]   # = validation here
        except TrainingDivergedError:
            sweep[rule, lr] = None
    row = "  ".join("diverged" if sweep[rule, lr] is None else f"{100 * sweep[rule, lr]:.1f}%"
                    for lr in LEARNING_RATES)
    print(f"{rule:26s} {row}")
print(f"{'learning rate':26s} " + "  ".join(f"{lr:g}" for lr in LEARNING_RATES))

# %%
best_lr = {}
for rule in RULES:
    scored = [(sweep[rule, lr], lr) for lr in LEARNING_RATES if sweep[rule, lr] is not None]
    best_lr[rule] = max(scored, key=lambda pair: (pair[0], -pair[1]))[1]
    edge = " (at the edge of the grid: widen it)" if best_lr[rule] in (
        LEARNING_RATES[0], LEARNING_RATES[-1]) else ""
    print(f"best rate for {rule:26s} {best_lr[rule]:g}{edge}")

fig, ax = plt.subplots(figsize=(7.5, 4.5))
for rule in RULES:
    ok = [lr for lr in LEARNING_RATES if sweep[rule, lr] is not None]
    line, = ax.plot(ok, [100 * sweep[rule, lr] for lr in ok], "o-", label=rule)
    bad = [lr for lr in LEARNING_RATES if sweep[rule, lr] is None]
    ax.plot(bad, [0] * len(bad), "x", color=line.get_color(), markersize=10)
    ax.plot([best_lr[rule]], [100 * sweep[rule, best_lr[rule]]], "*", color=line.get_color(),
            markersize=15)
ax.set_xscale("log")
ax.set_xlabel("learning rate η (SGD, momentum 0.9; log scale)")
ax.set_ylabel("validation accuracy (%)")
ax.set_title(f"Learning-rate sweep, {EPOCHS} epoch(s), seed 100 (★ best, × diverged)")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, "12_lr_sweep")

# %% [markdown]
# The best rates differ between rules, and the curves fall off on both sides:
# too small a rate has not learned within the budget, too large a rate is
# unstable or diverges. (The sweep is itself noisy: one seed, and 288
# validation images, one of which is 0.35 points. Where two rates score within
# a point of each other, either is a fair choice; with more compute, average
# the sweep over seeds.) In full mode the control's best rate is the largest
# of the grid: the grid should be widened there. We note it and go on, since a
# wider grid could only make the control stronger. Had we picked one rate for
# all -- say backprop's best -- the others would be judged at a rate that is
# not theirs:

# %%
shared_lr = best_lr["bp"]
print(f"validation accuracy at one shared rate ({shared_lr:g}, bp's best) vs each rule's own:")
for rule in RULES:
    at_shared = sweep[rule, shared_lr]
    shown = "diverged" if at_shared is None else f"{100 * at_shared:5.1f}%"
    print(f"  {rule:26s} shared {shown:>8s}   own ({best_lr[rule]:g}) "
          f"{100 * sweep[rule, best_lr[rule]]:5.1f}%")

# %% [markdown]
# ## 3. The comparison
#
# Now the real runs: every rule at its own rate, `SEEDS` seeds each, trained
# on the whole training part and scored on the test set, which now only
# reports: it chooses nothing. `Comparison`
# writes one folder per run under `OUT/runs/` (metrics, curves, a checkpoint),
# measures each rule's alignment with backprop and activation memory at the
# end, and writes `results.json`, `results.md` and plots. Run it again with
# the same settings and it resumes instead of starting over. The command line
# does the same:
#
# ```
# minigrad compare --rules bp,fa,dfa --data digits --hidden 64,64 --activation tanh \
#     --epochs 10 --schedule none --seeds 3 --rule-lr fa=0.1 ... --out runs/cmp
# ```

# %%
workdir = tempfile.TemporaryDirectory(prefix="lesson12-")
OUT = Path(workdir.name) / "comparison"


def quiet(line):
    """Print only the last epoch of each run (and divergences)."""
    if f"epoch {EPOCHS}/{EPOCHS}" in line or "diverged" in line:
        print("  " + line)


comparison = Comparison(OUT, RULES, seeds=SEEDS, rule_lr=best_lr, train_subset=TRAIN_SUBSET,
                        record_every=50, progress=False, log=quiet, **SHARED)
results = comparison.run()
print("written:", sorted(p.name for p in OUT.iterdir()))

# %% [markdown]
# `results.json` holds one row per rule: the learning rate, the test accuracy
# of every seed with its mean and sample standard deviation, seconds per
# epoch, the peak of stored activations, and the final angles to backprop's
# update. Read it like any JSON file:

# %%
saved = json.loads((OUT / "results.json").read_text())
print(f"{'rule':26s} {'lr':>6s}  test accuracy (%)       per seed")
for row in saved["results"]:
    acc = row["test_accuracy"]
    seeds = ", ".join(f"{v:.2f}" for v in acc["values"] if v is not None)
    print(f"{row['rule']:26s} {row['lr']:6g}  {acc['mean']:6.2f} ± {acc['std']:4.2f} (n={acc['n']})"
          f"   [{seeds}]")
    values = [v for v in acc["values"] if v is not None]
    if len(values) > 1:
        assert abs(np.std(values, ddof=1) - acc["std"]) < 1e-9      # ± is the sample std
n_test = len(digits.test)
p = np.mean([row["test_accuracy"]["mean"] for row in saved["results"]]) / 100
print(f"\ntest set: {n_test} images, so one image is {100 / n_test:.2f} points, and the "
      f"test set's own sampling error at {100 * p:.0f}% is about "
      f"±{100 * np.sqrt(p * (1 - p) / n_test):.1f} points")

# %% [markdown]
# `results.md` is the same table, ready for a report (it also lists the plots
# the harness drew, under `OUT/plots/`):

# %%
print((OUT / "results.md").read_text().split("Plots:")[0])

# %% [markdown]
# Curves with seed bands: the line is the mean over seeds, the band ± one
# (sample) standard deviation. `results["results"][i]["curves"]` holds each
# seed's per-epoch records (`results.json` leaves them out; they are in each
# run's `metrics.jsonl`).

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
for row in results["results"]:
    runs = [seed_curve for seed_curve in row["curves"] if seed_curve]
    epochs = [r["epoch"] for r in runs[0]]
    for ax, key, scale in ((axes[0], "test_accuracy", 100), (axes[1], "test_accuracy", 100),
                           (axes[2], "train_loss", 1)):
        values = np.array([[scale * r[key] for r in run] for run in runs])
        mean = values.mean(axis=0)
        std = values.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros_like(mean)
        line, = ax.plot(epochs, mean, "o-", label=f"{row['rule']} (η = {row['lr']:g})")
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
best_final = max(row["test_accuracy"]["mean"] for row in results["results"])
axes[0].set_ylabel("test accuracy (%)")
axes[0].set_title(f"Test accuracy, mean ± std over {SEEDS} seeds")
axes[1].set_ylim(best_final - 6, min(100, best_final + 2))
axes[1].set_ylabel("test accuracy (%)")
axes[1].set_title("The same, zoomed on the top")
axes[2].set_ylabel("training loss (cross-entropy, epoch mean)")
axes[2].set_yscale("log")
axes[2].set_title("Training loss of the model's output")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3, which="both")
axes[0].legend(fontsize=8)
fig.suptitle("MLP 64-64-64-10 (tanh) on the digits, each rule at its own tuned rate")
fig.tight_layout()
save_figure(fig, "12_curves")

# %% [markdown]
# ## 4. Budgets change rankings
#
# The same runs, ranked after the first epoch and after the last (mean over
# seeds). With a constant learning rate, epoch 1 of these runs *is* a one-epoch
# budget (with a decaying schedule it would not be: a one-epoch run would decay
# faster). Seconds per epoch differ too: one epoch of a rule that runs several
# passes per batch costs more than one epoch of backprop.

# %%
def ranking(epoch_index):
    means = {row["rule"]: np.mean([run[epoch_index]["test_accuracy"] for run in row["curves"]])
             for row in results["results"]}
    return sorted(means.items(), key=lambda item: -item[1])


for title, index in (("after epoch 1", 0), (f"after epoch {EPOCHS}", -1)):
    print(f"{title:15s}: " + "  >  ".join(f"{rule} {100 * acc:.1f}%" for rule, acc in ranking(index)))
print("seconds per epoch (this machine): " + ", ".join(
    f"{row['rule']} {row['seconds_per_epoch']['mean']:.2f}" for row in saved["results"]))

# %% [markdown]
# In full mode (our run) the ranking after one epoch was dfa > bp ≈ shallow >
# local_ce > fa > forward gradient -- the control, whose hidden layers never
# learn, was level with backprop -- and after ten epochs bp > local_ce > fa >
# dfa > shallow > forward gradient: DFA went from first to fourth. The forward
# gradient went from 57% to 94%, its training loss still falling steadily, but
# it ended *below the control*: at this budget its estimated updates (nearly orthogonal to the
# gradient: the update angles in `results.md`) have not made its hidden layers
# better than random ones, and ten epochs do not say where it ends. Among bp,
# fa, dfa and local_ce the final differences (about one point) are comparable
# to the seed spreads and to the test set's own error printed above: at this
# budget, on this data, they are not distinguishable. Any ranking holds for
# the budget it was measured at; report that budget (and the tuning budget),
# and curves rather than one number. Budgets can also be counted in seconds:
# one epoch of the local classifiers, which train a classifier head on every
# block, cost two to three of backprop's in our runs (the seconds per epoch
# above; on a busy machine they are noisy).
#
# ## 5. Memory: what a rule keeps between forward pass and update
#
# Accuracy is not the only thing to compare. Backprop must keep every layer's
# activations until the backward pass reaches it; a rule that learns block by
# block keeps one block's. `minigrad.inspect.activation_memory(rule, x, y)`
# counts the bytes from the engine's own bookkeeping during one update
# (`Comparison` stores the same number, `memory_peak_bytes`). The difference
# grows with depth, so measure on MLPs of 128-unit layers with a batch of 128:

# %%
x_batch = mg.tensor(digits.train.x[:128])
y_batch = mg.tensor(digits.train.y[:128])


def memory_of(rule_name, depth):
    model = nn.mlp([64] + [128] * depth + [10], "tanh", generator=np.random.default_rng(0))
    return activation_memory(rules.make(rule_name, model, seed=0), x_batch, y_batch)


DEPTHS = [1, 2, 4, 8]
MEMORY_RULES = [rule for rule in RULES if rule != "shallow"]     # the rules, not the control
peaks = {rule: [memory_of(rule, depth).peak for depth in DEPTHS] for rule in MEMORY_RULES}
at_four = {rule: memory_of(rule, 4) for rule in MEMORY_RULES}
for rule in MEMORY_RULES:
    print(f"{rule:26s} peak KiB at depth {DEPTHS}: "
          + ", ".join(f"{b / 1024:.0f}" for b in peaks[rule]))
    assert at_four[rule].left == 0                              # nothing leaked

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
layer_names = list(at_four[MEMORY_RULES[0]].per_layer)
bottom = np.zeros(len(MEMORY_RULES))
for k, layer in enumerate(layer_names):
    sizes = np.array([at_four[rule].per_layer.get(layer, 0) / 1024 for rule in MEMORY_RULES])
    axes[0].bar(range(len(MEMORY_RULES)), sizes, bottom=bottom,
                label=f"Linear {k + 1} (module '{layer}')")
    bottom += sizes
axes[0].set_xticks(range(len(MEMORY_RULES)))
axes[0].set_xticklabels(MEMORY_RULES, rotation=15, fontsize=9)
axes[0].set_ylabel("stored activations at the peak (KiB)")
axes[0].set_title("Depth 4: which layer's activations are alive at the peak")
axes[0].legend(fontsize=7)
styles = [("o", "-", 7), ("s", "--", 9), ("^", ":", 11), ("D", "-", 6), ("v", "--", 8)]
for rule, (marker, dash, size) in zip(MEMORY_RULES, styles):       # bp, fa and dfa coincide
    axes[1].plot(DEPTHS, [b / 1024 for b in peaks[rule]], marker=marker, ls=dash,
                 markersize=size, mfc="none", mew=1.5, label=rule)
axes[1].set_xlabel("hidden layers (128 units each)")
axes[1].set_ylabel("peak stored activations (KiB)")
axes[1].set_title("Peak activation memory of one update vs depth")
axes[1].grid(alpha=0.3)
axes[1].legend(fontsize=8)
fig.suptitle("activation_memory(rule, x, y), batch of 128, float32")
fig.tight_layout()
save_figure(fig, "12_memory")

# %% [markdown]
# Backprop, FA and DFA store every layer (FA and DFA change what is sent back,
# not what must be kept), so their peak grows with depth. The local
# classifiers and the activity-perturbed forward gradient keep one block at a
# time: their peak stays flat as layers are added.
#
# ## 6. Reporting
#
# A comparison is only as good as its description. Report:
#
# * the data (and subset), architecture, optimizer, batch size, schedule and
#   **budget** -- `results.md` writes most of it in its first line;
# * the **tuning protocol**: the grid, the budget of the tuning runs, the
#   validation set, and the rate chosen for each rule;
# * **mean ± std over seeds**, the number of seeds, and what ± means (here the
#   sample standard deviation, `ddof=1`). With 3 seeds the standard deviation
#   itself is rough; the standard error of the mean is std/$\sqrt{n}$;
# * the **test set's own noise**: on 359 test images one image is 0.28 points,
#   and the binomial error printed above is larger than many seed spreads, so
#   differences of a point or less between rules are not evidence;
# * a **control**: the `shallow` rule (only the last layer learns), tuned and
#   run like the others, is what a rule must beat to show it trains its hidden
#   layers at all;
# * cost: time per epoch, memory -- and diverged runs, not hidden.

# %%
workdir.cleanup()          # the run folders are deleted: comment out to keep OUT and its plots

# %% [markdown]
# ## Exercises
#
# **1.** Write `mean_std(values)` returning `(mean, std)` of a list of per-seed
# accuracies, with the standard deviation that `Comparison` reports.

# %%
answer = None   # your answer here: a function mean_std(values) -> (mean, std)
exercise(check_mean_std, answer)

# %% [markdown]
# **2.** Write `pick_lr(sweep)`: given `{learning rate: validation accuracy}`,
# where a diverged run has accuracy `None`, return the rate with the highest
# accuracy, and on a tie the smaller rate (the safer one).

# %%
answer = None   # your answer here: a function pick_lr(sweep: dict) -> float
exercise(check_best_lr, answer)

# %% [markdown]
# **3.** Are two rules' accuracies different beyond the seed noise? Write
# `welch_t(a, b)`: Welch's t statistic
# $t = (\bar a - \bar b)/\sqrt{s_a^2/n_a + s_b^2/n_b}$ for two lists of per-seed
# accuracies ($s^2$: the sample variance). (With 3 seeds each, a two-sided
# test at the 5% level needs $|t|$ above about 2.8.)

# %%
answer = None   # your answer here: a function welch_t(a, b) -> float
exercise(check_welch_t, answer)
