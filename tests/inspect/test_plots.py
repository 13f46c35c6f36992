"""Plots: every figure is written as a PNG and an SVG that parse."""
import xml.etree.ElementTree as ET

import numpy as np

from minigrad.inspect import plots


def _check(files):
    assert sorted(f.suffix for f in files) == [".png", ".svg"]
    for f in files:
        if f.suffix == ".png":
            assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert ET.parse(f).getroot().tag.endswith("svg")


def _records(rule_angle, steps=(0, 10, 20)):
    return [{"kind": "inspect", "step": s,
             "update": {"1.weight": {"angle": rule_angle + s}, "1.bias": {"angle": 3.0},
                        "3.weight": {"angle": 1.0}},
             "signal": {"1": {"angle": rule_angle}},
             "weight": {"3": 80.0 - s}} for s in steps]


def test_alignment_plots(tmp_path):
    data = {"bp": _records(0.0), "fa": [_records(60.0), _records(70.0)]}    # fa: two seeds
    _check(plots.plot_update_alignment(data, tmp_path / "update"))
    _check(plots.plot_signal_alignment(data, tmp_path / "signal"))
    _check(plots.plot_weight_alignment(data, tmp_path / "weight.png"))
    assert (tmp_path / "weight.svg").exists()
    # nothing to plot: no file
    assert plots.plot_weight_alignment({"bp": [{"step": 0, "weight": {}}]}, tmp_path / "w") == []


def test_series_averages_the_seeds():
    x, mean, std = plots._series([_records(60.0), _records(70.0)],
                                 lambda r: r["update"]["1.weight"]["angle"])
    assert list(x) == [0, 10, 20]
    # the sample standard deviation, as the comparison's tables: |60 - 70| / sqrt(2)
    assert np.allclose(mean, [65, 75, 85]) and np.allclose(std, 10 / np.sqrt(2))
    _, _, single = plots._series([_records(60.0)], lambda r: r["update"]["1.weight"]["angle"])
    assert np.all(single == 0)


def test_curves_estimator_and_sweep_plots(tmp_path):
    epochs = [{"kind": "epoch", "epoch": e, "test_accuracy": 0.5 + 0.1 * e, "test_loss": 1 / e}
              for e in (1, 2, 3)]
    _check(plots.plot_curves({"bp": epochs, "fa": [epochs, epochs]}, tmp_path / "curves"))
    sweep = {"forward_gradient": {1: {"mean_angle": 89.0}, 4: {"mean_angle": 88.0}},
             "node_perturbation": {"1": {"all": {"mean_angle": 80.0}},
                                   "4": {"all": {"mean_angle": 70.0}}}}
    _check(plots.plot_estimator_sweep(sweep, tmp_path / "k"))
    _check(plots.plot_sweep({"dfa": [(32, 80.0, 1.0), (64, 85.0, 0.5)]}, "width",
                            tmp_path / "sweep"))
