"""GPU benchmarks: minigrad on CuPy against PyTorch on CUDA, side by side in one run.

1. One training step (forward, backward, SGD update) of an MLP 784-1000-1000-10
   (ReLU, cross-entropy) at batch 128 and 1024.
2. One LeNet-5 training step at batch 128 and 1024.
3. One LeNet-5 step of FA, DFA and the sign-symmetry rules against BP's, at
   batch 64 (the biotorch setting of the 100-epoch runs).

Both libraries compute in float32 with TF32 off (PyTorch's cuBLAS and cuDNN
would otherwise round matmul inputs to 10 bits; CuPy does not by default),
start from the same weights, and end each step with ``loss.item()``, which
waits for the GPU. The steps run interleaved (round-robin over several
rounds) and each ratio is the median of the per-round ratios.

    python benchmarks/bench_gpu.py [--rounds 10] [--reps 30] [--out FILE]
    python benchmarks/bench_gpu.py --smoke      # NumPy vs torch CPU, tiny: checks the script
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import numpy as np

import minigrad as mg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import interleaved, machine, ratio  # noqa: E402

SIZES = [784, 1000, 1000, 10]
LR = 0.01


def torch_twin(model_name):
    import torch

    nn = torch.nn
    if model_name == "mlp":
        layers = []
        for i, o in zip(SIZES[:-1], SIZES[1:]):
            layers += [nn.Linear(i, o), nn.ReLU()]
        return nn.Sequential(*layers[:-1])
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def minigrad_model(model_name, rng):
    if model_name == "mlp":
        return mg.nn.mlp(SIZES, "relu", generator=rng)
    return mg.nn.lenet5(1, 10, 28, "relu", generator=rng)


def problem(model_name, batch, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, 784) if model_name == "mlp" else (batch, 1, 28, 28)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, batch), rng


def step_pair(model_name, batch, backend, device):
    """{"minigrad": step, "torch": step} on the same weights and batch."""
    import torch

    x, y, rng = problem(model_name, batch)
    model = minigrad_model(model_name, rng)
    tmodel = torch_twin(model_name)
    with torch.no_grad():
        for tp, (_, p) in zip(tmodel.parameters(), model.named_parameters()):
            tp.copy_(torch.tensor(p.numpy()))
    model.to(backend)
    tmodel.to(device)
    opt = mg.optim.SGD(model.parameters(), lr=LR)
    topt = torch.optim.SGD(tmodel.parameters(), lr=LR)
    xt, yt = mg.tensor(x).to(backend), mg.tensor(y).to(backend)
    tx, ty = torch.tensor(x, device=device), torch.tensor(y, device=device)

    def minigrad_step():
        loss = mg.cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    def torch_step():
        loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
        topt.zero_grad()
        loss.backward()
        topt.step()
        return loss.item()

    return {"minigrad": minigrad_step, "torch": torch_step}


def rule_steps(names, batch, backend):
    """{rule: step} for LeNet-5 trained by each rule (minigrad only)."""
    x, y, _ = problem("lenet5", batch)
    out = {}
    for name in names:
        model = minigrad_model("lenet5", np.random.default_rng(0)).to(backend)
        rule = mg.rules.make(name, model, seed=0)
        opt = mg.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=1e-3)
        xt, yt = mg.tensor(x).to(backend), mg.tensor(y).to(backend)
        out[name] = (lambda rule=rule, opt=opt, xt=xt, yt=yt: rule.step(xt, yt, opt)["loss"])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--batches", default="128,1024")
    parser.add_argument("--smoke", action="store_true",
                        help="run on the CPU (NumPy, torch CPU) with tiny counts")
    parser.add_argument("--out", default="benchmarks/out/bench_gpu.json")
    args = parser.parse_args(argv)
    import torch

    if args.smoke:
        backend, device = "numpy", "cpu"
        args.rounds, args.reps, args.batches = 1, 1, "8"
    else:
        backend, device = "cupy", "cuda"
        if not mg.cupy_available():
            raise SystemExit("bench_gpu: CuPy with a GPU is not available here "
                             "(--smoke runs the script on the CPU)")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        import cupy

        gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        print(f"GPU: {gpu}; CuPy {cupy.__version__}; torch {torch.__version__} "
              f"(cuDNN {torch.backends.cudnn.version()})")
    print(f"machine: {machine()}; numpy {np.__version__}, minigrad {mg.__version__}")
    results = {"rounds": args.rounds, "reps": args.reps, "backend": backend, "rows": []}
    print(f"\n{'step':<26}{'minigrad ms':>12}{'torch ms':>10}{'ratio':>8}")
    for model_name in ("mlp", "lenet5"):
        for batch in map(int, args.batches.split(",")):
            times = interleaved(step_pair(model_name, batch, backend, device), args.rounds,
                                args.reps, pause=0.0)
            row = {"step": f"{model_name} batch {batch}",
                   "minigrad_ms": 1e3 * statistics.median(times["minigrad"]),
                   "torch_ms": 1e3 * statistics.median(times["torch"]),
                   "ratio": ratio(times, "minigrad", "torch")}
            results["rows"].append(row)
            print(f"{row['step']:<26}{row['minigrad_ms']:>12.3f}{row['torch_ms']:>10.3f}"
                  f"{row['ratio']:>7.2f}x", flush=True)
    names = ["bp", "fa", "dfa", "usf", "brsf", "frsf"]
    batch = 8 if args.smoke else 64
    times = interleaved(rule_steps(names, batch, backend), args.rounds, args.reps, pause=0.0)
    print(f"\nLeNet-5 step by rule, batch {batch} (minigrad ms, ratio to bp)")
    results["rules"] = {}
    for name in names:
        ms = 1e3 * statistics.median(times[name])
        results["rules"][name] = {"ms": ms, "ratio_to_bp": ratio(times, name, "bp")}
        print(f"  {name:<6}{ms:>8.3f} ms {results['rules'][name]['ratio_to_bp']:>6.2f}x")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
