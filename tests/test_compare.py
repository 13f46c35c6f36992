"""minigrad compare: end to end on digits with tiny budgets, resuming, and
bad input refused before anything trains."""
import json

import numpy as np
import pytest

from minigrad import cli
from minigrad.compare import Comparison, parse_sweep
from minigrad.errors import ArgumentError

TINY = dict(data="digits", epochs=2, hidden=(16,), train_subset=300, batch_size=50)


def _quiet(out, rules, **kw):
    opts = dict(TINY)
    opts.update(kw.pop("train", {}))
    return Comparison(out, rules, progress=False, log=lambda s: None, record_every=2,
                      align_batches=2, **kw, **opts)


def _table_rows(md):
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("rule", "---"):
            rows.setdefault(cells[0], []).append(cells)
    return rows


def test_cli_compare_writes_a_table_json_and_plots_that_agree(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = cli.main(["compare", "--rules", "bp,fa", "--data", "digits", "--epochs", "2",
                     "--hidden", "16", "--train-subset", "300", "--batch-size", "50",
                     "--seeds", "2", "--record-every", "2", "--out", str(out),
                     "--no-progress"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    md = (out / "results.md").read_text()
    rows = {r["rule"]: r for r in results["results"]}
    assert set(rows) == {"bp", "fa"} and results["seeds"] == 2
    table = _table_rows(md)
    for rule, r in rows.items():
        (cells,) = table[rule]
        assert float(cells[1]) == pytest.approx(r["lr"])
        mean, std = (float(v) for v in cells[2].split("±"))
        assert mean == pytest.approx(r["test_accuracy"]["mean"], abs=0.005)
        assert std == pytest.approx(r["test_accuracy"]["std"], abs=0.005)
        assert r["test_accuracy"]["mean"] == pytest.approx(np.mean(r["test_accuracy"]["values"]))
        assert float(cells[3]) == pytest.approx(r["seconds_per_epoch"]["mean"], abs=0.005)
        assert float(cells[4]) == pytest.approx(r["memory_peak_bytes"] / 1024, abs=0.05)
        angles = [float(a) for a in cells[5].split("/")]
        assert angles == pytest.approx([r["update_angle"][k]["mean"]
                                        for k in ("1.weight", "3.weight")], abs=0.05)
        assert r["memory_peak_bytes"] > 0
    assert rows["bp"]["update_angle"]["1.weight"]["mean"] < 1e-3
    assert rows["fa"]["update_angle"]["1.weight"]["mean"] > 1
    assert rows["fa"]["update_angle"]["3.weight"]["mean"] < 1e-3     # the top layer is exact
    assert set(rows["fa"]["weight_alignment"]) == {"3"}
    for name in ("curves", "update_alignment", "signal_alignment", "weight_alignment"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 0
        assert (out / "plots" / f"{name}.svg").stat().st_size > 0
        assert f"plots/{name}.png" in md
    # the same initial weights for every rule: seed s's first recorded step
    # sees the same representation statistics under bp and fa
    first = {}
    for rule in ("bp", "fa"):
        line = (out / "runs" / "all" / rule / "seed1" / "metrics.jsonl").read_text()
        first[rule] = json.loads(line.splitlines()[0])["representation"]
    assert first["bp"] == first["fa"]


def test_resume_after_an_interruption_gives_the_uninterrupted_results(tmp_path):
    full = _quiet(tmp_path / "full", ["bp", "dfa"]).run()

    class Stop(Exception):
        pass

    seen = []

    def stop_during_dfa(line):
        seen.append(line)
        if line.startswith("dfa seed 0: epoch 1"):
            raise Stop

    cmp = _quiet(tmp_path / "cut", ["bp", "dfa"])
    cmp.log = stop_during_dfa
    with pytest.raises(Stop):
        cmp.run()
    assert (tmp_path / "cut" / "runs" / "all" / "bp" / "seed0" / "final.json").exists()
    assert not (tmp_path / "cut" / "runs" / "all" / "dfa" / "seed0" / "final.json").exists()
    resumed = _quiet(tmp_path / "cut", ["bp", "dfa"])
    trained = []
    resumed.log = trained.append
    again = resumed.run()
    assert trained == ["dfa seed 0: epoch 2/2  " + trained[0].split("epoch 2/2  ")[1]]
    for a, b in zip(full["results"], again["results"]):
        assert a["test_accuracy"]["values"] == b["test_accuracy"]["values"]
        assert a["update_angle"] == b["update_angle"]
    # a third run trains nothing and adds a rule without retraining the others
    more = _quiet(tmp_path / "cut", ["bp", "dfa", "shallow"])
    more.log = trained.append
    more.run()
    assert all(line.startswith("shallow") for line in trained[1:]) and len(trained) == 3


def test_width_sweep(tmp_path):
    res = _quiet(tmp_path / "sw", ["bp", "dfa"], sweep="width=4,8",
                 train={"epochs": 1}).run()
    assert [(r["sweep_value"], r["rule"]) for r in res["results"]] == [
        (4, "bp"), (4, "dfa"), (8, "bp"), (8, "dfa")]
    md = (tmp_path / "sw" / "results.md").read_text()
    assert "## width = 4" in md and "## width = 8" in md
    for name in ("sweep_width_accuracy", "sweep_width_angle", "curves_width4"):
        assert (tmp_path / "sw" / "plots" / f"{name}.png").exists()
    assert (tmp_path / "sw" / "runs" / "width=8" / "dfa" / "seed0" / "final.json").exists()


def test_bad_input_is_refused_before_anything_trains(tmp_path, capsys):
    out = tmp_path / "x"
    assert cli.main(["compare", "--rules", "bp,nope", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "unknown rule 'nope'" in err and "fa" in err and not out.exists()
    with pytest.raises(ArgumentError, match="no parameter 'width'.*can sweep"):
        parse_sweep("width=8,16", "lenet5")
    with pytest.raises(ArgumentError, match="unknown parameter 'size'"):
        parse_sweep("size=1,2", "mlp")
    with pytest.raises(ArgumentError, match="integers"):
        parse_sweep("width=8.5", "mlp")
    with pytest.raises(ArgumentError, match="repeated"):
        parse_sweep("width=8,8", "mlp")
    # a rule that cannot train the model fails before the others train
    with pytest.raises(ArgumentError, match="'delta' cannot train"):
        _quiet(out, ["bp", "delta"]).run()
    assert not (out / "runs").exists()


def test_a_folder_of_another_configuration_is_refused(tmp_path):
    out = tmp_path / "c"
    _quiet(out, ["bp"], train={"epochs": 1}).run()
    with pytest.raises(ArgumentError, match=r"different configuration \(train.epochs: 1 "
                                            r"there, 2 now\)"):
        _quiet(out, ["bp"]).run()
    with pytest.raises(ArgumentError, match="hidden"):
        _quiet(out, ["bp"], train={"epochs": 1, "hidden": (32,)}).run()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ArgumentError, match="not empty and holds no compare.json"):
        _quiet(other, ["bp"]).run()


def test_learning_rates_per_rule():
    cmp = _quiet("unused", ["bp", "forward_gradient", "fa"], lr=0.1, rule_lr={"fa": 0.003})
    assert cmp.config(None, "bp", 0).lr == 0.1
    assert cmp.config(None, "forward_gradient", 0).lr == pytest.approx(0.1 * 0.02)
    assert cmp.config(None, "fa", 0).lr == 0.003
    with pytest.raises(ArgumentError, match="not among the rules"):
        _quiet("unused", ["bp"], rule_lr={"fa": 0.1})
    assert cmp.config(None, "bp", 1).seed == 1


def test_a_rule_that_diverges_is_reported_and_the_others_go_on(tmp_path):
    out = tmp_path / "d"
    res = _quiet(out, ["fa", "bp"], rule_lr={"fa": 1e30}, train={"epochs": 1}).run()
    fa, bp = res["results"]
    assert fa["test_accuracy"]["mean"] is None and fa["diverged"][0]["epoch"] == 1
    assert "loss became" in fa["diverged"][0]["message"]
    assert bp["test_accuracy"]["mean"] > 20 and not bp["diverged"]      # chance: 10
    md = (out / "results.md").read_text()
    assert "| fa | 1e+30 | — (diverged) |" in md and "fa, seed 0: the loss became" in md
    # resuming does not retry it
    assert _quiet(out, ["fa", "bp"], rule_lr={"fa": 1e30}, train={"epochs": 1}).run() == res
