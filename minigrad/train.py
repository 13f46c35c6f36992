"""The training loop behind ``minigrad train``: data, model, optimizer,
per-epoch evaluation, metrics, plots and resumable checkpoints.

A run writes to its output folder:

* ``metrics.jsonl`` -- one JSON object per epoch (``"kind": "epoch"``):
  train loss and accuracy, test loss and accuracy, seconds, learning rate,
  steps so far; with a :class:`~minigrad.inspect.Recorder` attached, its
  records (``"kind": "inspect"``: alignment with backprop, representation
  statistics) every N steps between them;
* ``curves.png`` -- loss and accuracy against epoch;
* ``checkpoint.npz`` -- everything needed to continue: model, optimizer,
  data-loader and random-generator states, the metrics so far and the
  configuration (see :mod:`minigrad.serialization`).

Resuming from the checkpoint continues the run exactly: on the NumPy
backend the weights after N epochs are bit for bit those of a run that
never stopped.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from . import backend as _backend
from . import nn, ops
from . import rules as rules_module
from .autodiff import no_grad
from .data import DataLoader, load_dataset
from .errors import ArgumentError, TrainingDivergedError
from .nn.module import StateDictError
from .optim import CosineAnnealingLR, StepLR, make_optimizer
from .serialization import atomic_write, load, save

MODELS = ("mlp", "linear", "lenet5", "resnet8", "resnet20")
RULES = rules_module.available()
SCHEDULES = ("cosine", "step", "none")

# Defaults that depend on the dataset: the small sets train in seconds with
# large steps; the image sets want smaller steps and more epochs.
RECIPES = {
    "small": {"epochs": 10, "batch_size": 32, "lr": {"sgd": 0.05}},
    "images": {"epochs": 15, "batch_size": 64, "lr": {"sgd": 0.02}},
}
IMAGE_SETS = ("fashion-mnist", "mnist", "cifar10")
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 0.01}


def recipe(data, optimizer="sgd", rule="bp"):
    """Default epochs, batch size and learning rate for a dataset, optimizer
    and learning rule (a rule whose updates are larger than a gradient's,
    like Forward-Forward's, scales the default step by its ``lr_scale``)."""
    r = RECIPES["images" if data in IMAGE_SETS else "small"]
    lr = r["lr"].get(optimizer, DEFAULT_LR.get(optimizer, 0.01))
    return {"epochs": r["epochs"], "batch_size": r["batch_size"],
            "lr": lr * rules_module.rule_class(rule).lr_scale}


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in its checkpoint)."""

    model: str = "mlp"
    data: str = "digits"
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    hidden: tuple = (128,)
    activation: str = "relu"
    dropout: float = 0.0
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    schedule: str = "cosine"
    rule: str = "bp"
    rule_options: dict = field(default_factory=dict)
    train_subset: int = 0          # use only the first N training examples (0: all)

    def check(self):
        if self.model not in MODELS:
            raise ArgumentError(f"unknown model {self.model!r}; choose one of "
                                f"{', '.join(MODELS)}")
        if self.schedule not in SCHEDULES:
            raise ArgumentError(f"unknown schedule {self.schedule!r}; choose one of "
                                f"{', '.join(SCHEDULES)}")
        rules_module.rule_class(self.rule)       # unknown rule: error listing the valid ones
        if not self.lr > 0:
            raise ArgumentError(f"lr must be positive, got {self.lr}")
        if self.batch_size < 1:
            raise ArgumentError(f"batch size must be >= 1, got {self.batch_size}")
        if self.epochs < 1:
            raise ArgumentError(f"epochs must be >= 1, got {self.epochs}")
        if not 0 <= self.dropout < 1:
            raise ArgumentError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.dtype not in ("float32", "float64"):
            raise ArgumentError(f"dtype must be float32 or float64, got {self.dtype!r}")
        return self

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in known})
        cfg.hidden = tuple(cfg.hidden)
        return cfg


def build_model(cfg: TrainConfig, split, generator):
    """The model ``cfg.model`` sized for ``split`` (built on NumPy, moved to
    the configured backend afterwards)."""
    shape, outputs = split.input_shape, split.num_outputs
    dtype = np.dtype(cfg.dtype)
    if cfg.model in ("mlp", "linear"):
        hidden = () if cfg.model == "linear" else tuple(cfg.hidden)
        model = nn.mlp((int(np.prod(shape)),) + hidden + (outputs,), cfg.activation,
                       dropout=cfg.dropout, dtype=dtype, backend="numpy", generator=generator)
    else:
        if len(shape) != 3:
            raise ArgumentError(f"{cfg.model} needs image data (channels, height, width); the "
                                f"dataset {split.name!r} has inputs of shape {shape}")
        if cfg.model == "lenet5":
            if shape[1] < 12:
                raise ArgumentError(f"lenet5 needs images of at least 12x12; {split.name!r} "
                                    f"has {shape[1]}x{shape[2]}")
            model = nn.lenet5(shape[0], outputs, shape[1], cfg.activation, dtype=dtype,
                              backend="numpy", generator=generator)
        else:
            depth = int(cfg.model[len("resnet"):])
            model = nn.resnet(depth, outputs, shape[0], width=16, dtype=dtype,
                              backend="numpy", generator=generator)
    if cfg.backend != "numpy":
        model.to(cfg.backend)
    return model


def loss_fn(split):
    """Cross-entropy for classification, mean squared error for regression."""
    if split.task == "regression":
        return lambda out, y: ops.mse_loss(out, y.astype(out.dtype))
    return ops.cross_entropy


def evaluate(model, loader, loss, task, predict=None):
    """Mean loss and accuracy (None for regression) over ``loader``;
    ``predict(x)`` gives the scores (default: ``model(x)``; a rule's
    :meth:`~minigrad.rules.Rule.predict`)."""
    predict = predict or model
    model.eval()
    total, correct, count = 0.0, 0, 0
    with no_grad():
        for x, y in loader:
            out = predict(x)
            total += float(loss(out, y).item()) * len(y)
            if task == "classification":
                correct += int((out.data.argmax(axis=-1) == y.data).sum())
            count += len(y)
    model.train()
    return total / count, (correct / count if task == "classification" else None)


class Run:
    """One training run: call :meth:`run_epochs` to train."""

    def __init__(self, cfg: TrainConfig, out=None, progress=True, log=print, recorder=None,
                 split=None):
        """``split``: the dataset ``cfg.data`` already loaded (a
        :class:`~minigrad.data.Split`), to save loading it again."""
        self.cfg = cfg.check()
        #: a minigrad.inspect.Recorder, or None (then nothing is recorded)
        self.recorder = recorder
        self.out = Path(out) if out else None
        self.progress, self.log = progress, log
        _backend.manual_seed(cfg.seed)
        _backend.set_default_dtype(cfg.dtype)
        if split is not None and split.name != cfg.data:
            raise ArgumentError(f"Run: the split given is {split.name!r}, the configuration "
                                f"asks for {cfg.data!r}")
        self.split = split if split is not None else load_dataset(cfg.data)
        train = self.split.train
        if cfg.train_subset:
            train = train.subset(cfg.train_subset)
        self.train_loader = DataLoader(train, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                       backend=cfg.backend, dtype=cfg.dtype)
        self.test_loader = DataLoader(self.split.test, 1000, backend=cfg.backend,
                                      dtype=cfg.dtype)
        self.model = build_model(cfg, self.split, np.random.default_rng(cfg.seed))
        self.loss = loss_fn(self.split)
        self.rule = rules_module.make(cfg.rule, self.model, seed=cfg.seed,
                                      loss="mse" if self.split.task == "regression"
                                      else "cross_entropy", **cfg.rule_options)
        options = {"weight_decay": cfg.weight_decay}
        if cfg.optimizer in ("sgd", "rmsprop"):
            options["momentum"] = cfg.momentum
        # the rule's own parameters (local classifiers) learn beside the model's
        self.optimizer = make_optimizer(
            cfg.optimizer, list(self.model.parameters()) + list(self.rule.parameters()),
            lr=cfg.lr, **options)
        self.scheduler = None
        if cfg.schedule == "cosine":
            self.scheduler = CosineAnnealingLR(self.optimizer, cfg.epochs)
        elif cfg.schedule == "step":
            self.scheduler = StepLR(self.optimizer, max(1, cfg.epochs // 3), 0.1)
        self.metrics = []
        self.epoch = 0

    # -- one step of the learning rule ------------------------------------------------
    def step(self, x, y):
        """One step of the learning rule through the optimizer; returns the
        model's output and the batch loss."""
        if self.recorder is None:
            stats = self.rule.step(x, y, self.optimizer)
        else:
            stats = self.recorder.step(self.rule, self.optimizer, x, y, epoch=self.epoch)
        self.last_stats = stats
        return self.rule.last_output, stats["loss"]

    def run_epoch(self):
        from tqdm import tqdm

        self.epoch += 1
        if self.cfg.backend != "numpy":
            # CuPy's generator state cannot be saved, so each epoch starts from a
            # known seed: a resumed run draws what an uninterrupted one would
            _backend.reseed(self.cfg.backend, [self.cfg.seed, self.epoch])
        self.model.train()
        start = time.perf_counter()
        total, correct, count = 0.0, 0, 0
        bar = tqdm(self.train_loader, desc=f"epoch {self.epoch}/{self.cfg.epochs}",
                   leave=False, disable=None if self.progress else True, unit="batch")
        scored = 0          # examples with a prediction (a rule may not make one)
        for x, y in bar:
            out, value = self.step(x, y)
            if not np.isfinite(value):
                raise TrainingDivergedError(f"the loss became {value} at epoch {self.epoch}; "
                                            f"lower the learning rate (now {self.cfg.lr})",
                                            self.epoch, value)
            total += value * len(y)
            count += len(y)
            if self.split.task == "classification" and out is not None:
                correct += int((out.data.argmax(axis=-1) == y.data).sum())
                scored += len(y)
            bar.set_postfix(loss=f"{total / count:.4f}")
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(self.model, self.test_loader, self.loss,
                                       self.split.task, self.rule.predict)
        record = {"kind": "epoch", "epoch": self.epoch, "steps": self.rule.steps,
                  "train_loss": total / count,
                  "train_accuracy": correct / scored if scored else None,
                  "test_loss": test_loss, "test_accuracy": test_acc,
                  "seconds": seconds, "lr": self.optimizer.param_groups[0]["lr"]}
        self.metrics.append(record)
        if self.scheduler is not None:
            self.scheduler.step()
        return record

    def run_epochs(self):
        """Train until ``cfg.epochs``, writing metrics, plot and checkpoint
        after every epoch."""
        while self.epoch < self.cfg.epochs:
            rec = self.run_epoch()
            acc = "" if rec["train_accuracy"] is None else \
                f"  train acc {rec['train_accuracy']:.2%}"
            if rec["test_accuracy"] is not None:
                acc += f"  test acc {rec['test_accuracy']:.2%}"
            self.log(f"epoch {rec['epoch']:3d}  loss {rec['train_loss']:.4f}  test loss "
                     f"{rec['test_loss']:.4f}{acc}  ({rec['seconds']:.2f} s)")
            if self.out is not None:
                self.write_outputs()
        return self.metrics

    # -- outputs ----------------------------------------------------------------------------
    def write_outputs(self, plot=True):
        """metrics.jsonl, checkpoint.npz and (``plot``) curves.png in ``out``;
        drawing the figure costs more than an epoch of a small model, so a
        caller writing after every epoch may draw it only at the end."""
        self.out.mkdir(parents=True, exist_ok=True)
        _atomic_text(self.out / "metrics.jsonl",
                     "".join(json.dumps(m) + "\n" for m in self.log_records()))
        if plot:
            save_curves(self.metrics, self.out / "curves.png",
                        f"{self.cfg.model} on {self.cfg.data} ({self.cfg.rule}, "
                        f"{self.cfg.optimizer} lr {self.cfg.lr})")
        save(self.checkpoint(), self.out / "checkpoint.npz")

    def log_records(self):
        """The lines of ``metrics.jsonl`` in the order they happened: each
        epoch's recorder records, then the epoch's own record."""
        inspect = self.recorder.records if self.recorder is not None else []
        out = []
        for m in self.metrics:
            out += [r for r in inspect if r.get("epoch") == m["epoch"]]
            out.append(m)
        return out

    def checkpoint(self):
        # CuPy's generator has no state to save; run_epoch reseeds it instead
        rng = _backend.get_rng_state("numpy") if self.cfg.backend == "numpy" else None
        return {"format": "minigrad-train", "config": asdict(self.cfg), "epoch": self.epoch,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "rule": self.rule.state_dict(),
                "train_loader": self.train_loader.state_dict(), "rng": rng,
                "metrics": self.metrics,
                "recorder": self.recorder.state_dict() if self.recorder is not None else None}

    @classmethod
    def resume(cls, path, epochs=None, out=None, progress=True, log=print, split=None):
        """Continue the run saved at ``path`` (a checkpoint file or the
        folder holding ``checkpoint.npz``). It goes on exactly as if it had
        not stopped; ``epochs`` extends it (with a schedule, the schedule is
        then stretched to the new length from the current epoch on)."""
        path = Path(path)
        if path.is_dir():
            path = path / "checkpoint.npz"
        state = load(path)
        if not isinstance(state, dict) or state.get("format") != "minigrad-train":
            raise ArgumentError(f"{path} is a checkpoint, but not of a training run")
        cfg = TrainConfig.from_dict(state["config"])
        if epochs is not None:
            cfg.epochs = epochs
        run = cls(cfg, out if out is not None else path.parent, progress, log, split=split)
        try:
            run.model.load_state_dict(state["model"])
        except StateDictError as exc:
            raise StateDictError(f"{path}: {exc}") from None
        run.optimizer.load_state_dict(state["optimizer"])
        if run.scheduler is not None and state.get("scheduler") is not None:
            run.scheduler.load_state_dict(state["scheduler"])
        run.train_loader.load_state_dict(state["train_loader"])
        if state.get("rule") is not None:
            run.rule.load_state_dict(state["rule"])
        if state.get("rng") is not None:
            _backend.set_rng_state(state["rng"], cfg.backend)
        run.metrics = list(state["metrics"])
        if state.get("recorder") is not None:
            from .inspect import Recorder
            run.recorder = Recorder.from_state_dict(state["recorder"])
        run.epoch = int(state["epoch"])
        return run


def _atomic_text(path, text):
    with atomic_write(path, "w") as f:
        f.write(text)


def save_curves(metrics, path, title=""):
    """Loss and accuracy against epoch, as a PNG (matplotlib, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [m["epoch"] for m in metrics]
    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, [m["train_loss"] for m in metrics], "o-", label="train")
    ax1.plot(epochs, [m["test_loss"] for m in metrics], "s-", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    if metrics and metrics[0].get("test_accuracy") is not None:
        if metrics[0].get("train_accuracy") is not None:
            ax2.plot(epochs, [100 * m["train_accuracy"] for m in metrics], "o-", label="train")
        ax2.plot(epochs, [100 * m["test_accuracy"] for m in metrics], "s-", label="test")
        ax2.set_ylabel("accuracy (%)")
        ax2.legend()
    else:
        ax2.set_axis_off()
    ax2.set_xlabel("epoch")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, dpi=100, format="png")
