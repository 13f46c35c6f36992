"""Figures of the inspection toolkit, each written as PNG and SVG.

Every function takes plain data -- the records of a :class:`Recorder`, the
per-epoch metrics of a training run, the output of
:func:`~minigrad.inspect.estimator_sweep` -- and a path; the suffix of the
path is replaced by ``.png`` and ``.svg`` and both files are written
atomically. Several seeds of one rule are given as a list of runs (each a
list of records): lines show their mean, bands their spread (± one
sample standard deviation, ddof=1, as the comparison's tables).

* :func:`plot_update_alignment` -- angle to backprop's gradient against
  step, one panel per weight, one line per rule;
* :func:`plot_signal_alignment` -- the same for the signals of hidden layers;
* :func:`plot_weight_alignment` -- feedback vs forward weights against step;
* :func:`plot_curves` -- test accuracy and loss against epoch;
* :func:`plot_estimator_sweep` -- estimator angle against samples K;
* :func:`plot_sweep` -- a final number against a swept model parameter.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..serialization import atomic_write

__all__ = ["save_figure", "plot_update_alignment", "plot_signal_alignment",
           "plot_weight_alignment", "plot_curves", "plot_estimator_sweep", "plot_sweep"]


def _figure(n_panels, width=4.2, height=3.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(n_panels, 4)
    rows = -(-n_panels // cols)
    fig = Figure(figsize=(width * cols, height * rows))
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    return fig, axes[:n_panels]


def save_figure(fig, path):
    """Write ``fig`` as ``path`` with suffix ``.png`` and ``.svg``; returns
    the two paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for suffix in (".png", ".svg"):
        target = path.with_suffix(suffix)
        with atomic_write(target) as f:
            fig.savefig(f, format=suffix[1:], dpi=100)
        out.append(target)
    return out


def _runs(value):
    """A rule's data as a list of runs: one run (a list of records) becomes [run]."""
    if value and isinstance(value[0], dict):
        return [value]
    return list(value)


def _series(runs, get):
    """(x, mean, std) over the runs of ``get(record)`` (None: skipped),
    aligned on the records' ``"step"``; std is the sample standard deviation
    (ddof=1, as the comparison's tables report; 0 for a single run)."""
    by_step = {}
    for run in runs:
        for r in run:
            v = get(r)
            if v is not None:
                by_step.setdefault(r["step"], []).append(v)
    steps = sorted(by_step)
    vals = [by_step[s] for s in steps]
    return (np.array(steps), np.array([np.mean(v) for v in vals]),
            np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in vals]))


