"""Recorder: what it records, that its output round-trips, that it does not
change training, and its place in a training run."""
import json

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim, rules
from minigrad.errors import ArgumentError, DataError
from minigrad.inspect import Recorder, compare_updates, load_records
from minigrad.inspect.alignment import backprop_reference
from minigrad.train import Run, TrainConfig


def _setup(rng, name="fa"):
    mg.set_default_dtype(np.float64)
    model = nn.mlp([6, 8, 8, 3], "tanh", generator=np.random.default_rng(0))
    rule = rules.make(name, model, seed=0)
    opt = optim.SGD(list(model.parameters()) + list(rule.parameters()), lr=0.1, momentum=0.9)
    batches = [(mg.tensor(rng.standard_normal((10, 6))), rng.integers(0, 3, 10))
               for _ in range(7)]
    return model, rule, opt, batches


def test_records_every_nth_step_and_what_the_step_applied(rng):
    model, rule, opt, batches = _setup(rng)
    rec = Recorder(every=3)
    expected = []
    for i, (x, y) in enumerate(batches):
        if i % 3 == 0:     # the reference: bp's gradient at the weights before the step
            grads, _ = backprop_reference(model, x, y)
            snapshot = [p.data.copy() for p in model.parameters()]
        rec.step(rule, opt, x, y, epoch=1)
        if i % 3 == 0:
            applied = {n: p.grad.data for n, p in model.named_parameters()}
            expected.append(compare_updates(applied, grads))
            assert not all(np.array_equal(a, p.data)
                           for a, p in zip(snapshot, model.parameters()))
    assert [r["step"] for r in rec.records] == [0, 3, 6]
    for r, e in zip(rec.records, expected):
        assert r["kind"] == "inspect" and r["epoch"] == 1
        assert set(r) >= {"update", "signal", "weight", "representation", "memory", "loss"}
        for k in e:
            assert r["update"][k]["angle"] == pytest.approx(e[k]["angle"], abs=1e-9)
        assert r["update"]["5.weight"]["angle"] < 1e-6          # fa's last layer is exact
        assert set(r["weight"]) == {"3", "5"}


def test_a_recorded_run_trains_exactly_as_an_unrecorded_one(rng):
    model_a, rule_a, opt_a, batches = _setup(rng, "kp")
    model_b, rule_b, opt_b, _ = _setup(rng, "kp")
    rec = Recorder(every=2)
    for x, y in batches:
        rec.step(rule_a, opt_a, x, y)
        rule_b.step(x, y, opt_b)
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        assert np.array_equal(p.data, q.data)
    assert len(rec.records) == 4


def test_records_round_trip_through_the_file_and_the_state(tmp_path, rng):
    model, rule, opt, batches = _setup(rng)
    rec = Recorder(every=2, measures=("update", "signal"), samples=True)
    for x, y in batches:
        rec.step(rule, opt, x, y)
    path = tmp_path / "metrics.jsonl"
    rec.save(path)
    back = load_records(path)
    assert back == json.loads(json.dumps(rec.records)) == rec.records
    assert "representation" not in back[0] and "sample_angles" in back[0]["signal"]["3"]
    again = Recorder.from_state_dict(rec.state_dict())
    assert again.records == rec.records and again.steps == 7 and again.every == 2
    assert load_records(path, kind="epoch") == []


def test_bad_arguments_and_bad_files(tmp_path):
    with pytest.raises(ArgumentError, match="positive integer"):
        Recorder(every=0)
    with pytest.raises(ArgumentError, match="unknown measure"):
        Recorder(measures=("update", "angles"))
    bad = tmp_path / "m.jsonl"
    bad.write_text('{"kind": "epoch"}\nnot json\n')
    with pytest.raises(DataError, match=r"m.jsonl, line 2"):
        load_records(bad)


def test_a_training_run_logs_records_between_its_epochs_and_resumes_them(tmp_path):
    cfg = TrainConfig(data="digits", epochs=2, rule="dfa", hidden=(16,), train_subset=200,
                      batch_size=50)
    run = Run(cfg, tmp_path, progress=False, log=lambda s: None, recorder=Recorder(every=3))
    run.run_epochs()
    lines = load_records(tmp_path / "metrics.jsonl")
    kinds = [(r["kind"], r.get("step"), r["epoch"]) for r in lines]
    assert kinds == [("inspect", 0, 1), ("inspect", 3, 1), ("epoch", None, 1),
                     ("inspect", 6, 2), ("epoch", None, 2)]
    assert lines[2]["steps"] == 4
    # resuming keeps the records and goes on recording
    again = Run.resume(tmp_path, epochs=3, progress=False, log=lambda s: None)
    assert again.recorder.records == run.recorder.records
    again.run_epochs()
    steps = [r["step"] for r in load_records(tmp_path / "metrics.jsonl", kind="inspect")]
    assert steps == [0, 3, 6, 9]


def test_no_recorder_no_records(tmp_path):
    cfg = TrainConfig(data="digits", epochs=1, hidden=(8,), train_subset=100)
    Run(cfg, tmp_path, progress=False, log=lambda s: None).run_epochs()
    lines = load_records(tmp_path / "metrics.jsonl")
    assert [r["kind"] for r in lines] == ["epoch"]


def test_the_memory_of_a_recorded_step_is_what_activation_memory_counts(rng):
    from minigrad.inspect import activation_memory

    model, rule, opt, batches = _setup(rng, "bp")
    twin = nn.mlp([6, 8, 8, 3], "tanh", generator=np.random.default_rng(0))
    x, y = batches[0]
    expected = activation_memory(rules.make("bp", twin), x, y)
    rec = Recorder(every=1, measures=("memory",))
    rec.step(rule, opt, x, y)
    assert rec.records[0]["memory"] == {"peak": expected.peak,
                                        "per_layer": dict(expected.per_layer)}
    assert expected.peak > 0
