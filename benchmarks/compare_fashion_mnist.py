"""The Fashion-MNIST comparison of every learning rule, and the DFA width
sweep, recorded in ``benchmarks/compare_fashion_mnist.md``.

    python benchmarks/compare_fashion_mnist.py run       # train (resumable; ~35 min on 2 cores)
    python benchmarks/compare_fashion_mnist.py figures   # the grouped figures of the report

``run`` is two ``minigrad compare`` commands (``COMPARE`` and ``SWEEP``
below) writing to ``benchmarks/out/``; ``figures`` reads their run folders
and draws, for each family of rules beside backprop, the update alignment
over training and the test curves (three families on one figure would be
twenty lines), plus the sweep's plots, into
``benchmarks/compare_fashion_mnist/``.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from minigrad import cli
from minigrad.inspect import load_records, plots

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
FIGURES = HERE / "compare_fashion_mnist"

FAMILIES = {
    "feedback": ["bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "pfa"],
    "forward_local": ["bp", "ff", "mono_forward", "local_ce", "pepita"],
    "estimators": ["bp", "shallow", "forward_gradient", "activity_forward_gradient", "spsa",
                   "node_perturbation", "predictive_coding", "binary_connect",
                   "straight_through"],
}
RULES = ["bp", "shallow", "fa", "dfa", "usf", "brsf", "frsf", "kp", "pfa", "ff", "mono_forward",
         "local_ce", "pepita", "forward_gradient", "activity_forward_gradient", "spsa",
         "node_perturbation", "predictive_coding", "binary_connect", "straight_through"]
# The default rate (0.02 x the rule's lr_scale) made these diverge on this model
# (DFA's ReLU outputs grow without bound; the estimators' variance grows with the
# 270k parameters); their rates are the best of rules_estimators.py's grid search
# on the same model and optimizer (DFA: the 20-epoch feedback benchmark's).
RULE_LR = ["dfa=0.003", "forward_gradient=0.00012", "spsa=0.00006",
           "activity_forward_gradient=0.0012", "node_perturbation=0.0024"]
COMPARE = (["compare", "--rules", ",".join(RULES), "--data", "fashion-mnist", "--model", "mlp",
            "--hidden", "256,256", "--batch-size", "128", "--epochs", "5", "--seeds", "3",
            "--record-every", "100", "--out", str(OUT / "compare_fmnist"), "--no-progress"]
           + [a for lr in RULE_LR for a in ("--rule-lr", lr)])
SWEEP = ["compare", "--rules", "bp,dfa", "--data", "fashion-mnist", "--model", "mlp",
         "--hidden", "64,64,64", "--activation", "tanh", "--batch-size", "128", "--epochs", "3",
         "--seeds", "3", "--record-every", "100", "--sweep", "width=4,8,16,32,64,128,256",
         "--out", str(OUT / "compare_dfa_width"), "--no-progress"]


def _runs(folder, rule, seeds=3):
    out = []
    for seed in range(seeds):
        path = folder / "runs" / "all" / rule / f"seed{seed}" / "metrics.jsonl"
        if path.exists():
            out.append(load_records(path))
    return out


def figures():
    folder = OUT / "compare_fmnist"
    FIGURES.mkdir(exist_ok=True)
    for family, rules in FAMILIES.items():
        runs = {rule: _runs(folder, rule) for rule in rules}
        records = {r: [[x for x in run if x.get("kind") == "inspect"] for run in v]
                   for r, v in runs.items()}
        curves = {r: [[x for x in run if x.get("kind") == "epoch"] for run in v]
                  for r, v in runs.items()}
        plots.plot_update_alignment(records, FIGURES / f"update_alignment_{family}")
        plots.plot_curves(curves, FIGURES / f"curves_{family}")
    plots.plot_weight_alignment({r: [[x for x in run if x.get("kind") == "inspect"]
                                     for run in _runs(folder, r)]
                                 for r in ["fa", "usf", "brsf", "frsf", "kp", "pfa", "pepita"]},
                                FIGURES / "weight_alignment")
    for name in ("sweep_width_accuracy", "sweep_width_angle"):
        for suffix in (".png", ".svg"):
            shutil.copy(OUT / "compare_dfa_width" / "plots" / (name + suffix),
                        FIGURES / ("dfa_" + name + suffix))


def main(argv=None):
    what = (argv or sys.argv[1:] or ["figures"])[0]
    if what == "run":
        return cli.main(COMPARE) or cli.main(SWEEP)
    if what == "figures":
        figures()
        return 0
    raise SystemExit(f"usage: {sys.argv[0]} run|figures")


if __name__ == "__main__":
    sys.exit(main())