def _style(i, n):
    """Colour and line style of the i-th of n lines: tab10 colours, then
    dashed and dotted repeats, so that up to 30 rules stay apart."""
    from matplotlib import colormaps

    return {"color": colormaps["tab10"](i % 10), "ls": ("-", "--", ":")[(i // 10) % 3]}


def _line(ax, x, mean, std, label, style=None):
    style = style or {}
    marker = "o" if len(x) <= 12 else None
    (line,) = ax.plot(x, mean, label=label, lw=1.5, marker=marker, ms=3, **style)
    if len(x) and np.any(std > 0):
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15, lw=0)


def _alignment_plot(records_by_rule, path, section, ylabel, title, keep=lambda k: True,
                    chance=True):
    panels = []
    for runs in records_by_rule.values():
        for run in _runs(runs):
            for r in run:
                for key in r.get(section, {}):
                    if keep(key) and key not in panels:
                        panels.append(key)
    if not panels:
        return []
    fig, axes = _figure(len(panels))
    for ax, key in zip(axes, panels):
        for i, (label, runs) in enumerate(records_by_rule.items()):
            def get(r, key=key):
                v = r.get(section, {}).get(key)
                return v["angle"] if isinstance(v, dict) else v
            x, mean, std = _series(_runs(runs), get)
            if len(x):
                _line(ax, x, mean, std, label, _style(i, len(records_by_rule)))
        if chance:
            ax.axhline(90, color="gray", lw=0.6, ls="--")
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2 if len(records_by_rule) > 8 else 1)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_update_alignment(records_by_rule, path):
    """Update alignment (degrees) against step, a panel per weight tensor;
    ``records_by_rule`` = ``{label: records or [records of each seed]}``."""
    return _alignment_plot(records_by_rule, path, "update", "angle to backprop's gradient (°)",
                           "update alignment (per batch)", keep=lambda k: k.endswith("weight"))


def plot_signal_alignment(records_by_rule, path):
    """Signal alignment (degrees, over the batch) against step, a panel per layer."""
    return _alignment_plot(records_by_rule, path, "signal", "angle to backprop's δ (°)",
                           "signal alignment (per batch)")


def plot_weight_alignment(records_by_rule, path):
    """Weight alignment (degrees) of each feedback matrix against step."""
    return _alignment_plot(records_by_rule, path, "weight", "angle feedback vs forward (°)",
                           "weight alignment")


def plot_curves(metrics_by_rule, path):
    """Test accuracy (or loss, for regression) and test loss against epoch;
    ``metrics_by_rule`` = ``{label: per-epoch records or [those of each seed]}``."""
    fig, (ax_acc, ax_loss) = _figure(2, 5.0, 3.6)
    for i, (label, runs) in enumerate(metrics_by_rule.items()):
        style = _style(i, len(metrics_by_rule))
        runs = [[dict(r, step=r["epoch"]) for r in run if r.get("kind", "epoch") == "epoch"]
                for run in _runs(runs)]
        x, mean, std = _series(runs, lambda r: None if r.get("test_accuracy") is None
                               else 100 * r["test_accuracy"])
        if len(x):
            _line(ax_acc, x, mean, std, label, style)
        x, mean, std = _series(runs, lambda r: r.get("test_loss"))
        _line(ax_loss, x, mean, std, label, style)
    ax_acc.set_ylabel("test accuracy (%)")
    ax_loss.set_ylabel("test loss")
    for ax in (ax_acc, ax_loss):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=7, ncol=2 if len(metrics_by_rule) > 8 else 1)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_estimator_sweep(sweeps, path, field="mean_angle"):
    """Angle of one update to the gradient against the number of samples K,
    one line per estimator; ``sweeps`` = ``{label: {K: EstimatorStats}}``
    (:func:`~minigrad.inspect.estimator_sweep`, its ``"all"`` entry per K)
    or ``{label: {K: {field: value}}}``."""
    fig, (ax,) = _figure(1, 5.5, 4.0)
    for i, (label, by_k) in enumerate(sweeps.items()):
        ks = sorted(by_k, key=float)
        vals = []
        for k in ks:
            s = by_k[k]
            s = s.get("all", s) if isinstance(s, dict) else s
            vals.append(s[field] if isinstance(s, dict) else getattr(s, field))
        ax.plot([float(k) for k in ks], vals, marker="o", label=label,
                **_style(i, len(sweeps)))
    ax.set_xscale("log", base=2)
    ax.axhline(90, color="gray", lw=0.6, ls="--")
    ax.set_xlabel("samples per update K")
    ax.set_ylabel("angle of one update to the gradient (°)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_sweep(results_by_rule, parameter, path, ylabel="test accuracy (%)", log_x=True):
    """A final number against a swept model parameter, one line per rule:
    ``results_by_rule`` = ``{label: [(value, mean, std), ...]}``."""
    fig, (ax,) = _figure(1, 5.5, 4.0)
    for i, (label, rows) in enumerate(results_by_rule.items()):
        rows = sorted(rows)
        x = np.array([r[0] for r in rows], dtype=float)
        mean = np.array([r[1] for r in rows], dtype=float)
        std = np.array([r[2] for r in rows], dtype=float)
        ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=label,
                    **_style(i, len(results_by_rule)))
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(parameter)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
