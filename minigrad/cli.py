"""Command line: ``python -m minigrad <command>`` (or ``minigrad <command>``).

Commands:
  train      train a model on a dataset (default: an MLP on the shipped
             digits, in seconds), with a progress bar, metrics.jsonl, a plot
             and a resumable checkpoint
  compare    train several learning rules alike (same data, model, initial
             weights, budget; several seeds; an optional sweep) and write
             results.md, results.json and plots; resumable
  demo       train a small MLP on a built-in toy data set with the engine,
             then print the gradient-check table of every op
  gradcheck  print the gradient-check table: every registered op, its worst
             error against float64 central differences (and against PyTorch
             when it is installed)
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .backend import keep_freed_memory


# ==========================================================================
# gradcheck table
# ==========================================================================


def gradcheck_table(names=None, backend="numpy", with_torch=True, out=sys.stdout):
    """Run gradcheck over the op registry -- the reverse-mode (vjp) and the
    forward-mode (jvp) Jacobians against float64 central differences, and
    the values, gradients and tangents against PyTorch when it is installed
    -- and print one row per op. Returns True when every op passed."""
    from .check import gradcheck_sample, torch_check_sample, torch_jvp_check_sample
    from .ops.registry import all_opinfos

    if with_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            with_torch = False
    with_torch = with_torch and backend == "numpy"
    infos = [i for i in all_opinfos() if not names or i.name in names]
    unknown = set(names or ()) - {i.name for i in infos}
    if unknown:
        raise SystemExit(f"gradcheck: unknown op(s) {', '.join(sorted(unknown))}; "
                         "run without arguments to list all")
    header = f"{'op':<18} {'family':<12} {'samples':>7} {'vjp max err':>12} " \
             f"{'jvp max err':>12}"
    if with_torch:
        header += f" {'vs torch':>9}"
    header += "  status"
    print(header, file=out)
    print("-" * len(header), file=out)
    all_ok = True
    for info in infos:
        samples = info.samples(np.random.default_rng(0))
        err = {"rev": 0.0, "fwd": 0.0}
        torch_err = 0.0
        status, checked = [], False
        for sample in samples:
            try:
                rep = gradcheck_sample(info, sample, backend, raise_on_failure=False)
            except Exception as exc:  # an op that crashes is a failure to report
                status.append(f"error: {type(exc).__name__}: {exc}")
                continue
            if rep is not None:
                checked = True
                for r in rep.results:
                    err[r.mode] = max(err[r.mode], r.max_abs_err)
                    if not r.ok:
                        status.append(f"{r.mode} FAILED [{sample.desc}]")
            if not with_torch:
                continue
            for compare in (torch_check_sample, torch_jvp_check_sample):
                try:
                    cmp = compare(info, sample, raise_on_failure=False)
                except Exception as exc:
                    status.append(f"torch error: {type(exc).__name__}: {exc}")
                    continue
                if cmp is not None and not cmp.skipped:
                    errs = [cmp.value_err] + [e for e in cmp.grad_errs if e is not None]
                    torch_err = max([torch_err] + errs)
                    if not cmp.ok:
                        status.append(f"differs from torch [{sample.desc}]")
        ok = not status
        all_ok &= ok
        cols = [f"{err[m]:12.2e}" if checked else f"{'-':>12}" for m in ("rev", "fwd")]
        row = f"{info.name:<18} {info.family:<12} {len(samples):>7} {cols[0]} {cols[1]}"
        if with_torch:
            row += f" {torch_err:9.1e}" if info.torch_fn is not None else f" {'-':>9}"
        row += "  " + ("ok" if ok else "; ".join(status))
        print(row, file=out)
    print("-" * len(header), file=out)
    print(f"{len(infos)} ops. vjp / jvp max err: the largest |analytical - numerical| "
          "entry of the reverse- / forward-mode Jacobian against float64 central "
          "differences (pass: <= 1e-5 + 1e-4 |numerical|).", file=out)
    if with_torch:
        print("vs torch: the largest difference from PyTorch in values, gradients "
              "(torch.autograd) and tangents (torch.func.jvp).", file=out)
    else:
        print("(no comparison with PyTorch: not installed, or not the numpy backend)",
              file=out)
    for i in infos:
        if i.notes or i.no_gradcheck:
            print(f"  {i.name}: {i.no_gradcheck or i.notes}", file=out)
    return all_ok


# ==========================================================================
# demo
# ==========================================================================


def two_spirals(n_per_class=100, noise=0.15, seed=0):
    """The two-spirals toy problem: 2-D points on two interleaved spirals."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n_per_class)) * 3 * np.pi
    a = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([a, -a]) + noise * rng.standard_normal((2 * n_per_class, 2)) / 3
    y = np.concatenate([np.zeros(n_per_class, int), np.ones(n_per_class, int)])
    return x, y


