"""What glibc's malloc settings cost a training step on the CPU: the
default allocator against ``minigrad.backend.keep_freed_memory()``.

A step allocates its activations and gradients afresh and frees them when
the graph goes. With glibc's defaults, free memory at the top of the heap
beyond a threshold (twice the largest block freed so far) is returned to
the system, and the next step faults its pages in again; the setting keeps
it. It acts on the whole process and glibc's thresholds also move with
what the process did before (an MLP's 4 MB weight matrices raise them), so
each measurement runs in a fresh process, the two settings alternating,
and the figures are medians over those processes. Each process times
minigrad's and PyTorch's step of the same network (interleaved as in
``bench_engine.py``) and counts minigrad's page faults per step.

    python benchmarks/bench_allocator.py [--processes 5] [--models lenet5,mlp]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys

import minigrad as mg
from minigrad.backend import describe_machine

MODES = ("default", "keep_freed_memory")
BATCH = {"lenet5": 64, "mlp": 128}


def child(model, mode, rounds):
    """One process: the settings, then interleaved steps; a JSON line out."""
    if mode == "keep_freed_memory" and not mg.backend.keep_freed_memory():
        print(json.dumps({"unsupported": True}))
        return
    import torch

    from bench_engine import interleaved, step_pair

    torch.set_num_threads(os.cpu_count())
    steps = step_pair(model, BATCH[model])
    for _ in range(3):
        steps["minigrad"]()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        steps["minigrad"]()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
    t = interleaved(steps, rounds, reps=5)
    print(json.dumps({"minigrad": statistics.median(t["minigrad"]),
                      "torch": statistics.median(t["torch"]), "faults": faults}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=5, help="per model and setting")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds per process")
    parser.add_argument("--models", default="lenet5,mlp")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child, args.rounds)
    print(f"machine: {describe_machine()}; {args.processes} processes per model and "
          f"setting, alternating; {args.rounds} interleaved rounds each")
    here = os.path.dirname(os.path.abspath(__file__))
    for model in args.models.split(","):
        runs = {mode: [] for mode in MODES}
        for _ in range(args.processes):
            for mode in MODES:
                out = subprocess.run(
                    [sys.executable, os.path.join(here, "bench_allocator.py"), "--child",
                     model, mode, "--rounds", str(args.rounds)],
                    capture_output=True, text=True, check=True, cwd=here)
                runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
        if any(r.get("unsupported") for r in runs["keep_freed_memory"]):
            print(f"{model}: keep_freed_memory() is not supported here (glibc on Linux only)")
            continue
        print(f"\n{model}, batch {BATCH[model]}, float32, SGD step")
        for mode in MODES:
            mine = statistics.median(r["minigrad"] for r in runs[mode])
            torch_ = statistics.median(r["torch"] for r in runs[mode])
            faults = statistics.median(r["faults"] for r in runs[mode])
            ratio = statistics.median(r["minigrad"] / r["torch"] for r in runs[mode])
            print(f"   {mode:<18} minigrad {mine * 1e3:7.2f} ms ({faults:6.0f} page faults "
                  f"per step)   torch {torch_ * 1e3:6.2f} ms   minigrad / torch {ratio:.2f}")
        pairs = [k["minigrad"] / d["minigrad"]
                 for d, k in zip(runs["default"], runs["keep_freed_memory"])]
        print(f"   minigrad's step, keep_freed_memory / default = "
              f"{statistics.median(pairs):.3f} (median over the process pairs)")


if __name__ == "__main__":
    sys.exit(main())
