"""Feedback-alignment rules on Fashion-MNIST, against published numbers.

Part 1 reproduces the Fashion-MNIST column of the biotorch benchmark
(Sanfiz & Akrout 2021, "Benchmarking the Accuracy and Robustness of
Feedback Alignment Algorithms"): LeNet, SGD with momentum 0.9, weight decay
1e-3, batch 64, 100 epochs, learning rate ×0.1 at epochs 50 and 75. Their
top-1 test errors: BP 9.2, FA 13.06, DFA 12.81, uSF 9.69, brSF 10.02,
frSF 9.61. ``--epochs`` runs a shorter budget (the milestones scale with
it); the budget is printed with every number.

Part 2 is a table for every multi-layer rule, KP and PFA included, on an
MLP 784-256-256-10 (tanh): test error and the final update alignment of
each layer's weights with backprop (mean angle over 5 batches of 256).

Results go to a JSON file after every epoch, so an interrupted run keeps
what it has. Record them in RESULTS.md.

    python benchmarks/rules_feedback.py [--part lenet|mlp|both] [--epochs 100]
                                        [--mlp-epochs 20] [--lr 0.01] [--rules fa,dfa]
                                        [--backend numpy|cupy] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import minigrad as mg
from minigrad import nn, rules
from minigrad.inspect import update_alignment

PUBLISHED = {"bp": 9.2, "fa": 13.06, "dfa": 12.81, "usf": 9.69, "brsf": 10.02, "frsf": 9.61}
MLP_RULES = ["bp", "fa", "dfa", "usf", "brsf", "frsf", "kp", "pfa", "shallow"]
PLASTIC = ("kp", "pfa")    # these decay W (and their feedback) themselves
BACKEND = "numpy"          # --backend cupy runs everything on the GPU


def test_error(model, split):
    model.eval()
    wrong = 0
    with mg.no_grad():
        for i in range(0, len(split.test), 1000):
            out = model(mg.tensor(split.test.x[i:i + 1000]).to(BACKEND))
            wrong += int((out.numpy().argmax(1) != split.test.y[i:i + 1000]).sum())
    model.train()
    return 100.0 * wrong / len(split.test)


def train(rule_name, model, split, epochs, lr, batch, milestones, weight_decay, seed,
          on_epoch):
    rule_opts = {"weight_decay": weight_decay} if rule_name in PLASTIC else {}
    rule = rules.make(rule_name, model, seed=seed, **rule_opts)
    opt = mg.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                       weight_decay=0.0 if rule_name in PLASTIC else weight_decay)
    sched = mg.optim.MultiStepLR(opt, milestones, 0.1)
    loader = mg.data.DataLoader(split.train, batch, shuffle=True, seed=seed, backend=BACKEND)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        for x, y in loader:
            stats = rule.step(x, y, opt)
            if not np.isfinite(stats["loss"]):
                raise FloatingPointError(f"{rule_name}: the loss diverged at epoch {epoch}")
        sched.step()
        on_epoch(epoch, test_error(model, split), time.perf_counter() - start, rule)
    return rule


def part_lenet(split, epochs, lr, results, save, only=None):
    milestones = [max(1, epochs // 2), max(2, (3 * epochs) // 4)]
    print(f"\nLeNet-5, SGD lr {lr['default']} (unless stated) momentum 0.9 weight decay 1e-3, "
          f"batch 64, {epochs} epochs, lr x0.1 at {milestones}")
    for name in PUBLISHED:
        if only and name not in only:
            continue
        mg.manual_seed(0)
        model = nn.lenet5(generator=np.random.default_rng(0)).to(BACKEND)
        rows = results.setdefault("lenet", {}).setdefault(name, [])
        rows.clear()

        def on_epoch(epoch, err, seconds, rule, rows=rows, name=name):
            rows.append({"epoch": epoch, "test_error": err, "seconds": seconds})
            save()
            if epoch % 10 == 0 or epoch == epochs:
                print(f"  {name:<5} epoch {epoch:3d}: test error {err:5.2f}%  "
                      f"({seconds:.1f} s/epoch)", flush=True)

        rule_lr = lr.get(name, lr["default"])
        results.setdefault("lenet_lr", {})[name] = rule_lr
        start = time.perf_counter()
        train(name, model, split, epochs, rule_lr, 64, milestones, 1e-3, 0, on_epoch)
        results.setdefault("lenet_wall_s", {})[name] = time.perf_counter() - start
        save()
        best = min(r["test_error"] for r in rows)
        print(f"  {name:<5} (lr {rule_lr}) final {rows[-1]['test_error']:.2f}% (best {best:.2f}%), "
              f"published "
              f"{PUBLISHED[name]}%; wall time {results['lenet_wall_s'][name] / 60:.1f} min "
              f"({BACKEND})", flush=True)


def part_mlp(split, epochs, lr, results, save, only=None):
    milestones = [max(1, epochs // 2), max(2, (3 * epochs) // 4)]
    print(f"\nMLP 784-256-256-10 (tanh), SGD lr {lr['default']} (unless stated) momentum 0.9 "
          f"weight decay 1e-3, batch 64, "
          f"{epochs} epochs, lr x0.1 at {milestones}")
    probe = [(mg.tensor(split.train.x[i * 256:(i + 1) * 256]).to(BACKEND),
              mg.tensor(split.train.y[i * 256:(i + 1) * 256]).to(BACKEND)) for i in range(5)]
    for name in MLP_RULES:
        if only and name not in only:
            continue
        mg.manual_seed(0)
        model = nn.mlp([784, 256, 256, 10], "tanh", generator=np.random.default_rng(0)).to(BACKEND)
        rows = []

        def on_epoch(epoch, err, seconds, rule, rows=rows):
            rows.append({"epoch": epoch, "test_error": err, "seconds": seconds})

        rule = train(name, model, split, epochs, lr.get(name, lr["default"]), 64, milestones,
                     1e-3, 0, on_epoch)
        angles = {}
        for x, y in probe:
            for pname, v in update_alignment(rule, model, x, y).items():
                if pname.endswith("weight"):
                    angles.setdefault(pname, []).append(v["angle"])
        angles = {k: float(np.mean(v)) for k, v in angles.items()}
        weight_al = {k: float(v) for k, v in rule.weight_alignment().items()}
        results.setdefault("mlp", {})[name] = {"rows": rows, "update_alignment": angles,
                                               "weight_alignment": weight_al}
        save()
        al = "  ".join(f"{k} {v:5.1f}°" for k, v in angles.items())
        print(f"  {name:<8} test error {rows[-1]['test_error']:5.2f}%   update alignment: {al}"
              f"   ({np.mean([r['seconds'] for r in rows]):.1f} s/epoch)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["lenet", "mlp", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--mlp-epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--rule-lr", default="",
                        help="per-rule learning rates, e.g. dfa=0.003,fa=0.01 (as biotorch "
                             "tunes the rate per method)")
    parser.add_argument("--rules", help="comma-separated subset of the rules to run")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--out", default="benchmarks/out/rules_feedback.json")
    args = parser.parse_args(argv)
    mg.backend.keep_freed_memory()          # a training script owns its process
    global BACKEND
    BACKEND = args.backend
    from bench_engine import machine
    print(f"machine: {machine()}; numpy {np.__version__}, minigrad {mg.__version__}")
    split = mg.data.load_dataset("fashion-mnist")
    results = {"budget": {"lenet_epochs": args.epochs, "mlp_epochs": args.mlp_epochs,
                          "lr": args.lr, "rule_lr": args.rule_lr}, "backend": BACKEND,
               "machine": machine()}
    lr = {"default": args.lr}
    for item in filter(None, args.rule_lr.split(",")):
        name, value = item.split("=")
        lr[name.strip()] = float(value)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    def save():
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)

    only = args.rules.split(",") if args.rules else None
    if args.part in ("mlp", "both"):
        part_mlp(split, args.mlp_epochs, lr, results, save, only)
    if args.part in ("lenet", "both"):
        part_lenet(split, args.epochs, lr, results, save, only)


if __name__ == "__main__":
    main()
