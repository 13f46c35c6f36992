"""Every lesson runs end to end in fast mode, is a jupytext percent-format
script, checks its exercises with checkers that are themselves tested, and
is listed in lessons/README.md."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "lessons"
FILES = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
TESTS = Path(__file__).resolve().parent


def test_there_are_twelve_lessons_numbered_in_order():
    numbers = [int(f.name[:2]) for f in FILES]
    assert numbers == list(range(1, 13)), [f.name for f in FILES]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_lesson_runs_in_fast_mode(path, tmp_path):
    # the lesson imports this checkout's minigrad, as the tests in this process do
    path_entries = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, MINIGRAD_FAST="1", MINIGRAD_FIGURES=str(tmp_path), MPLBACKEND="Agg",
               PYTHONHASHSEED="0", PYTHONPATH=os.pathsep.join(path_entries))
    done = subprocess.run([sys.executable, path.name], cwd=LESSONS, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    figures = sorted(tmp_path.glob("*.png"))
    assert figures, f"{path.name} saved no figure"
    for fig in figures:
        assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", fig
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_lesson_is_a_percent_format_notebook(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ---\n"), f"{path.name}: no jupytext header"
    header = text.split("# ---\n")[1]
    assert "format_name: percent" in header, f"{path.name}: not the percent format"
    markdown = len(re.findall(r"^# %% \[markdown\]", text, flags=re.M))
    code = len(re.findall(r"^# %%(?! \[markdown\])", text, flags=re.M))
    assert markdown >= 5 and code >= 5, (path.name, markdown, code)
    assert "exercise(" in text, f"{path.name}: no exercises"
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.reads(text, fmt="py:percent")
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_lesson_uses_the_public_api_only(path):
    """No ``minigrad._x`` module or private name reached from a lesson."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("minigrad"):
            assert not any(part.startswith("_") for part in node.module.split(".")), node.module
            assert not any(a.name.startswith("_") for a in node.names), ast.dump(node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("minigrad"):
                    assert not any(p.startswith("_") for p in alias.name.split(".")), alias.name
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "mg":
            assert not node.attr.startswith("_"), f"{path.name}: mg.{node.attr}"


def _checkers():
    sys.path.insert(0, str(LESSONS))
    try:
        import importlib
        found = []
        for f in sorted((LESSONS / "checks").glob("lesson[0-9][0-9].py")):
            module = importlib.import_module(f"checks.{f.stem}")
            found += [(f.stem, name) for name in dir(module)
                      if name.startswith("check_") and callable(getattr(module, name))]
        return found
    finally:
        sys.path.remove(str(LESSONS))


def test_every_lesson_has_a_checker_module():
    stems = {f"lesson{f.name[:2]}" for f in FILES}
    have = {f.stem for f in (LESSONS / "checks").glob("lesson[0-9][0-9].py")}
    assert stems <= have, sorted(stems - have)


@pytest.mark.parametrize("module,name", _checkers())
def test_every_checker_is_tested_with_a_right_and_a_wrong_answer(module, name):
    """Each checker's name appears in its lesson's checker tests (which call
    it with a right answer and assert that wrong ones raise)."""
    tests = TESTS / f"test_{module}_checks.py"
    assert tests.exists(), f"{tests.name} is missing"
    text = tests.read_text(encoding="utf-8")
    assert name in text, f"{module}.{name} is not tested in {tests.name}"
    assert "pytest.raises(ExerciseError" in text


def test_readme_outline_matches_the_files():
    readme = (LESSONS / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"\b(\d\d_[a-z0-9_]+\.py)\b", readme)
    assert sorted(set(listed)) == [f.name for f in FILES]
