"""``minigrad train`` end to end: defaults, outputs, resume equivalence,
and the command-line errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import cli
from minigrad.train import Run, TrainConfig


def test_default_run_learns_digits_and_writes_its_outputs(tmp_path, capsys):
    rc = cli.main(["train", "--out", str(tmp_path / "run"), "--no-progress"])
    assert rc == 0
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    metrics = [json.loads(line) for line in lines]
    assert len(metrics) == 10
    assert set(metrics[0]) >= {"epoch", "train_loss", "train_accuracy", "test_loss",
                               "test_accuracy", "seconds"}
    assert metrics[-1]["test_accuracy"] > 0.95
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    png = (tmp_path / "run" / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "test accuracy" in capsys.readouterr().out


def _interrupted(cfg, folder, after):
    """Train ``cfg`` but stop (as a crash would) after ``after`` epochs."""
    run = Run(cfg, folder, progress=False, log=lambda s: None)
    for _ in range(after):
        run.run_epoch()
        run.write_outputs()
    return run


def _same_run(a, b):
    for (name, p), (_, q) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
    strip = lambda ms: [{k: v for k, v in m.items() if k != "seconds"} for m in ms]  # noqa
    assert strip(a.metrics) == strip(b.metrics)


def test_resume_is_bit_for_bit(tmp_path):
    cfg = TrainConfig(epochs=4, hidden=(32,), optimizer="adam", lr=1e-2, seed=3)
    straight = Run(cfg, tmp_path / "a", progress=False, log=lambda s: None)
    straight.run_epochs()
    _interrupted(cfg, tmp_path / "b", after=2)
    resumed = Run.resume(tmp_path / "b", progress=False, log=lambda s: None)
    assert resumed.epoch == 2
    resumed.run_epochs()
    _same_run(straight, resumed)
    assert [m["lr"] for m in resumed.metrics] == [m["lr"] for m in straight.metrics]


def test_extending_a_run_without_a_schedule(tmp_path):
    cfg = TrainConfig(epochs=4, hidden=(16,), schedule="none", seed=2)
    straight = Run(cfg, tmp_path / "a", progress=False, log=lambda s: None)
    straight.run_epochs()
    Run(TrainConfig(**{**cfg.__dict__, "epochs": 2}), tmp_path / "b", progress=False,
        log=lambda s: None).run_epochs()
    longer = Run.resume(tmp_path / "b", epochs=4, progress=False, log=lambda s: None)
    longer.run_epochs()
    _same_run(straight, longer)


def test_resume_with_dropout_and_sgd_is_bit_for_bit(tmp_path):
    # dropout draws from the backend's default generator: its state is saved too
    cfg = TrainConfig(epochs=3, data="moons", hidden=(16, 16), dropout=0.3, seed=1,
                      batch_size=16)
    a = Run(cfg, tmp_path / "a", progress=False, log=lambda s: None)
    a.run_epochs()
    _interrupted(cfg, tmp_path / "b", after=1)
    c = Run.resume(tmp_path / "b", progress=False, log=lambda s: None)
    c.run_epochs()
    assert any(isinstance(m, mg.nn.Dropout) for m in c.model.modules())
    _same_run(a, c)


def test_regression_data_trains_with_mse(tmp_path):
    run = Run(TrainConfig(data="teacher-student", epochs=3, hidden=(32,), lr=0.01),
              tmp_path, progress=False, log=lambda s: None)
    metrics = run.run_epochs()
    assert metrics[-1]["test_accuracy"] is None
    assert metrics[-1]["test_loss"] < metrics[0]["test_loss"]


@pytest.mark.parametrize("argv,message", [
    (["--lr", "-1"], "--lr: must be positive"),
    (["--lr", "0"], "--lr: must be positive"),
    (["--batch-size", "0"], "--batch-size: must be positive"),
    (["--epochs", "x"], "--epochs"),
    (["--model", "vgg"], "invalid choice: 'vgg' (choose from"),
    (["--data", "imagenet"], "invalid choice: 'imagenet'"),
    (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["--rule", "magic"], "invalid choice: 'magic'"),
    (["--hidden", "10,-1"], "layer sizes must be positive"),
    (["--resume", "somewhere", "--lr", "0.1"], "only --epochs and --out"),
    (["--lr", "inf"], "--lr: must be finite"),
    (["--epochs", "1.5"], "'1.5' is not an integer"),
    (["--dropout", "1.0"], "--dropout: must be in [0, 1)"),
    (["--record", "update,angles"], "unknown measure(s) angles"),
    (["--record-every", "0"], "--record-every: must be positive"),
    (["--resume", "somewhere", "--record-every", "5"], "only --epochs and --out"),
])
def test_bad_command_lines_exit_with_code_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train"] + argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_model_that_does_not_fit_the_data(tmp_path, capsys):
    rc = cli.main(["train", "--model", "lenet5", "--data", "xor", "--out", str(tmp_path),
                   "--no-progress"])
    assert rc == 1
    assert "lenet5 needs image data" in capsys.readouterr().err


def test_resume_from_a_corrupted_checkpoint_names_the_file(tmp_path, capsys):
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04garbage")
    rc = cli.main(["train", "--resume", str(tmp_path), "--no-progress"])
    assert rc == 1
    assert "checkpoint.npz is not a readable checkpoint" in capsys.readouterr().err


def test_console_script_entry_point(tmp_path):
    res = subprocess.run([sys.executable, "-m", "minigrad", "train", "--epochs", "1",
                          "--out", str(tmp_path), "--no-progress"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "checkpoint.npz").exists()
    state = mg.load(tmp_path / "checkpoint.npz")
    assert state["epoch"] == 1 and state["config"]["model"] == "mlp"


@pytest.mark.parametrize("rule,extra", [
    ("fa", []), ("dfa", []), ("usf", []), ("brsf", []), ("frsf", []),
    ("kp", ["--rule-opt", "weight_decay=0.01"]), ("pfa", ["--rule-opt", "expand_ratio=2"]),
    ("shallow", []), ("delta", ["--model", "linear"]), ("perceptron", ["--model", "linear"]),
    ("ff", []), ("pepita", ["--rule-opt", "f_scale=0.05"]), ("mono_forward", []),
    ("local_ce", []), ("activity_forward_gradient", []), ("node_perturbation", []),
    ("predictive_coding", []), ("binary_connect", []), ("straight_through", []),
    ("forward_gradient", []), ("spsa", []),
])
def test_every_rule_trains_from_the_command_line(rule, extra, tmp_path, capsys):
    """Two epochs on digits with the CLI's defaults. Weight perturbation
    (forward_gradient, spsa) carries ~1/√n of the gradient per step on the
    default MLP's 9.6k parameters, so its bar is well above chance (10 %)
    rather than 50 %."""
    rc = cli.main(["train", "--rule", rule, "--epochs", "2", "--out", str(tmp_path),
                   "--no-progress"] + extra)
    assert rc == 0
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    bar = 0.2 if rule in ("forward_gradient", "spsa") else 0.5
    assert metrics[-1]["test_accuracy"] > bar
    assert mg.load(tmp_path / "checkpoint.npz")["config"]["rule"] == rule


def test_rule_options_reach_the_rule_and_bad_ones_are_reported(tmp_path, capsys):
    rc = cli.main(["train", "--rule", "kp", "--rule-opt", "decay=1", "--out", str(tmp_path),
                   "--no-progress"])
    assert rc == 1
    assert "unknown hyper-parameter(s) decay; valid: weight_decay" in capsys.readouterr().err
    run = Run(TrainConfig(rule="pfa", rule_options={"expand_ratio": 3}, epochs=1), tmp_path,
              progress=False, log=lambda s: None)
    assert run.rule.options["expand_ratio"] == 3


@pytest.mark.parametrize("rule", ["kp", "brsf", "pfa"])
def test_resume_restores_the_rules_own_state(rule, tmp_path):
    cfg = TrainConfig(epochs=3, hidden=(16, 16), rule=rule, seed=4)
    straight = Run(cfg, tmp_path / "a", progress=False, log=lambda s: None)
    straight.run_epochs()
    _interrupted(cfg, tmp_path / "b", after=1)
    resumed = Run.resume(tmp_path / "b", progress=False, log=lambda s: None)
    resumed.run_epochs()
    _same_run(straight, resumed)


def test_resume_from_a_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    rc = cli.main(["train", "--resume", str(tmp_path / "nowhere"), "--no-progress"])
    assert rc == 1
    assert "no checkpoint at" in capsys.readouterr().err


def test_resume_with_no_more_epochs_is_refused(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--resume", str(tmp_path), "--epochs", "2", "--no-progress"])
    assert info.value.code == 2
    assert "has already trained 2 epochs" in capsys.readouterr().err


def test_resume_into_a_model_that_does_not_fit_names_the_checkpoint(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    state = mg.load(tmp_path / "checkpoint.npz")
    state["model"]["1.weight"] = mg.zeros(3, 3)
    mg.save(state, tmp_path / "checkpoint.npz")
    rc = cli.main(["train", "--resume", str(tmp_path), "--epochs", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "checkpoint.npz" in err and "1.weight: shape (3, 3) in the state dict" in err


def test_run_outputs_are_readable_by_others(tmp_path):
    """Atomic writes go through mkstemp, whose files are private (0600)."""
    import os
    import stat
    old = os.umask(0o022)
    try:
        assert cli.main(["train", "--epochs", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    finally:
        os.umask(old)
    for name in ("checkpoint.npz", "metrics.jsonl", "curves.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_a_preloaded_split_is_used_and_must_be_the_configured_one(tmp_path):
    from minigrad.data import load_dataset
    from minigrad.errors import ArgumentError

    digits = load_dataset("digits")
    run = Run(TrainConfig(data="digits", epochs=1, hidden=(8,)), None, progress=False,
              split=digits)
    assert run.split is digits
    with pytest.raises(ArgumentError, match="split given is 'digits'.*asks for 'xor'"):
        Run(TrainConfig(data="xor", epochs=1), None, progress=False, split=digits)


def test_train_records_alignment_from_the_command_line(tmp_path, capsys):
    from minigrad.inspect import load_records

    out = tmp_path / "r"
    assert cli.main(["train", "--epochs", "1", "--rule", "fa", "--record-every", "10", "--record",
                 "update,weight", "--out", str(out), "--no-progress"]) == 0
    recs = load_records(out / "metrics.jsonl", kind="inspect")
    assert [r["step"] for r in recs] == [0, 10, 20, 30, 40]
    assert set(recs[0]) == {"kind", "step", "epoch", "loss", "update", "weight"}
