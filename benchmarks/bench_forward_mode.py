"""Forward mode vs reverse mode on the MLP 784-1000-1000-10 loss (batch 128,
float32), measured side by side in one run on the CPU:

  (a) plain forward (no graph, no tangents)
  (b) forward + one jvp: the loss and its directional derivative along a
      random direction v in parameter space, in one forward run (what the
      forward-gradient rule needs)
  (c) forward + backward: the loss and its gradient
  and (b) through PyTorch's torch.func.jvp.

Time: interleaved rounds, medians (see bench_engine.py). Memory: the peak
of NumPy allocations above the starting point, traced with tracemalloc in
separate runs (tracing slows allocation, so it is never on while timing).
The parameter-sized vectors -- v for (b), the gradient for (c) -- are
reported apart from the rest ("working memory": activations, tangents and
intermediates), since both modes need one parameter-sized buffer.

    python benchmarks/bench_forward_mode.py [--rounds 20] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tracemalloc

import numpy as np

import minigrad as mg
from bench_engine import BATCH, SIZES, interleaved, machine, make_problem, ratio


class Functions(dict):
    """The timed functions by name, plus ``forward_recording`` (memory only):
    the forward pass of (c) with its graph kept alive."""


def working_memory_c(fns, clear, param_bytes):
    """Reverse mode's working memory: the larger of the forward phase's peak
    (the recorded graph holds every activation) and the backward phase's
    peak less the gradient being built."""
    forward_phase = peak_bytes(fns.forward_recording)
    backward_phase = peak_bytes(fns["(c) forward + backward"], clear) - param_bytes
    return max(forward_phase, backward_phase), forward_phase, backward_phase


def minigrad_functions(x, y, ws, bs, seed=1):
    params = []
    for w, b in zip(ws, bs):
        params += [mg.Tensor(w.copy()), mg.Tensor(b.copy())]
    rng = np.random.default_rng(seed)
    v = [mg.Tensor(rng.standard_normal(p.shape).astype(np.float32)) for p in params]
    xt = mg.Tensor(x)

    def loss(*ps):
        h = xt
        for i in range(0, len(ps), 2):
            h = mg.linear(h, ps[i], ps[i + 1])
            if i < len(ps) - 2:
                h = mg.relu(h)
        return mg.cross_entropy(h, y)

    def forward():
        with mg.no_grad():
            return loss(*params)

    def forward_jvp():
        return mg.jvp(loss, tuple(params), tuple(v))

    leaves = [p.detach().requires_grad_() for p in params]

    def forward_backward():
        out = loss(*leaves)
        out.backward()
        return out

    def clear_grads():
        for p in leaves:
            p.grad = None

    def forward_recording():
        return loss(*leaves)        # the graph (and the activations it holds) stays alive

    fns = Functions({"(a) forward": forward, "(b) forward + jvp": forward_jvp,
                     "(c) forward + backward": forward_backward})
    fns.forward_recording = forward_recording
    return fns, params, v, leaves, clear_grads


def torch_jvp_function(x, y, ws, bs, seed=1):
    import torch
    import torch.func

    params = []
    for w, b in zip(ws, bs):
        params += [torch.tensor(w.copy()), torch.tensor(b.copy())]
    rng = np.random.default_rng(seed)
    v = tuple(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
              for p in params)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def loss(*ps):
        h = xt
        for i in range(0, len(ps), 2):
            h = torch.nn.functional.linear(h, ps[i], ps[i + 1])
            if i < len(ps) - 2:
                h = torch.relu(h)
        return torch.nn.functional.cross_entropy(h, yt)

    def forward():
        with torch.no_grad():
            return loss(*params)

    def forward_jvp():
        return torch.func.jvp(loss, tuple(params), v)

    return forward, forward_jvp, params, v


def peak_bytes(fn, setup=None):
    """Peak traced allocation during ``fn()`` above the level before it."""
    fn()   # warm caches so one-time allocations are not counted
    if setup is not None:
        setup()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), minigrad {mg.__version__}; {args.rounds} interleaved rounds")
    x, y, ws, bs = make_problem()
    fns, params, v, leaves, clear_grads = minigrad_functions(x, y, ws, bs)
    t_fwd, t_jvp, t_params, t_v = torch_jvp_function(x, y, ws, bs)

    # the two implementations compute the same directional derivative
    _, d_mg = fns["(b) forward + jvp"]()
    _, d_t = t_jvp()
    clear_grads()
    loss_c = fns["(c) forward + backward"]()
    d_from_grad = sum(float((p.grad.data * vi.data).sum()) for p, vi in zip(leaves, v))
    print(f"\nMLP {'-'.join(map(str, SIZES))} loss, batch {BATCH}, float32; directional "
          f"derivative along v: minigrad jvp {d_mg.item():.5f}, torch.func.jvp "
          f"{d_t.item():.5f}, <grad, v> {d_from_grad:.5f} (loss {loss_c.item():.5f})")

    timed = dict(fns)
    timed["(c) forward + backward"] = lambda: (clear_grads(), fns["(c) forward + backward"]())
    timed["torch forward"] = t_fwd
    timed["torch.func.jvp"] = t_jvp
    t = interleaved(timed, args.rounds, reps=5)
    print("\ntime per call (median)")
    for name in timed:
        print(f"   {name:<24} {statistics.median(t[name]) * 1e3:8.2f} ms")
    print(f"   (b) / (a)                = {ratio(t, '(b) forward + jvp', '(a) forward'):.2f}"
          "   (target <= 2.5)")
    print(f"   (c) / (a)                = {ratio(t, '(c) forward + backward', '(a) forward'):.2f}")
    print(f"   (b) / torch.func.jvp     = "
          f"{ratio(t, '(b) forward + jvp', 'torch.func.jvp'):.2f}")
    print(f"   torch.func.jvp / torch forward = "
          f"{ratio(t, 'torch.func.jvp', 'torch forward'):.2f}")

    param_bytes = sum(p.data.nbytes for p in params)
    print(f"\npeak memory above the start (NumPy allocations, tracemalloc); parameters "
          f"{param_bytes / 2**20:.2f} MiB")
    mem = {name: peak_bytes(fn, clear_grads if name.startswith("(c)") else None)
           for name, fn in fns.items()}
    work_c, fwd_phase, bwd_phase = working_memory_c(fns, clear_grads, param_bytes)
    for name, b in mem.items():
        extra = ""
        if name.startswith("(c)"):
            extra = (f"   gradient {param_bytes / 2**20:.2f} MiB; working memory "
                     f"{work_c / 2**20:.2f} MiB (forward phase, graph alive: "
                     f"{fwd_phase / 2**20:.2f}; backward phase less the gradient: "
                     f"{bwd_phase / 2**20:.2f})")
        print(f"   {name:<24} {b / 2**20:8.2f} MiB{extra}")
    print(f"   (v for (b) is allocated beforehand: {param_bytes / 2**20:.2f} MiB, the "
          "same size as (c)'s gradient)")
    work_b = mem["(b) forward + jvp"]
    print(f"   working memory (b) / (c) = {work_b / work_c:.2f}; total with the "
          f"parameter-sized vector (b) / (c) = "
          f"{(work_b + param_bytes) / (work_c + param_bytes):.2f}")
    print(f"   multiply-adds: (a) {_macs(SIZES, BATCH, 'fwd') / 1e6:.0f}M, (b) "
          f"{_macs(SIZES, BATCH, 'jvp') / 1e6:.0f}M = "
          f"{_macs(SIZES, BATCH, 'jvp') / _macs(SIZES, BATCH, 'fwd'):.2f} x (a), "
          f"(c) {_macs(SIZES, BATCH, 'bwd') / 1e6:.0f}M")
    depth_scaling()


def _macs(sizes, batch, what):
    """Matmul multiply-adds of the forward pass, forward + jvp (the first
    layer's input has no tangent), or forward + backward (no input gradient
    for the first layer)."""
    layers = [batch * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    fwd = sum(layers)
    if what == "fwd":
        return fwd
    return fwd + layers[0] + 2 * sum(layers[1:])


def depth_scaling(width=256, batch=4096, depths=(2, 8, 32)):
    """Where forward mode saves memory: reverse mode keeps every layer's
    activation until the backward pass, forward mode only the current
    layer's values and tangents. Activations dominate when batch > width."""
    print(f"\nworking memory against depth: MLP {width}-({width} x L)-10, relu, batch "
          f"{batch}, float32 (parameter-sized vectors excluded)")
    print(f"   {'L':>4} {'(b) forward + jvp':>20} {'(c) forward + backward':>24} "
          f"{'(c) / (b)':>10}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    for depth in depths:
        sizes = (width,) * (depth + 1) + (10,)
        ws = [(rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)
              for i, o in zip(sizes[:-1], sizes[1:])]
        bs = [np.zeros(o, np.float32) for o in sizes[1:]]
        fns, params, _, _, clear = minigrad_functions(x, y, ws, bs)
        pb = sum(p.data.nbytes for p in params)
        b = peak_bytes(fns["(b) forward + jvp"])
        c = working_memory_c(fns, clear, pb)[0]
        print(f"   {depth:>4} {b / 2**20:17.1f} MiB {c / 2**20:21.1f} MiB {c / b:10.1f}")


if __name__ == "__main__":
    main()
