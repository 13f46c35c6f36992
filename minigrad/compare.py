"""The rule-comparison harness behind ``minigrad compare``: every rule trains
on the same data, architecture, initial weights and budget, and the results
are set side by side.

    comparison = Comparison("out/cmp", ["bp", "fa", "dfa"], seeds=3,
                            model="mlp", data="fashion-mnist", epochs=5)
    results = comparison.run()

For every sweep value, rule and seed a training run (:class:`minigrad.train.Run`,
with a :class:`~minigrad.inspect.Recorder` logging alignment every
``record_every`` steps) writes its own folder under ``OUT/runs/``; when it
has finished, the final measurements go to ``final.json`` beside it:

* update, signal and weight alignment with backprop at the trained weights,
  averaged over ``align_batches`` fixed training batches;
* the activation memory the rule keeps during one update
  (:func:`~minigrad.inspect.activation_memory`, from the engine's own
  bookkeeping).

Then ``OUT/results.json`` (every number), ``OUT/results.md`` (a table per
sweep value, a row per rule: test accuracy as mean ± std over seeds, seconds
per epoch, peak stored activations, final update angle per layer) and the
plots under ``OUT/plots/`` (PNG and SVG).

Same initialisation: seed s builds the same initial weights for every rule.
Learning rates: without ``lr`` each rule gets the training CLI's default for
the dataset and optimizer, times the rule's ``lr_scale`` (a forward-gradient
step must be far smaller than a gradient step); ``lr`` replaces the default
(still times ``lr_scale``); ``rule_lr={"fa": 0.01}`` gives a rule an exact
rate.

Resuming: ``OUT/compare.json`` holds the configuration. Running again with
the same configuration skips what has finished, continues a run from its
last checkpoint, and starts what is missing; rules, seeds and sweep values
may be added. A configuration that differs in anything that changes
training is refused (the folder would mix results of two experiments).
"""
from __future__ import annotations

import datetime
import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from . import rules as rules_module
from .backend import describe_machine
from .errors import ArgumentError, TrainingDivergedError
from .inspect import Recorder, activation_memory, alignment_report, load_records
from .inspect import plots
from .serialization import atomic_write
from .train import MODELS, Run, TrainConfig, build_model, recipe

__all__ = ["Comparison", "SWEEPABLE", "parse_sweep", "check_sweep", "results_markdown"]

#: parameters ``--sweep`` can vary: name -> (what it is, the models that have it)
SWEEPABLE = {
    "width": ("the width of every hidden layer of the mlp", ("mlp",)),
    "depth": ("the number of hidden layers of the mlp (each as wide as the first)", ("mlp",)),
    "lr": ("the learning rate, the same for every rule", MODELS),
    "batch_size": ("the mini-batch size", MODELS),
    "weight_decay": ("the optimizer's weight decay", MODELS),
    "momentum": ("the sgd/rmsprop momentum", MODELS),
    "dropout": ("dropout after each hidden layer of the mlp", ("mlp",)),
    "train_subset": ("the number of training examples", MODELS),
}
_INTEGER = ("width", "depth", "batch_size", "train_subset")


