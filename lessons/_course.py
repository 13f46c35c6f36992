"""What every lesson shares: the fast/full switch, where figures go, the
data, and how exercises are checked. Nothing here teaches; the lessons do.

* ``FAST`` -- true when ``MINIGRAD_FAST=1``: smaller data, fewer epochs,
  the same code path (the test suite runs every lesson this way).
* ``pick(fast, full)`` -- the value for the current mode.
* ``save_figure(fig, name)`` -- writes ``lessons/figures/<name>.png``
  (``lessons/figures/fast/`` in fast mode, so a quick run never replaces
  the committed full-mode figures; ``MINIGRAD_FIGURES`` overrides the
  folder), atomically, and shows the figure inline in a notebook.
* ``fashion_mnist(n_train, n_test)`` -- the first examples of
  Fashion-MNIST (the shipped digits in fast mode where Fashion-MNIST is
  neither installed nor downloadable, with a note).
* ``exercise(check, answer)`` -- runs a checker from ``checks/`` on the
  learner's answer, or says the exercise is still open when the answer is
  ``None``. Checkers raise :class:`checks.ExerciseError` with a hint.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:          # a script: draw off screen
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import minigrad as mg  # noqa: E402
from checks import ExerciseError  # noqa: E402,F401  (re-exported for the lessons)

HERE = Path(__file__).resolve().parent
FAST = os.environ.get("MINIGRAD_FAST", "").strip() not in ("", "0")


def pick(fast, full):
    """``fast`` when the lessons run in fast mode, else ``full``."""
    return fast if FAST else full


def figures_dir() -> Path:
    """Where this run's figures go."""
    if os.environ.get("MINIGRAD_FIGURES"):
        return Path(os.environ["MINIGRAD_FIGURES"])
    return HERE / "figures" / ("fast" if FAST else "")


def save_figure(fig, name):
    """Save ``fig`` as ``<figures>/<name>.png`` (write to a temporary file,
    then rename: never a half-written figure), show it inline in a
    notebook, and close it in a script. Returns the path."""
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.chmod(tmp, 0o644)             # mkstemp makes it private; a figure is not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    if "ipykernel" in sys.modules:
        plt.show()
    else:
        plt.close(fig)
    print(f"figure: {path}")
    return path


def fashion_mnist(n_train=None, n_test=None):
    """The first ``n_train`` training and ``n_test`` test examples of
    Fashion-MNIST (all when None), standardised, as a
    :class:`minigrad.data.Split`. In fast mode, where Fashion-MNIST can be
    neither found nor downloaded, the shipped 8×8 digits stand in (said
    aloud: the numbers then differ from the text)."""
    try:
        split = mg.data.fashion_mnist()
    except mg.MinigradError as err:
        if not FAST:
            raise
        print(f"note: Fashion-MNIST is not available ({err}); fast mode uses the shipped "
              "8x8 digits instead, so the numbers differ from the text")
        split = mg.data.digits()
    train = split.train if n_train is None else split.train.subset(n_train)
    test = split.test if n_test is None else split.test.subset(n_test)
    return mg.data.Split(split.name, train, test, split.input_shape, split.num_classes,
                         split.task)


def exercise(check, answer):
    """Check ``answer`` with ``check`` (a function from ``checks/``); an
    answer of None means the learner has not tried yet."""
    title = (check.__doc__ or check.__name__).strip().splitlines()[0]
    if answer is None:
        print(f"[open] {title}\n       (replace None with your answer and run the cell again)")
        return None
    check(answer)
    print(f"[correct] {title}")
    return True
