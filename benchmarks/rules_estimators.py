"""Gradient estimators beside the exact gradient: bias, variance and angle
as functions of the number of samples K and of the network's width; test
error at a fixed budget next to backprop; time per update.

    python benchmarks/rules_estimators.py [--epochs 3] [--draws 16] [--quick]

Two tasks, each at the network's initial weights on one batch of 128:

* Fashion-MNIST, an MLP 784-w-w-10 (ReLU, cross-entropy);
* teacher-student: inputs x ~ N(0, I₁₀₀), targets from a fixed random
  teacher 100-64-64-10 (tanh), a student of the same shape (mean squared
  error) -- a task whose exact gradient is never small by accident.

For each estimator (``ESTIMATORS``) the script draws ``--draws`` updates
per setting and reports (``minigrad.inspect.estimator_statistics``) the
angle of a single draw to the gradient, the angle of their mean (the bias
up to the remaining noise), the variance and the signal-to-noise ratio --
for K = 1, 4, 16, 64 at width 128, and for widths 32 … 512 at K = 1.
Then every rule of the issue trains the Fashion-MNIST MLP (width 256) for
``--epochs`` epochs with SGD (momentum 0.9, cosine schedule) at the best
learning rate of a small grid tried for one epoch on 10 000 examples, and
the time of one update (batch 128) is measured against one backprop step.

Writes ``benchmarks/out/rules_estimators.json`` and the plots
``benchmarks/estimators_angle_vs_k.png`` and
``benchmarks/estimators_angle_vs_width.png``.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time

import numpy as np

import minigrad as mg
from minigrad import nn, rules
from minigrad.inspect import estimator_statistics
from minigrad.train import Run, TrainConfig, recipe

#: estimator -> its options (K is set per measurement)
ESTIMATORS = {
    "forward_gradient": {},
    "activity_forward_gradient": {},
    "spsa": {},
    "node_perturbation": {"antithetic": True},
}
#: rules trained at the fixed budget (the issue's rules, beside backprop and the control)
TRAINED = ["bp", "shallow", "forward_gradient", "activity_forward_gradient", "spsa",
           "node_perturbation", "predictive_coding", "binary_connect", "straight_through"]
#: learning rates tried, as multiples of the rule's default SGD rate (0.02 x its lr_scale)
LR_GRID = (10.0, 3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
KS = (1, 4, 16, 64)
WIDTHS = (32, 64, 128, 256, 512)
HERE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=1)
def fashion_split():
    return mg.data.load_dataset("fashion-mnist")


def fashion_task(width, seed=0):
    split = fashion_split()
    x = mg.tensor(split.train.x[:128].reshape(128, -1))
    y = mg.tensor(split.train.y[:128])
    model = nn.mlp([784, width, width, 10], "relu", generator=np.random.default_rng(seed))
    return model, x, y, "cross_entropy"


def teacher_task(width, seed=0):
    rng = np.random.default_rng(1)
    teacher = nn.mlp([100, 64, 64, 10], "tanh", generator=rng)
    x = mg.tensor(rng.standard_normal((128, 100)))
    with mg.no_grad():
        y = teacher(x).detach()
    model = nn.mlp([100, width, width, 10], "tanh", generator=np.random.default_rng(seed))
    return model, x, y, "mse"


TASKS = {"fashion-mnist": fashion_task, "teacher-student": teacher_task}


def measure(task, name, width, k, draws):
    model, x, y, loss = TASKS[task](width)
    rule = rules.make(name, model, loss=loss, seed=0, n_samples=k, **ESTIMATORS[name])
    s = estimator_statistics(rule, x, y, draws)["all"]
    return {"single_angle": s.mean_angle, "mean_angle": s.bias_angle, "variance": s.variance,
            "snr": s.snr, "relative_error": s.relative_error, "norm_ratio": s.norm_ratio,
            "parameters": sum(p.size for p in model.parameters())}


def config(name, lr, epochs, subset=0):
    return TrainConfig(model="mlp", data="fashion-mnist", hidden=(256, 256), activation="relu",
                       optimizer="sgd", lr=lr, momentum=0.9, epochs=epochs, batch_size=128,
                       schedule="cosine", rule=name, seed=0, train_subset=subset)


def train(name, epochs, log):
    """The best learning rate of the grid (``LR_GRID`` times the rule's
    default) after one epoch on 10 000 examples, then the full budget at
    that rate; if the full run diverges, the next best rate."""
    base = recipe("fashion-mnist", "sgd", name)["lr"]
    trials = {}
    for factor in LR_GRID:
        lr = float(f"{base * factor:.3g}")
        try:
            run = Run(config(name, lr, 1, 10000), None, progress=False, log=lambda s: None)
            trials[lr] = run.run_epoch()["test_accuracy"]
        except mg.ArgumentError:        # the loss diverged
            trials[lr] = 0.0
    diverged = []
    for lr in sorted(trials, key=trials.get, reverse=True):
        run = Run(config(name, lr, epochs), None, progress=False, log=lambda s: None)
        errors, seconds = [], []
        try:
            for _ in range(epochs):
                rec = run.run_epoch()
                errors.append(100 * (1 - rec["test_accuracy"]))
                seconds.append(rec["seconds"])
        except mg.ArgumentError:
            diverged.append(lr)
            continue
        log(f"  {name:<26} lr {lr:<9g} test error {errors[-1]:6.2f}%  "
            f"{statistics.median(seconds):6.1f} s/epoch"
            + (f"  (diverged at {diverged})" if diverged else ""))
        return {"lr": lr, "lr_trials": trials, "diverged": diverged, "test_error": errors,
                "seconds": seconds}
    log(f"  {name:<26} diverged at every rate tried")
    return {"lr": None, "lr_trials": trials, "diverged": diverged}


def time_per_update(name, repeats):
    model, x, y, _ = fashion_task(256)
    rule = rules.make(name, model, seed=0)
    rule.updates(x, y)                                  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        rule.updates(x, y)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def plot(results, path_k, path_w):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for path, key, xs, xlabel in ((path_k, "by_k", KS, "samples per update K"),
                                  (path_w, "by_width", WIDTHS, "hidden width w")):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for ax, task in zip(axes, TASKS):
            for name in ESTIMATORS:
                rows = results[key][task][name]
                ax.plot(xs, [rows[str(v)]["single_angle"] for v in xs], "o-", label=name)
            ax.set_xscale("log", base=2)
            ax.set_xlabel(xlabel)
            ax.set_title(task)
            ax.axhline(90, color="gray", lw=0.5)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("angle of one update to the gradient (degrees)")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--quick", action="store_true",
                        help="smaller sweeps, no training (a smoke test)")
    parser.add_argument("--parts", default="sweeps,timing,training",
                        help="which parts to run (comma-separated); the others are kept "
                             "from --out when it exists")
    parser.add_argument("--out", default=os.path.join(HERE, "out", "rules_estimators.json"))
    args = parser.parse_args(argv)
    mg.backend.keep_freed_memory()          # a training script owns its process
    from bench_engine import machine

    global KS, WIDTHS
    if args.quick:
        KS, WIDTHS = (1, 4), (32, 64)
    parts = set(args.parts.split(","))
    results = {}
    if os.path.exists(args.out) and parts != {"sweeps", "timing", "training"}:
        with open(args.out) as f:
            results = json.load(f)

    def save():
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)

    print(f"machine: {machine()}; numpy {np.__version__}, minigrad {mg.__version__}")
    if "sweeps" in parts:
        mg.set_default_dtype(np.float64)     # statistics in float64; training in float32
        results.update({"draws": args.draws, "ks": KS, "widths": WIDTHS, "by_k": {},
                        "by_width": {}})
        for task in TASKS:
            results["by_k"][task], results["by_width"][task] = {}, {}
            for name in ESTIMATORS:
                by_k = {str(k): measure(task, name, 128, k, args.draws) for k in KS}
                by_w = {str(w): measure(task, name, w, 1, args.draws) for w in WIDTHS}
                results["by_k"][task][name], results["by_width"][task][name] = by_k, by_w
                print(f"{task:<16} {name:<26} angle of one update, K = "
                      + ", ".join(f"{k}: {by_k[str(k)]['single_angle']:5.1f}°" for k in KS)
                      + f"; of the mean of {args.draws} at K = 1: "
                      f"{by_k[str(KS[0])]['mean_angle']:5.1f}°", flush=True)
                print(f"{'':<16} {'':<26} by width "
                      + ", ".join(f"{w}: {by_w[str(w)]['single_angle']:5.1f}°"
                                  for w in WIDTHS), flush=True)
        save()
        # a --quick smoke run must not overwrite the recorded plots
        where = os.path.dirname(os.path.abspath(args.out)) if args.quick else HERE
        plot(results, os.path.join(where, "estimators_angle_vs_k.png"),
             os.path.join(where, "estimators_angle_vs_width.png"))
    mg.set_default_dtype(np.float32)
    if "timing" in parts:
        bp_time = time_per_update("bp", 5 if args.quick else 20)
        results["time_per_update"] = {}
        for name in TRAINED:
            t = time_per_update(name, 5 if args.quick else 20)
            results["time_per_update"][name] = {"seconds": t, "vs_bp": t / bp_time}
            print(f"  {name:<26} one update {1e3 * t:7.2f} ms = {t / bp_time:5.2f}x "
                  "backprop's", flush=True)
        save()
    if "training" in parts and not args.quick:
        print(f"training: Fashion-MNIST, MLP 784-256-256-10 (relu), {args.epochs} epochs, "
              "SGD momentum 0.9, batch 128, cosine schedule")
        results["training"] = {}
        for name in TRAINED:
            results["training"][name] = train(name, args.epochs, print)
            save()


if __name__ == "__main__":
    main()