def parse_sweep(text, model):
    """``"width=32,64,128"`` -> ``("width", [32, 64, 128])``, checked
    against ``model``."""
    if "=" not in text:
        raise ArgumentError(f"--sweep: expected PARAMETER=V1,V2,..., got {text!r}")
    name, values = (part.strip() for part in text.split("=", 1))
    check_sweep_parameter(name, model)
    kind = int if name in _INTEGER else float
    try:
        parsed = [kind(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ArgumentError(f"--sweep {name}: values must be "
                            f"{'integers' if kind is int else 'numbers'}, got {values!r}") from None
    return check_sweep(name, parsed, model)


def check_sweep_parameter(name, model):
    if name not in SWEEPABLE:
        raise ArgumentError(f"--sweep: unknown parameter {name!r}; sweepable: "
                            f"{', '.join(SWEEPABLE)}")
    if model not in SWEEPABLE[name][1]:
        can = [k for k, (_, models) in SWEEPABLE.items() if model in models]
        raise ArgumentError(f"--sweep: the {model} model has no parameter {name!r} "
                            f"({SWEEPABLE[name][0]}); it can sweep {', '.join(can)}")


def check_sweep(name, values, model):
    """``(name, values)`` checked: a parameter ``model`` has, distinct
    values of the right kind and sign."""
    check_sweep_parameter(name, model)
    values = list(values)
    if not values:
        raise ArgumentError(f"--sweep {name}: no values given")
    if len(set(values)) != len(values):
        raise ArgumentError(f"--sweep {name}: a value is repeated in {values}")
    if name in _INTEGER and not all(isinstance(v, (int, np.integer)) for v in values):
        raise ArgumentError(f"--sweep {name}: values must be integers, got {values}")
    least = 0 if name in ("momentum", "weight_decay", "dropout") else 1e-300
    if any(not np.isfinite(v) or v < least for v in values):
        raise ArgumentError(f"--sweep {name}: values must be "
                            f"{'>= 0' if least == 0 else 'positive'}, got {values}")
    return name, values


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std, "n": len(values)}


class Comparison:
    """A comparison of learning rules written to (and resumed from) ``out``;
    see the module docstring. ``train_options`` are
    :class:`~minigrad.train.TrainConfig` fields (model, data, epochs,
    hidden, optimizer, ...) shared by every run."""

    def __init__(self, out, rules, seeds=1, sweep=None, lr=None, rule_lr=None,
                 record_every=50, align_batches=4, progress=True, log=print, **train_options):
        self.out = Path(out)
        self.rules = list(dict.fromkeys(rules))
        if not self.rules:
            raise ArgumentError("compare: no rules given")
        for name in self.rules:                         # unknown name: lists the valid ones
            rules_module.rule_class(name)
        unknown = set(rule_lr or {}) - set(self.rules)
        if unknown:
            raise ArgumentError(f"compare: a learning rate is given for {sorted(unknown)}, "
                                f"which are not among the rules compared ({self.rules})")
        if seeds < 1:
            raise ArgumentError(f"compare: seeds must be >= 1, got {seeds}")
        if record_every < 1 or align_batches < 1:
            raise ArgumentError("compare: record_every and align_batches must be >= 1")
        known = {f for f in TrainConfig.__dataclass_fields__}
        bad = set(train_options) - known
        if bad or {"rule", "seed", "lr"} & set(train_options):
            raise ArgumentError(f"compare: unknown training option(s) "
                                f"{sorted(bad | ({'rule', 'seed', 'lr'} & set(train_options)))}")
        base = TrainConfig(**train_options)
        base.hidden = tuple(base.hidden)
        if "epochs" not in train_options or "batch_size" not in train_options:
            defaults = recipe(base.data, base.optimizer)
            base.epochs = train_options.get("epochs", defaults["epochs"])
            base.batch_size = train_options.get("batch_size", defaults["batch_size"])
        self.base = base
        self.seeds, self.lr, self.rule_lr = seeds, lr, dict(rule_lr or {})
        if isinstance(sweep, str):
            sweep = parse_sweep(sweep, base.model)
        self.sweep = check_sweep(sweep[0], sweep[1], base.model) if sweep else None
        self.record_every, self.align_batches = record_every, align_batches
        self.progress, self.log = progress, log
        self._splits = {}

    def split(self, name):
        """Dataset ``name``, loaded once for all the runs."""
        from .data import load_dataset

        if name not in self._splits:
            self._splits[name] = load_dataset(name)
        return self._splits[name]

    # -- the plan -----------------------------------------------------------------------
    def settings(self):
        """What the folder's results depend on, besides rules, seeds and
        sweep values (which may grow)."""
        base = asdict(self.base)
        for key in ("rule", "seed", "lr", "rule_options"):
            base.pop(key)
        base["hidden"] = list(base["hidden"])
        return {"format": "minigrad-compare", "train": base, "lr": self.lr,
                "record_every": self.record_every, "align_batches": self.align_batches,
                "sweep_parameter": self.sweep[0] if self.sweep else None}

    def values(self):
        return self.sweep[1] if self.sweep else [None]

    def config(self, value, rule, seed):
        """The TrainConfig of one run."""
        cfg = replace(self.base, rule=rule, seed=seed)
        param = self.sweep[0] if self.sweep else None
        if param == "width":
            cfg.hidden = (value,) * max(1, len(cfg.hidden))
        elif param == "depth":
            cfg.hidden = (cfg.hidden[0] if cfg.hidden else 128,) * value
        elif param is not None:
            setattr(cfg, param, value)
        if param == "lr":
            return cfg.check()
        if rule in self.rule_lr:
            cfg.lr = float(self.rule_lr[rule])
        else:
            base = self.lr if self.lr is not None else recipe(cfg.data, cfg.optimizer)["lr"]
            cfg.lr = float(f"{base * rules_module.rule_class(rule).lr_scale:.6g}")
        return cfg.check()

    def folder(self, value, rule, seed):
        tag = f"{self.sweep[0]}={value}" if self.sweep else "all"
        return self.out / "runs" / tag / rule / f"seed{seed}"

    def jobs(self):
        return [(v, r, s) for v in self.values() for r in self.rules for s in range(self.seeds)]

    def check_folder(self):
        """Refuse a folder holding another experiment."""
        path = self.out / "compare.json"
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except ValueError:
                raise ArgumentError(f"{path} is not valid JSON; it is not a comparison's "
                                    "configuration (remove it or use another --out)") from None
            mine = json.loads(json.dumps(self.settings()))
            diffs = _differences(old, mine)
            if diffs:
                raise ArgumentError(
                    f"{self.out} holds a comparison with a different configuration ("
                    + "; ".join(diffs) + "): results of different experiments would be "
                    "mixed. Use another --out, or the same settings to resume it")
        elif self.out.exists() and any(self.out.iterdir()):
            raise ArgumentError(f"{self.out} is not empty and holds no compare.json: it is "
                                "not a comparison to resume; use an empty or new --out")

    def validate(self):
        """Build every (sweep value, rule) pair's model and rule once, so a
        rule that cannot train the model fails before anything trains."""
        for value in self.values():
            for rule in self.rules:
                cfg = self.config(value, rule, 0)
                split = self.split(cfg.data)
                model = build_model(cfg, split, np.random.default_rng(0))
                try:
                    rules_module.make(rule, model, seed=0,
                                      loss="mse" if split.task == "regression"
                                      else "cross_entropy", **cfg.rule_options)
                except ArgumentError as exc:
                    where = f" at {self.sweep[0]}={value}" if self.sweep else ""
                    raise ArgumentError(f"compare: rule {rule!r} cannot train the "
                                        f"{cfg.model}{where}: {exc}") from None

    # -- running ------------------------------------------------------------------------
    def run(self):
        """Train what is missing, then write results.json, results.md and
        the plots; returns the results."""
        from tqdm import tqdm

        self.check_folder()
        self.validate()
        self.out.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.out / "compare.json", "w") as f:
            json.dump(self.settings(), f, indent=1)
        jobs = self.jobs()
        bar = tqdm(total=len(jobs) * self.base.epochs, unit="epoch", disable=not self.progress,
                   desc="compare")
        try:
            for value, rule, seed in jobs:
                self._run_job(value, rule, seed, bar)
        finally:
            bar.close()
        results = self.collect()
        self.write(results)
        return results

    def _run_job(self, value, rule, seed, bar):
        folder = self.folder(value, rule, seed)
        cfg = self.config(value, rule, seed)
        where = (f"{self.sweep[0]}={value} " if self.sweep else "") + f"{rule} seed {seed}"
        if (folder / "final.json").exists():
            bar.update(cfg.epochs)
            return
        if (folder / "checkpoint.npz").exists():
            run = Run.resume(folder, progress=False, log=lambda s: None,
                             split=self.split(cfg.data))
            if asdict(run.cfg) != asdict(cfg):           # cfg.hidden is a tuple already
                diffs = _differences(json.loads(json.dumps(asdict(run.cfg))),
                                     json.loads(json.dumps(asdict(cfg))))
                raise ArgumentError(f"{folder} holds a run of another configuration ("
                                    + "; ".join(diffs) + "); refusing to mix results")
            bar.update(run.epoch)
        else:
            run = Run(cfg, folder, progress=False, log=lambda s: None,
                      recorder=Recorder(self.record_every), split=self.split(cfg.data))
        while run.epoch < cfg.epochs:
            bar.set_postfix_str(f"{where}, epoch {run.epoch + 1}/{cfg.epochs}")
            try:
                rec = run.run_epoch()
            except TrainingDivergedError as exc:
                # the run ends here (its checkpoint holds the last finished epoch);
                # the comparison goes on and reports it
                self.log(f"{where}: diverged: {exc}")
                bar.update(cfg.epochs - run.epoch + 1)
                with atomic_write(folder / "final.json", "w") as f:
                    json.dump({"diverged": {"epoch": exc.epoch, "message": str(exc)}}, f)
                return
            run.write_outputs(plot=run.epoch == cfg.epochs)   # the run's figure once, at the end
            bar.update(1)
            acc = rec["test_accuracy"]
            self.log(f"{where}: epoch {rec['epoch']}/{cfg.epochs}  train loss "
                     f"{rec['train_loss']:.4f}  "
                     + (f"test accuracy {100 * acc:.2f}%" if acc is not None
                        else f"test loss {rec['test_loss']:.4f}")
                     + f"  ({rec['seconds']:.1f} s)")
        final = self.final_measurements(run)
        with atomic_write(folder / "final.json", "w") as f:
            json.dump(final, f, indent=1)

    def final_measurements(self, run):
        """Alignment at the trained weights over ``align_batches`` fixed
        training batches (means), and the rule's activation memory."""
        from .data import DataLoader

        train = run.split.train
        loader = DataLoader(train, run.cfg.batch_size, shuffle=False, backend=run.cfg.backend,
                            dtype=run.cfg.dtype)
        reports = []
        for i, (x, y) in enumerate(loader):
            if i == self.align_batches:
                break
            reports.append(alignment_report(run.rule, x, y))
        x, y = next(iter(loader))
        memory = activation_memory(run.rule, x, y)

        def mean_of(section, key):
            rows = [r[section][key] for r in reports if key in r[section]]
            return {k: float(np.mean([row[k] for row in rows]))
                    for k in rows[0] if not k.startswith("sample_angles")}

        return {"update": {k: mean_of("update", k) for k in reports[0]["update"]},
                "signal": {k: mean_of("signal", k) for k in reports[0]["signal"]},
                "weight": reports[-1]["weight"],
                "align_batches": len(reports), "batch_size": run.cfg.batch_size,
                "memory": {"peak": int(memory.peak),
                           "per_layer": {k: int(v) for k, v in memory.per_layer.items()}}}

    # -- results ------------------------------------------------------------------------
    def collect(self):
        """``results.json``'s content from the run folders. A run that
        diverged counts in ``diverged`` (its seed's accuracy is None) and
        adds nothing to the means of the others."""
        rows = []
        for value in self.values():
            for rule in self.rules:
                metrics, records, finals, diverged = [], [], [], []
                for seed in range(self.seeds):
                    folder = self.folder(value, rule, seed)
                    path = folder / "metrics.jsonl"
                    lines = load_records(path) if path.exists() else []
                    final = json.loads((folder / "final.json").read_text())
                    metrics.append([r for r in lines if r.get("kind", "epoch") == "epoch"])
                    records.append([r for r in lines if r.get("kind") == "inspect"])
                    if "diverged" in final:
                        diverged.append({"seed": seed, **final["diverged"]})
                    else:
                        finals.append(final)
                cfg = self.config(value, rule, 0)
                gone = {d["seed"] for d in diverged}
                acc = [None if s in gone or m[-1]["test_accuracy"] is None
                       else 100 * m[-1]["test_accuracy"] for s, m in enumerate(metrics)]
                done = [m for s, m in enumerate(metrics) if s not in gone]
                row = {"sweep_value": value, "rule": rule, "lr": cfg.lr,
                       "seeds": list(range(self.seeds)), "diverged": diverged,
                       "test_accuracy": {**_mean_std(acc), "values": acc},
                       "test_loss": _mean_std([m[-1]["test_loss"] for m in done]),
                       "seconds_per_epoch": _mean_std([float(np.mean([r["seconds"] for r in m]))
                                                       for m in metrics if m]),
                       "memory_peak_bytes": None, "memory_per_layer": {},
                       "update_angle": {}, "update_norm_ratio": {}, "signal_angle": {},
                       "weight_alignment": {}, "curves": metrics, "records": records}
                if finals:
                    first = finals[0]
                    row.update({
                        "memory_peak_bytes": max(f["memory"]["peak"] for f in finals),
                        "memory_per_layer": first["memory"]["per_layer"],
                        "update_angle": {k: _mean_std([f["update"][k]["angle"] for f in finals])
                                         for k in first["update"]},
                        "update_norm_ratio": {k: _mean_std([f["update"][k]["norm_ratio"]
                                                            for f in finals])
                                              for k in first["update"]},
                        "signal_angle": {k: _mean_std([f["signal"][k]["angle"] for f in finals
                                                       if k in f["signal"]])
                                         for k in first["signal"]},
                        "weight_alignment": {k: _mean_std([f["weight"][k] for f in finals
                                                           if k in f["weight"]])
                                             for k in first["weight"]}})
                rows.append(row)
        return {"settings": self.settings(), "rules": self.rules, "seeds": self.seeds,
                "sweep": ({"parameter": self.sweep[0], "values": self.sweep[1]}
                          if self.sweep else None),
                "machine": describe_machine(), "date": datetime.date.today().isoformat(),
                "results": rows}

    def write(self, results):
        """results.json (without the per-step records, which stay in the run
        folders), results.md and the plots."""
        slim = dict(results, results=[{k: v for k, v in r.items()
                                        if k not in ("curves", "records")}
                                       for r in results["results"]])
        with atomic_write(self.out / "results.json", "w") as f:
            json.dump(_finite(slim), f, indent=1)
        plot_files = self.plot(results)
        with atomic_write(self.out / "results.md", "w") as f:
            f.write(results_markdown(slim, [p.relative_to(self.out) for p in plot_files]))

    def plot(self, results):
        folder = self.out / "plots"
        files = []
        for value in self.values():
            rows = [r for r in results["results"] if r["sweep_value"] == value]
            tag = f"_{self.sweep[0]}{value}" if self.sweep else ""
            curves = {r["rule"]: r["curves"] for r in rows}
            records = {r["rule"]: r["records"] for r in rows}
            files += plots.plot_curves(curves, folder / f"curves{tag}")
            files += plots.plot_update_alignment(records, folder / f"update_alignment{tag}")
            files += plots.plot_signal_alignment(records, folder / f"signal_alignment{tag}")
            files += plots.plot_weight_alignment(records, folder / f"weight_alignment{tag}")
        if self.sweep:
            name = self.sweep[0]
            acc = {rule: [(r["sweep_value"], r["test_accuracy"]["mean"],
                           r["test_accuracy"]["std"])
                          for r in results["results"] if r["rule"] == rule
                          and r["test_accuracy"]["mean"] is not None]
                   for rule in self.rules}
            log_x = name in ("width", "lr", "batch_size", "train_subset")
            files += plots.plot_sweep(acc, name, folder / f"sweep_{name}_accuracy", log_x=log_x)
            angle = {}
            for rule in self.rules:
                angle[rule] = []
                for r in results["results"]:
                    if r["rule"] != rule:
                        continue
                    hidden = [v["mean"] for k, v in r["update_angle"].items()
                              if k.endswith("weight")][:-1]
                    if hidden:
                        angle[rule].append((r["sweep_value"], float(np.mean(hidden)), 0.0))
            files += plots.plot_sweep(angle, name, folder / f"sweep_{name}_angle",
                                      ylabel="mean update angle of the hidden layers (°)",
                                      log_x=log_x)
        return [f for f in files if f.suffix == ".png"]


