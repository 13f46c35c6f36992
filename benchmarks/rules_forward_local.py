"""Forward-only and local rules beside backprop on Fashion-MNIST.

Every rule trains the same architecture -- the MLP of the widely used
Forward-Forward re-implementation, 784-1000-1000-1000-10 with ReLU -- from
the same initial weights, on the same batches, for the same number of
epochs, with a cosine learning-rate schedule. Each rule uses the optimizer
its paper or reference code uses (``RECIPES``; say so when recording). The
script prints and writes to a JSON file, per rule: the test error after
every epoch, the seconds per epoch, and the peak bytes of activations the
rule keeps alive between its forward computation and its update on one
batch of 128 (``minigrad.inspect.activation_memory``: the engine's own
count of what the graph holds, plus what a rule holds in plain arrays).

    python benchmarks/rules_forward_local.py [--epochs 20] [--rules bp,ff,...]
                                             [--hidden 1000,1000,1000]
                                             [--train-subset N] [--out FILE]

Forward-Forward's test error is its label scan's (the paper's prediction);
its linear read-out's error is recorded beside it. ``--hidden 1024 --rules
bp,pepita`` compares PEPITA with backprop on PEPITA's own architecture.

Goals (the issue): FF and Mono-Forward within 2 points of backprop's test
error, PEPITA within 4.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics

import numpy as np

import minigrad as mg
from minigrad.train import Run, TrainConfig, evaluate

HIDDEN = (1000, 1000, 1000)
#: rule -> (optimizer, learning rate, rule options), from each paper or its reference code
RECIPES = {
    "bp": ("adam", 1e-3, {}),
    "ff": ("adam", 1e-3, {"peer_normalization": 0.03}),      # loeweX/Forward-Forward
    "mono_forward": ("adam", 1e-3, {}),
    "local_ce": ("adam", 1e-3, {}),
    "pepita": ("sgd", 0.01, {}),                              # Dellaferrera & Kreiman, momentum 0.9
}


def memory_of(rule, split, batch=128):
    """Peak activation bytes of one update on ``batch`` training examples."""
    from minigrad.inspect import activation_memory

    x = mg.tensor(split.train.x[:batch])
    report = activation_memory(rule, x, split.train.y[:batch])
    return {"peak": int(report.peak),
            "per_layer_at_peak": {k: int(v) for k, v in report.per_layer.items()},
            "layer_peaks": {k: int(v) for k, v in report.layer_peaks.items()}}


def readout_error(run):
    """Forward-Forward's test error when its linear read-out predicts."""
    _, acc = evaluate(run.model, run.test_loader, run.loss, "classification",
                      lambda x: run.rule.predict(x, prediction="readout"))
    return 100 * (1 - acc)


def readout_features(rule, x, batch=1000):
    """The normalised activities the read-out reads (hidden layers 2..L, or
    the only one), on ``x`` with the neutral label overlaid; no gradient."""
    from minigrad.rules.forward_forward import overlay_labels

    parts = []
    with mg.no_grad():
        for start in range(0, len(x), batch):
            x0 = rule._flat_input(mg.tensor(x[start:start + batch]))
            x0 = overlay_labels(x0, None, rule.num_classes, rule._label_value(x0, training=False))
            _, normed = rule._run_layers(mg.tensor(x0))
            read = normed[1:] if len(normed) > 1 else normed
            parts.append(np.concatenate([h.data for h in read], axis=1))
    return np.concatenate(parts)


def readout_refit_error(run, epochs=10, lr=1e-3, seed=0):
    """A diagnostic for FF's read-out: a fresh linear softmax classifier
    trained (Adam, ``epochs`` passes, batch 128) on the frozen features the
    read-out reads. Far below the trained read-out's error: the read-out's
    training is at fault; as bad: the features have lost the class."""
    rule, split = run.rule, run.split
    f_train = readout_features(rule, split.train.x)
    f_test = readout_features(rule, split.test.x)
    head = mg.nn.Linear(f_train.shape[1], rule.num_classes, generator=np.random.default_rng(seed))
    opt = mg.optim.Adam(head.parameters(), lr=lr)
    order = np.random.default_rng(seed)
    for _ in range(epochs):
        perm = order.permutation(len(f_train))
        for start in range(0, len(perm), 128):
            idx = perm[start:start + 128]
            loss = mg.ops.cross_entropy(head(mg.tensor(f_train[idx])),
                                        split.train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with mg.no_grad():
        pred = head(mg.tensor(f_test)).data.argmax(axis=1)
    return 100 * float((pred != split.test.y).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rules", default=",".join(RECIPES))
    parser.add_argument("--hidden", default=",".join(map(str, HIDDEN)),
                        help="hidden widths, comma-separated (default: %(default)s)")
    parser.add_argument("--train-subset", type=int, default=0,
                        help="train on the first N examples (0: all 60000)")
    parser.add_argument("--out", default="benchmarks/out/rules_forward_local.json")
    args = parser.parse_args(argv)
    mg.backend.keep_freed_memory()          # a training script owns its process
    from bench_engine import machine

    hidden = tuple(int(h) for h in args.hidden.split(","))
    names = args.rules.split(",")
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"no recipe for {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    print(f"machine: {machine()}; numpy {np.__version__}, minigrad {mg.__version__}")
    print(f"MLP 784-{'-'.join(map(str, hidden))}-10 (relu) on Fashion-MNIST, {args.epochs} "
          f"epochs, batch 128, cosine schedule"
          + (f", first {args.train_subset} training examples" if args.train_subset else ""))
    results = {"epochs": args.epochs, "hidden": hidden, "train_subset": args.train_subset,
               "rules": {}}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    def save():
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)

    for name in names:
        optimizer, lr, options = RECIPES[name]
        cfg = TrainConfig(model="mlp", data="fashion-mnist", hidden=hidden, activation="relu",
                          optimizer=optimizer, lr=lr, epochs=args.epochs, batch_size=128,
                          schedule="cosine", rule=name, rule_options=dict(options), seed=0,
                          train_subset=args.train_subset)
        run = Run(cfg, None, progress=False, log=lambda s: None)
        entry = {"optimizer": optimizer, "lr": lr, "options": options, "epochs": []}
        results["rules"][name] = entry
        for _ in range(args.epochs):
            rec = run.run_epoch()
            entry["epochs"].append({"test_error": 100 * (1 - rec["test_accuracy"]),
                                    "seconds": rec["seconds"]})
            if name == "ff":
                entry["epochs"][-1]["readout_error"] = readout_error(run)
            save()
        entry["memory"] = memory_of(run.rule, run.split)     # after training: no effect on it
        if name == "ff":
            entry["readout_refit_error"] = readout_refit_error(run)
        errors = [e["test_error"] for e in entry["epochs"]]
        seconds = statistics.median(e["seconds"] for e in entry["epochs"])
        print(f"  {name:<13} {optimizer} lr {lr:<7g} test error {errors[-1]:6.2f}% (best "
              f"{min(errors):.2f}%)  {seconds:6.1f} s/epoch  activations kept "
              f"{entry['memory']['peak'] / 2**20:7.2f} MiB", flush=True)
        if name == "ff":
            print(f"  {'':<13} linear read-out: test error "
                  f"{entry['epochs'][-1]['readout_error']:6.2f}%; a fresh read-out fitted on "
                  f"the frozen features: {entry['readout_refit_error']:6.2f}%", flush=True)
    save()


if __name__ == "__main__":
    main()
