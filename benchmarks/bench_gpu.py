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
from bench_engine import interleaved, machine, minigrad_model, ratio, step_pair  # noqa: E402

LR = 0.01


def rule_steps(names, batch, backend):
    """{rule: step} for LeNet-5 trained by each rule (minigrad only)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
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
