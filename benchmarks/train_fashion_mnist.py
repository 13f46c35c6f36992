"""Backprop on Fashion-MNIST: minigrad and PyTorch side by side.

Trains the MLP 784-1000-1000-10 and LeNet-5 with backpropagation, SGD with
momentum 0.9 and a cosine learning-rate schedule. minigrad and PyTorch
start from the same initial weights, see the same mini-batches in the same
order, and take turns epoch by epoch (with a pause so neither inherits the
other's spinning threads), so both the accuracies and the seconds per
epoch are comparable. Prints a table per model; record the results in
RESULTS.md.

    python benchmarks/train_fashion_mnist.py [--models mlp,lenet5] [--epochs-mlp 20]
                                             [--epochs-lenet 15] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

import minigrad as mg
from bench_engine import machine

CONFIGS = {
    "mlp": {"batch": 128, "lr": 0.02, "epochs": 20},
    "lenet5": {"batch": 64, "lr": 0.02, "epochs": 15},
}


def torch_twin(model_name, mg_model):
    """The same architecture in torch, with minigrad's initial weights."""
    import torch
    import torch.nn as tnn

    if model_name == "mlp":
        net = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 1000), tnn.ReLU(),
                             tnn.Linear(1000, 1000), tnn.ReLU(), tnn.Linear(1000, 10))
    else:
        net = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                             tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                             tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                             tnn.Linear(84, 10))
    theirs = [p for p in net.parameters()]
    ours = list(mg_model.parameters())
    assert [tuple(p.shape) for p in theirs] == [p.shape for p in ours]
    with torch.no_grad():
        for t, m in zip(theirs, ours):
            t.copy_(torch.tensor(m.numpy()))
    return net


def accuracy_mg(model, x, y):
    model.eval()
    correct = 0
    with mg.no_grad():
        for i in range(0, len(y), 1000):
            out = model(mg.Tensor(x[i:i + 1000]))
            correct += int((out.numpy().argmax(1) == y[i:i + 1000]).sum())
    model.train()
    return correct / len(y)


def accuracy_torch(net, x, y):
    import torch
    net.eval()
    with torch.no_grad():
        correct = sum(int((net(torch.tensor(x[i:i + 1000])).argmax(1).numpy()
                           == y[i:i + 1000]).sum()) for i in range(0, len(y), 1000))
    net.train()
    return correct / len(y)


def run(model_name, epochs, split, seed=0, pause=0.5):
    import torch

    cfg = CONFIGS[model_name]
    mg.manual_seed(seed)
    gen = np.random.default_rng(seed)
    model = (mg.nn.mlp([784, 1000, 1000, 10], generator=gen) if model_name == "mlp"
             else mg.nn.lenet5(generator=gen))
    net = torch_twin(model_name, model)
    opt = mg.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9)
    sched = mg.optim.CosineAnnealingLR(opt, epochs)
    t_opt = torch.optim.SGD(net.parameters(), lr=cfg["lr"], momentum=0.9)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, epochs)
    xtr, ytr = split.train.x, split.train.y
    xte, yte = split.test.x, split.test.y
    order_gen = np.random.default_rng(seed + 1)
    rows = []
    for epoch in range(1, epochs + 1):
        order = order_gen.permutation(len(ytr))
        batches = [order[i:i + cfg["batch"]] for i in range(0, len(order), cfg["batch"])]
        time.sleep(pause)
        start = time.perf_counter()
        for idx in batches:
            loss = mg.cross_entropy(model(mg.Tensor(xtr[idx])), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        mg_seconds = time.perf_counter() - start
        sched.step()
        time.sleep(pause)
        start = time.perf_counter()
        for idx in batches:
            t_loss = torch.nn.functional.cross_entropy(net(torch.tensor(xtr[idx])),
                                                       torch.tensor(ytr[idx]))
            t_opt.zero_grad()
            t_loss.backward()
            t_opt.step()
        torch_seconds = time.perf_counter() - start
        t_sched.step()
        row = {"epoch": epoch, "minigrad_seconds": mg_seconds, "torch_seconds": torch_seconds,
               "minigrad_test_accuracy": accuracy_mg(model, xte, yte),
               "torch_test_accuracy": accuracy_torch(net, xte, yte)}
        rows.append(row)
        print(f"  {model_name} epoch {epoch:2d}: minigrad {row['minigrad_test_accuracy']:.2%} "
              f"({mg_seconds:.1f} s)   torch {row['torch_test_accuracy']:.2%} "
              f"({torch_seconds:.1f} s)", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,lenet5")
    parser.add_argument("--epochs-mlp", type=int, default=CONFIGS["mlp"]["epochs"])
    parser.add_argument("--epochs-lenet", type=int, default=CONFIGS["lenet5"]["epochs"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    mg.backend.keep_freed_memory()          # a training script owns its process

    import torch

    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), minigrad {mg.__version__}")
    split = mg.data.load_dataset("fashion-mnist")
    results = {}
    for name in args.models.split(","):
        epochs = args.epochs_mlp if name == "mlp" else args.epochs_lenet
        cfg = CONFIGS[name]
        print(f"\n{name}: backprop, SGD lr {cfg['lr']} momentum 0.9, cosine schedule, batch "
              f"{cfg['batch']}, {epochs} epochs, float32")
        rows = run(name, epochs, split)
        results[name] = rows
        mg_s = statistics.median(r["minigrad_seconds"] for r in rows)
        t_s = statistics.median(r["torch_seconds"] for r in rows)
        ratio = statistics.median(r["minigrad_seconds"] / r["torch_seconds"] for r in rows)
        print(f"  final test accuracy: minigrad {rows[-1]['minigrad_test_accuracy']:.2%} "
              f"(best {max(r['minigrad_test_accuracy'] for r in rows):.2%}), torch "
              f"{rows[-1]['torch_test_accuracy']:.2%}")
        print(f"  seconds per epoch (median): minigrad {mg_s:.2f}, torch {t_s:.2f}, ratio "
              f"{ratio:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
