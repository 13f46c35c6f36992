"""The command line: demo and the gradcheck table."""
import io
import subprocess
import sys

import pytest

from minigrad import cli


def test_gradcheck_table_lists_every_op_and_passes():
    out = io.StringIO()
    ok = cli.gradcheck_table(out=out)
    text = out.getvalue()
    assert ok, text
    from minigrad.ops.registry import all_opinfos
    for info in all_opinfos():
        assert f"\n{info.name} " in text
    assert "FAILED" not in text


def test_gradcheck_of_chosen_ops():
    out = io.StringIO()
    assert cli.gradcheck_table(["exp", "matmul"], with_torch=False, out=out)
    rows = [line for line in out.getvalue().splitlines() if line.endswith("  ok")]
    assert len(rows) == 2


def test_gradcheck_unknown_op():
    with pytest.raises(SystemExit, match="unknown op"):
        cli.gradcheck_table(["nope"], out=io.StringIO())


def test_demo_learns_the_spirals():
    out = io.StringIO()
    cli.demo(epochs=300, table=False, out=out)
    last = [line for line in out.getvalue().splitlines() if "accuracy" in line][-1]
    accuracy = float(last.split("accuracy")[1].strip().rstrip("%"))
    assert accuracy > 90.0, out.getvalue()


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "minigrad", "gradcheck", "relu", "--no-torch"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "relu" in res.stdout and "ok" in res.stdout