def demo(epochs=600, hidden=64, lr=0.2, seed=0, out=sys.stdout, table=True):
    """Train a 2-hidden-layer tanh MLP on two spirals with full-batch gradient
    descent (momentum 0.9), written directly on the engine."""
    import minigrad as mg

    mg.manual_seed(seed)
    x_np, y_np = two_spirals(seed=seed)
    x = mg.tensor(x_np, dtype=mg.float32)
    sizes = [2, hidden, hidden, 2]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = mg.randn(fan_out, fan_in) * float(np.sqrt(1.0 / fan_in))
        params += [w.detach().requires_grad_(), mg.zeros(fan_out, requires_grad=True)]
    velocity = [np.zeros_like(p.data) for p in params]
    print(f"minigrad demo: MLP {'-'.join(map(str, sizes))} (tanh) on two spirals "
          f"({len(y_np)} points), gradient descent with momentum", file=out)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        h = x
        for i in range(0, len(params), 2):
            h = mg.linear(h, params[i], params[i + 1])
            if i < len(params) - 2:
                h = mg.tanh(h)
        loss = mg.cross_entropy(h, y_np)
        for p in params:
            p.grad = None
        loss.backward()
        with mg.no_grad():
            for p, v in zip(params, velocity):
                v *= 0.9
                v += p.grad.data
                p.data -= lr * v
        if epoch % max(1, epochs // 6) == 0 or epoch == 1:
            acc = float((h.data.argmax(axis=1) == y_np).mean())
            print(f"  epoch {epoch:4d}  loss {loss.item():.4f}  accuracy {acc:6.1%}", file=out)
    print(f"  trained in {time.perf_counter() - start:.1f} s", file=out)
    if table:
        print(file=out)
        return gradcheck_table(out=out)
    return True


# ==========================================================================
# entry point
# ==========================================================================


def _subparser(parser, name):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    return parser


# ==========================================================================
# train
# ==========================================================================

_CONFIG_ARGS = ("model", "data", "batch_size", "optimizer", "lr", "momentum", "weight_decay",
                "hidden", "activation", "dropout", "seed", "backend", "dtype", "rule",
                "rule_opt", "train_subset", "schedule")


_KIND_NAMES = {int: "an integer", float: "a number"}


def _number(kind, text):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {_KIND_NAMES[kind]}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def _positive(kind):
    def parse(text):
        value = _number(kind, text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _non_negative(kind):
    def parse(text):
        value = _number(kind, text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _probability(text):
    value = _number(float, text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _sizes(text):
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes such as "
                                         f"1000,1000, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _key_value(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = json.loads(value)
    except ValueError:
        pass   # keep it as a string
    return key.strip(), value


def _measures(text):
    from .inspect import MEASURES

    names = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in names if m not in MEASURES]
    if unknown or not names:
        given = ", ".join(unknown) or repr(text)
        raise argparse.ArgumentTypeError(f"unknown measure(s) {given}; choose from "
                                         f"{', '.join(MEASURES)}")
    return names


def add_setup_arguments(p):
    """The arguments that define the data, model and training budget (shared
    by train and compare)."""
    from .data import DATASETS
    from .nn import ACTIVATIONS
    from .optim import OPTIMIZERS
    from .train import MODELS

    p.add_argument("--model", choices=MODELS, help="architecture (default: mlp)")
    p.add_argument("--data", choices=sorted(DATASETS), help="dataset (default: digits)")
    p.add_argument("--epochs", type=_positive(int),
                   help="epochs to train (default: 10; 15 on fashion-mnist, mnist, cifar10)")
    p.add_argument("--batch-size", type=_positive(int),
                   help="mini-batch size (default: 32; 64 on the image datasets)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="default: sgd")
    p.add_argument("--lr", type=_positive(float),
                   help="learning rate (default for sgd: 0.05; 0.02 on the image datasets; "
                        "1e-3 for adam; each default times the rule's lr_scale, e.g. 0.1 "
                        "for ff)")
    p.add_argument("--schedule", choices=["cosine", "step", "none"],
                   help="learning-rate schedule over the epochs (default: cosine)")
    p.add_argument("--momentum", type=_non_negative(float), help="sgd/rmsprop momentum "
                   "(default: 0.9)")
    p.add_argument("--weight-decay", type=_non_negative(float), help="default: 0")
    p.add_argument("--hidden", type=_sizes, help="hidden layer sizes of the mlp, e.g. "
                   "1000,1000 (default: 128)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), help="default: relu")
    p.add_argument("--dropout", type=_probability, help="dropout probability "
                   "after each hidden layer of the mlp (default: 0)")
    p.add_argument("--backend", choices=["numpy", "cupy"], help="default: numpy")
    p.add_argument("--dtype", choices=["float32", "float64"], help="default: float32")
    p.add_argument("--train-subset", type=_positive(int), metavar="N",
                   help="train on the first N examples only (quick runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_train_arguments(p):
    from .train import RULES

    add_setup_arguments(p)
    p.add_argument("--seed", type=_non_negative(int), help="default: 0")
    p.add_argument("--rule", choices=sorted(RULES), help="learning rule (default: bp)")
    p.add_argument("--rule-opt", type=_key_value, action="append", metavar="KEY=VALUE",
                   help="a hyper-parameter of the learning rule (repeatable)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/MODEL-DATA)")
    p.add_argument("--resume", metavar="PATH",
                   help="continue the run saved in PATH (a checkpoint or its folder); only "
                        "--epochs and --out may be given with it")
    p.add_argument("--record-every", type=_positive(int), metavar="N",
                   help="every N steps, log alignment with backprop and representation "
                        "statistics to metrics.jsonl (minigrad.inspect.Recorder)")
    p.add_argument("--record", type=_measures, metavar="M1,M2",
                   help="what --record-every logs: any of update,signal,weight,"
                        "representation,memory (default: all)")


def run_train(args, parser):
    from .errors import MinigradError
    from .train import Run, TrainConfig, recipe

    if args.backend == "cupy":
        from .backend import cupy_available
        if not cupy_available():
            parser.error("--backend cupy: CuPy with a GPU is not available here")
    try:
        if args.resume:
            given = [a for a in _CONFIG_ARGS + ("record_every", "record")
                     if getattr(args, a) is not None]
            if given:
                parser.error("--resume takes the configuration from the checkpoint; only "
                             "--epochs and --out can be given with it (got "
                             + ", ".join("--" + a.replace("_", "-") for a in given) + ")")
            run = Run.resume(args.resume, epochs=args.epochs, out=args.out,
                             progress=not args.no_progress)
            if args.epochs is not None and args.epochs <= run.epoch:
                parser.error(f"--epochs {args.epochs}: the run in {args.resume} has already "
                             f"trained {run.epoch} epochs; give more to extend it")
            print(f"resuming {run.cfg.model} on {run.cfg.data} after epoch {run.epoch} of "
                  f"{run.cfg.epochs} ({args.resume})")
        else:
            cfg = TrainConfig()
            for name in ("model", "data", "optimizer", "momentum", "weight_decay", "hidden",
                         "activation", "dropout", "seed", "backend", "dtype", "rule",
                         "train_subset", "schedule"):
                value = getattr(args, name)
                if value is not None:
                    setattr(cfg, name, value)
            defaults = recipe(cfg.data, cfg.optimizer, cfg.rule)
            cfg.epochs = args.epochs or defaults["epochs"]
            cfg.batch_size = args.batch_size or defaults["batch_size"]
            cfg.lr = args.lr if args.lr is not None else defaults["lr"]
            cfg.rule_options = dict(args.rule_opt or [])
            out = args.out or f"runs/{cfg.model}-{cfg.data}"
            recorder = None
            if args.record_every or args.record:
                from .inspect import MEASURES, Recorder
                recorder = Recorder(args.record_every or 50, args.record or MEASURES)
            run = Run(cfg, out, progress=not args.no_progress, recorder=recorder)
            print(f"training {cfg.model} on {cfg.data} with {cfg.rule} and {cfg.optimizer} "
                  f"(lr {cfg.lr}, {cfg.schedule} schedule, batch {cfg.batch_size}) for "
                  f"{cfg.epochs} epochs; {run.model.num_parameters()} parameters; writing "
                  f"to {out}")
        run.run_epochs()
    except MinigradError as exc:
        print(f"minigrad train: error: {exc}", file=sys.stderr)
        return 1
    last = run.metrics[-1]
    if last["test_accuracy"] is not None:
        print(f"done: test accuracy {last['test_accuracy']:.2%} after {last['epoch']} epochs; "
              f"metrics, curves.png and checkpoint.npz in {run.out}")
    else:
        print(f"done: test loss {last['test_loss']:.4f}; outputs in {run.out}")
    return 0


# ==========================================================================
# compare
# ==========================================================================

_SETUP = ("model", "data", "epochs", "batch_size", "optimizer", "schedule", "momentum",
          "weight_decay", "hidden", "activation", "dropout", "backend", "dtype",
          "train_subset")


def _rule_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated rule names, e.g. bp,fa,dfa")
    return names


def run_compare(args, parser):
    from tqdm import tqdm

    from .compare import Comparison
    from .errors import MinigradError

    if args.backend == "cupy":
        from .backend import cupy_available
        if not cupy_available():
            parser.error("--backend cupy: CuPy with a GPU is not available here")
    options = {k: getattr(args, k) for k in _SETUP if getattr(args, k) is not None}
    try:
        comparison = Comparison(args.out, args.rules, seeds=args.seeds, sweep=args.sweep,
                                lr=args.lr, rule_lr=dict(args.rule_lr or []),
                                record_every=args.record_every,
                                align_batches=args.align_batches,
                                progress=not args.no_progress,
                                log=tqdm.write if not args.no_progress else print, **options)
        results = comparison.run()
    except MinigradError as exc:
        print(f"minigrad compare: error: {exc}", file=sys.stderr)
        return 1
    print(f"done: {len(results['results'])} rows; results.md, results.json and plots/ in "
          f"{args.out}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigrad", description="minigrad: a reference engine for how neural "
        "networks learn")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a model (default: an MLP on digits)",
                             description="Train a model with a learning rule; writes "
                             "metrics.jsonl, curves.png and checkpoint.npz to --out.")
    add_train_arguments(p_train)
    p_cmp = sub.add_parser(
        "compare", help="train several rules alike and set them side by side",
        description="Train every rule on the same data, architecture, initial weights and "
        "budget (for each seed and sweep value), then write results.md, results.json and "
        "plots to --out. Running again with the same settings resumes. Each rule's "
        "learning rate is the base rate (--lr, or the default) times the rule's lr_scale; "
        "--rule-lr fixes one rule's rate.")
    p_cmp.add_argument("--rules", type=_rule_list, required=True, metavar="R1,R2,...",
                       help="the rules to compare, e.g. bp,fa,dfa")
    add_setup_arguments(p_cmp)
    p_cmp.add_argument("--seeds", type=_positive(int), default=1,
                       help="seeds 0..N-1 per rule (default: 1)")
    p_cmp.add_argument("--sweep", metavar="PARAM=V1,V2,...",
                       help="repeat the comparison for each value of a model parameter, "
                            "e.g. width=32,64,128 (width, depth, lr, batch_size, "
                            "weight_decay, momentum, dropout, train_subset)")
    p_cmp.add_argument("--rule-lr", type=_key_value, action="append", metavar="RULE=LR",
                       help="an exact learning rate for one rule (repeatable)")
    p_cmp.add_argument("--record-every", type=_positive(int), default=50, metavar="N",
                       help="log alignment every N steps (default: 50)")
    p_cmp.add_argument("--align-batches", type=_positive(int), default=4, metavar="N",
                       help="batches the final alignment is averaged over (default: 4)")
    p_cmp.add_argument("--out", metavar="DIR", required=True, help="output folder")
    p_demo = sub.add_parser("demo", help="train a tiny MLP and print the gradcheck table")
    p_demo.add_argument("--epochs", type=int, default=600)
    p_demo.add_argument("--seed", type=int, default=0)
    p_demo.add_argument("--no-table", action="store_true",
                        help="skip the gradcheck table after training")
    p_gc = sub.add_parser("gradcheck", help="check every op's derivatives")
    p_gc.add_argument("ops", nargs="*", help="only these ops (default: all)")
    p_gc.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    p_gc.add_argument("--no-torch", action="store_true",
                      help="do not compare with PyTorch")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    # the command line owns its process: let malloc keep freed memory for the next step
    keep_freed_memory()
    if args.command == "train":
        return run_train(args, _subparser(parser, "train"))
    if args.command == "compare":
        return run_compare(args, _subparser(parser, "compare"))
    if args.command == "demo":
        ok = demo(epochs=args.epochs, seed=args.seed, table=not args.no_table)
    elif args.command == "gradcheck":
        if args.backend == "cupy":
            from .backend import cupy_available
            if not cupy_available():
                raise SystemExit("gradcheck: the cupy backend is not available here "
                                 "(CuPy missing or no GPU)")
        ok = gradcheck_table(args.ops or None, args.backend, not args.no_torch)
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
