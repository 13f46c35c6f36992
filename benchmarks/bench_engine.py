"""Engine benchmarks, measured side by side in one run on the CPU.

1. One training step (forward + backward + SGD update) of an MLP
   784-1000-1000-10 with ReLU and cross-entropy, batch 128, float32:
   minigrad vs PyTorch (same number of threads) vs the same step written by
   hand in NumPy (the floor: the matmuls and elementwise work any
   implementation must do); also HIPS autograd and DeZero when installed
   (``pip install autograd dezero``).
2. Per-op overhead on tiny tensors: a chain of 200 additions on shape (4,),
   without graph, with graph, and with graph plus backward: minigrad vs PyTorch.
3. One LeNet-5 training step, batch 64: minigrad vs PyTorch, same weights.

The implementations run interleaved (round-robin, several rounds), so a
change in machine load affects all of them alike; each figure is the median
over rounds, and each ratio is the median of the per-round ratios.

    python benchmarks/bench_engine.py [--rounds 15] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import minigrad as mg
from minigrad.backend import describe_machine

SIZES = (784, 1000, 1000, 10)
BATCH = 128
LR = 0.01


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    ws = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i)).astype(np.float32)
          for i, o in zip(SIZES[:-1], SIZES[1:])]
    bs = [np.zeros(o, np.float32) for o in SIZES[1:]]
    return x, y, ws, bs


# --------------------------------------------------------------------------
# the three implementations of one training step
# --------------------------------------------------------------------------


def numpy_step_factory(x, y, ws, bs):
    ws = [w.copy() for w in ws]
    bs = [b.copy() for b in bs]
    rows = np.arange(len(y))

    def step():
        acts, pre = [x], []
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            z = h @ w.T
            z += b
            pre.append(z)
            h = np.maximum(z, 0) if i < len(ws) - 1 else z
            acts.append(h)
        m = h.max(axis=1, keepdims=True)
        e = np.exp(h - m)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).mean()
        g = p
        g[rows, y] -= 1
        g /= len(y)
        for i in range(len(ws) - 1, -1, -1):
            gw = g.T @ acts[i]
            gb = g.sum(axis=0)
            if i > 0:
                g = (g @ ws[i]) * (pre[i - 1] > 0)
            ws[i] -= LR * gw
            bs[i] -= LR * gb
        return float(loss)

    return step


def minigrad_step_factory(x, y, ws, bs):
    params = []
    for w, b in zip(ws, bs):
        params += [mg.Tensor(w.copy(), requires_grad=True),
                   mg.Tensor(b.copy(), requires_grad=True)]
    xt = mg.Tensor(x)

    def step():
        h = xt
        for i in range(0, len(params), 2):
            h = mg.linear(h, params[i], params[i + 1])
            if i < len(params) - 2:
                h = mg.relu(h)
        loss = mg.cross_entropy(h, y)
        for p in params:
            p.grad = None
        loss.backward()
        with mg.no_grad():
            for p in params:
                p.data -= LR * p.grad.data
        return loss.item()

    return step


def torch_step_factory(x, y, ws, bs):
    import torch

    params = []
    for w, b in zip(ws, bs):
        params += [torch.tensor(w.copy(), requires_grad=True),
                   torch.tensor(b.copy(), requires_grad=True)]
    xt, yt = torch.tensor(x), torch.tensor(y)

    def step():
        h = xt
        for i in range(0, len(params), 2):
            h = torch.nn.functional.linear(h, params[i], params[i + 1])
            if i < len(params) - 2:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, yt)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return loss.item()

    return step


def autograd_step_factory(x, y, ws, bs):
    """HIPS autograd (``pip install autograd``): the loss as a function of
    the parameter list, ``value_and_grad`` of it, then SGD."""
    import autograd.numpy as anp
    from autograd import value_and_grad

    params = []
    for w, b in zip(ws, bs):
        params += [w.copy(), b.copy()]
    rows = np.arange(len(y))

    def loss_of(params):
        h = x
        for i in range(0, len(params), 2):
            h = anp.dot(h, params[i].T) + params[i + 1]
            if i < len(params) - 2:
                h = anp.maximum(h, 0)
        m = anp.max(h, axis=1, keepdims=True)
        log_p = h - m - anp.log(anp.sum(anp.exp(h - m), axis=1, keepdims=True))
        return -anp.mean(log_p[rows, y])

    value_grad = value_and_grad(loss_of)

    def step():
        loss, grads = value_grad(params)
        for p, g in zip(params, grads):
            p -= LR * g
        return float(loss)

    return step


def dezero_step_factory(x, y, ws, bs):
    """DeZero (``pip install dezero``, the engine of "Deep Learning from
    Scratch 3"), a PyTorch-like educational engine. Its 0.0.13 release names
    ``np.int``, which NumPy 1.24 removed: the alias is put back for it. Its
    weights are (in, out); its softmax cross-entropy gives a float64
    gradient, so part of its backward runs in float64."""
    if not hasattr(np, "int"):
        np.int = int
    from dezero import Variable
    import dezero.functions as F

    params = []
    for w, b in zip(ws, bs):
        params += [Variable(np.ascontiguousarray(w.T)), Variable(b.copy())]
    xv = Variable(x)

    def step():
        h = xv
        for i in range(0, len(params), 2):
            h = F.linear(h, params[i], params[i + 1])
            if i < len(params) - 2:
                h = F.relu(h)
        loss = F.softmax_cross_entropy(h, y)
        for p in params:
            p.cleargrad()
        loss.backward()
        for p in params:
            p.data -= (LR * p.grad.data).astype(p.data.dtype)
        return float(loss.data)

    return step


OTHERS = {"hips autograd": ("autograd", autograd_step_factory),
          "dezero": ("dezero", dezero_step_factory)}


# --------------------------------------------------------------------------
# tiny-op overhead
# --------------------------------------------------------------------------


def chain_factories(n_ops=200):
    import torch

    def make(lib, requires_grad, with_backward):
        if lib == "minigrad":
            x = mg.randn(4, requires_grad=requires_grad)
            y = mg.randn(4)
        else:
            x = torch.randn(4, requires_grad=requires_grad)
            y = torch.randn(4)

        def run():
            z = x
            for _ in range(n_ops):
                z = z + y
            if with_backward:
                z.sum().backward()
        return run

    cases = {}
    for label, rg, bw in (("forward, no graph", False, False),
                          ("forward, recording graph", True, False),
                          ("forward + backward", True, True)):
        cases[label] = {lib: make(lib, rg, bw) for lib in ("minigrad", "torch")}
    return cases


def time_call(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def interleaved(fns, rounds, reps, pause=0.25):
    """{name: [seconds per call, one per round]}; the functions take turns.

    NumPy's OpenBLAS threads keep spinning for about 0.1 s after their work
    is done (and PyTorch's OpenMP threads for a while too); without a pause,
    whichever library runs next competes with them for the cores and looks
    up to 1.7x slower than it is."""
    for fn in fns.values():   # warm-up
        fn()
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            time.sleep(pause)   # let the other library's idle threads stop spinning
            times[name].append(time_call(fn, reps))
    return times


def ratio(times, a, b):
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def machine():
    return describe_machine()


def torch_twin(model_name):
    """The PyTorch network of ``minigrad_model(model_name)``."""
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
        return mg.nn.mlp(list(SIZES), "relu", generator=rng)
    return mg.nn.lenet5(1, 10, 28, "relu", generator=rng)


def step_pair(model_name="lenet5", batch=64, backend="numpy", device="cpu", seed=0):
    """{"minigrad": step, "torch": step}: one training step (SGD,
    cross-entropy) of the MLP or LeNet-5 on 28x28 inputs, the same network
    with the same weights in both libraries, on ``backend`` / ``device``."""
    import torch

    rng = np.random.default_rng(seed)
    shape = (batch, SIZES[0]) if model_name == "mlp" else (batch, 1, 28, 28)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
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
    steps = {"numpy floor": numpy_step_factory(x, y, ws, bs),
             "minigrad": minigrad_step_factory(x, y, ws, bs),
             "torch": torch_step_factory(x, y, ws, bs)}
    import importlib.util

    for label, (module, factory) in OTHERS.items():      # optional: pip install autograd dezero
        if importlib.util.find_spec(module) is not None:
            steps[label] = factory(x, y, ws, bs)
        else:
            print(f"({label} not installed: pip install {module})")
    losses = {k: [f() for _ in range(3)] for k, f in steps.items()}
    for k, v in losses.items():   # the three must compute the same thing
        assert np.allclose(v, losses["numpy floor"], rtol=1e-4), (k, v, losses)

    print(f"\n1. MLP {'-'.join(map(str, SIZES))} train step, batch {BATCH}, float32 "
          f"(losses agree: {losses['minigrad'][-1]:.5f})")
    t = interleaved(steps, args.rounds, reps=5)
    for name in steps:
        print(f"   {name:<12} {statistics.median(t[name]) * 1e3:8.2f} ms")
    print(f"   minigrad / numpy floor = {ratio(t, 'minigrad', 'numpy floor'):.3f}   "
          "(target <= 1.10)")
    print(f"   minigrad / torch       = {ratio(t, 'minigrad', 'torch'):.3f}   "
          "(target <= 1.10)")
    print(f"   torch / numpy floor    = {ratio(t, 'torch', 'numpy floor'):.3f}")
    for label in OTHERS:
        if label in t:
            print(f"   {label} / minigrad = {ratio(t, label, 'minigrad'):.3f}")

    print("\n2. tiny-op overhead: 200 chained additions on shape (4,)")
    for label, fns in chain_factories().items():
        t = interleaved(fns, args.rounds, reps=20, pause=0.01)
        per_op = {k: statistics.median(v) / 200 * 1e6 for k, v in t.items()}
        print(f"   {label:<26} minigrad {per_op['minigrad']:6.2f} us/op   torch "
              f"{per_op['torch']:6.2f} us/op   ratio {ratio(t, 'minigrad', 'torch'):.2f}")
    print("   (target: minigrad no slower than torch eager, ratio <= 1.0)")

    steps = step_pair("lenet5", 64)
    losses = {k: [f() for _ in range(3)] for k, f in steps.items()}
    assert np.allclose(losses["minigrad"], losses["torch"], rtol=1e-3), losses
    print(f"\n3. LeNet-5 train step, batch 64, float32 (losses agree: "
          f"{losses['minigrad'][-1]:.5f})")
    t = interleaved(steps, args.rounds, reps=5)
    for name in steps:
        print(f"   {name:<12} {statistics.median(t[name]) * 1e3:8.2f} ms")
    print(f"   minigrad / torch       = {ratio(t, 'minigrad', 'torch'):.3f}   "
          "(target <= 1.5)")


if __name__ == "__main__":
    main()
