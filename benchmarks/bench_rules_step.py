"""The cost of one step of each learning rule against one backprop step,
measured side by side in one run on the CPU.

MLP 784-1000-1000-10 (ReLU), batch 128, float32, SGD: one ``rule.step``
(the rule's update and the optimizer's step) of bp, fa, dfa, usf, kp, pfa;
one step of forward_gradient (Gaussian and sign tangents) and of
activity_forward_gradient (one jvp for all layers) against one forward pass
of the model (no graph). The performance issue's targets: the feedback rules' step at most
1.2x backprop's; the forward gradient's at most 2.5x a forward pass.

    python benchmarks/bench_rules_step.py [--rounds 15]

Interleaved rounds as in ``bench_engine.py`` (each rule's step, then the
next, with a pause for OpenBLAS's idle threads); medians over rounds and
medians of per-round ratios.
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np

import minigrad as mg
from minigrad import nn, optim, rules
from minigrad.backend import describe_machine

from bench_engine import interleaved, ratio

FEEDBACK = ("bp", "fa", "dfa", "usf", "kp", "pfa")
SIZES = (784, 1000, 1000, 10)


def rule_step(name, x, y, **options):
    model = nn.mlp(SIZES, "relu", generator=np.random.default_rng(0))
    rule = rules.make(name, model, seed=0, **options)
    opt = optim.SGD(list(model.parameters()) + list(rule.parameters()), lr=1e-4)
    return lambda: rule.step(x, y, opt)


def forward_pass(x):
    model = nn.mlp(SIZES, "relu", generator=np.random.default_rng(0))

    def run():
        with mg.no_grad():
            return model(x)
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    mg.set_default_dtype(np.float32)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((128, SIZES[0])).astype(np.float32))
    y = rng.integers(0, SIZES[-1], 128)
    print(f"machine: {describe_machine()}; numpy {np.__version__}, minigrad {mg.__version__}; "
          f"{args.rounds} interleaved rounds")
    print(f"MLP {'-'.join(map(str, SIZES))} (relu), batch 128, float32, SGD")

    steps = {name: rule_step(name, x, y) for name in FEEDBACK}
    t = interleaved(steps, args.rounds, reps=5)
    print("\nfeedback rules: one step against one backprop step (target <= 1.2)")
    for name in FEEDBACK:
        print(f"   {name:<5} {statistics.median(t[name]) * 1e3:8.2f} ms   "
              f"x bp {ratio(t, name, 'bp'):.3f}")

    fns = {"forward pass": forward_pass(x),
           "forward_gradient": rule_step("forward_gradient", x, y),
           "fg, sign tangents": rule_step("forward_gradient", x, y, distribution="rademacher"),
           "activity fg": rule_step("activity_forward_gradient", x, y, per_layer=False),
           "bp": steps["bp"]}
    t = interleaved(fns, args.rounds, reps=5)
    print("\nforward gradient: one step against one forward pass (target <= 2.5)")
    for name in fns:
        print(f"   {name:<17} {statistics.median(t[name]) * 1e3:8.2f} ms")
    print(f"   forward_gradient / forward pass = {ratio(t, 'forward_gradient', 'forward pass'):.3f}")
    print(f"   fg with sign tangents / forward pass = "
          f"{ratio(t, 'fg, sign tangents', 'forward pass'):.3f}")
    print(f"   activity_forward_gradient (one jvp for all layers) / forward pass = "
          f"{ratio(t, 'activity fg', 'forward pass'):.3f}")
    print(f"   bp step / forward pass          = {ratio(t, 'bp', 'forward pass'):.3f}")


if __name__ == "__main__":
    main()