def _differences(old, new, prefix=""):
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} there, {b!r} now")
    return out


def _finite(value):
    """NaN and infinities as None (JSON has neither)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pm(stat, digits=2):
    if stat["mean"] is None:
        return "—"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def results_markdown(results, plot_files=()):
    """The table of ``results.json`` as Markdown: a section per sweep value,
    a row per rule."""
    s = results["settings"]
    t = s["train"]
    lines = [f"# minigrad compare: {t['model']} on {t['data']}", ""]
    arch = f"hidden {','.join(map(str, t['hidden']))} ({t['activation']}), " \
        if t["model"] == "mlp" else ""
    lines += [f"{t['epochs']} epochs, {arch}batch {t['batch_size']}, {t['optimizer']} "
              f"(momentum {t['momentum']}, weight decay {t['weight_decay']}), "
              f"{t['schedule']} schedule, {t['dtype']}, {results['seeds']} seed(s) "
              f"(seed s: the same initial weights for every rule)"
              + (f", first {t['train_subset']} training examples" if t["train_subset"] else "")
              + f". {results['date']}, {results['machine']}.", ""]
    lines += ["Test accuracy at the last epoch, mean ± std over seeds. Update angle: the "
              "angle (degrees) between the rule's update and backprop's gradient for each "
              f"layer's weight, at the trained weights, mean over {s['align_batches']} "
              "training batches (per batch; 90 = no information). Peak activations: bytes "
              "the rule keeps alive between its forward computation and its update, from "
              "the engine's own bookkeeping.", ""]
    for value in (results["sweep"]["values"] if results["sweep"] else [None]):
        rows = [r for r in results["results"] if r["sweep_value"] == value]
        if not rows:
            continue
        if value is not None:
            lines += [f"## {results['sweep']['parameter']} = {value}", ""]
        layers = next((list(r["update_angle"]) for r in rows if r["update_angle"]), [])
        weights = [k for k in layers if k.endswith("weight")] or layers
        lines.append("| rule | lr | test accuracy (%) | s/epoch | peak activations (KiB) | "
                     "update angle (°) " + " / ".join(w.rsplit(".", 1)[0] for w in weights)
                     + " |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        notes = []
        for r in rows:
            angles = " / ".join(f"{r['update_angle'][w]['mean']:.1f}"
                                if r["update_angle"].get(w, {}).get("mean") is not None
                                else "—" for w in weights)
            acc = _pm(r["test_accuracy"])
            if r["diverged"]:
                acc += f" ({len(r['diverged'])} of {len(r['seeds'])} diverged)" \
                    if r["test_accuracy"]["mean"] is not None else " (diverged)"
                notes += [f"* {r['rule']}, seed {d['seed']}: {d['message']}"
                          for d in r["diverged"]]
            sec = r["seconds_per_epoch"]["mean"]
            mem = r["memory_peak_bytes"]
            lines.append(f"| {r['rule']} | {r['lr']:g} | {acc} | "
                         + (f"{sec:.2f}" if sec is not None else "—") + " | "
                         + (f"{mem / 1024:.1f}" if mem is not None else "—")
                         + f" | {angles} |")
        lines.append("")
        if notes:
            lines += ["Diverged (the loss became NaN or infinite; accuracy over the other "
                      "seeds):", ""] + notes + [""]
    if plot_files:
        lines += ["Plots:", ""] + [f"![{p.stem}]({p.as_posix()})" for p in plot_files] + [""]
    return "\n".join(lines)
