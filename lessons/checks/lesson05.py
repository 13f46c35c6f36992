"""Checkers for lesson 5 (training a real model)."""
from __future__ import annotations

import math

import numpy as np

import minigrad as mg
from checks import ExerciseError, expect_close


def check_steps_per_epoch(answer):
    """Write steps_per_epoch(n, batch_size): optimizer steps in one epoch (last batch kept)."""
    if not callable(answer):
        raise ExerciseError("give a function steps_per_epoch(n, batch_size) returning an int")
    for n, batch in [(10_000, 64), (500, 64), (64, 64), (65, 64), (1, 32), (1797, 32), (100, 1)]:
        want = math.ceil(n / batch)
        assert want == len(mg.data.DataLoader(mg.data.Dataset(np.zeros((n, 1)), np.zeros(n)),
                                               batch))
        try:
            got = answer(n, batch)
        except Exception as err:  # noqa: BLE001  (show the learner what went wrong)
            raise ExerciseError(f"steps_per_epoch({n}, {batch}) raised {err!r}") from err
        if got != want:
            raise ExerciseError(f"steps_per_epoch({n}, {batch}) should be {want}, got {got}. "
                                "The last batch may be smaller than batch_size, and it counts")
    return True


def check_momentum_step(answer):
    """Write momentum_step(w, g, b, lr, mu) -> (w, b): one step of SGD with momentum."""
    if not callable(answer):
        raise ExerciseError("give a function momentum_step(w, g, b, lr, mu) returning (w, b)")
    rng = np.random.default_rng(5)
    for lr, mu in [(0.1, 0.9), (0.02, 0.5), (0.3, 0.0)]:
        w0 = rng.standard_normal((3, 4))
        param = mg.tensor(w0.copy(), requires_grad=True)
        reference = mg.optim.SGD([param], lr=lr, momentum=mu)
        w, b = w0.copy(), None
        for step in range(4):
            g = rng.standard_normal((3, 4))
            param.grad = mg.tensor(g.copy())
            reference.step()
            try:
                w, b = answer(w.copy(), g.copy(), None if b is None else b.copy(), lr, mu)
            except (TypeError, ValueError) as err:
                raise ExerciseError(f"momentum_step must return a pair (w, b): {err!r}") from err
            except Exception as err:  # noqa: BLE001
                raise ExerciseError(f"momentum_step raised {err!r}") from err
            expect_close(w, param.numpy(), f"w after step {step + 1} (lr {lr}, mu {mu})",
                         rtol=1e-9, atol=1e-12,
                         hint="b = g (first step) or mu*b + g; then w = w - lr*b")
    return True


def check_adam_step(answer):
    """Write adam_step(w, g, m, v, t, lr, beta1, beta2, eps) -> (w, m, v): one Adam step."""
    if not callable(answer):
        raise ExerciseError("give a function adam_step(w, g, m, v, t, lr, beta1, beta2, eps) "
                            "returning (w, m, v)")
    rng = np.random.default_rng(6)
    for lr, betas, eps in [(1e-3, (0.9, 0.999), 1e-8), (0.05, (0.5, 0.9), 1e-3)]:
        w0 = rng.standard_normal(5)
        param = mg.tensor(w0.copy(), requires_grad=True)
        reference = mg.optim.Adam([param], lr=lr, betas=betas, eps=eps)
        w, m, v = w0.copy(), np.zeros(5), np.zeros(5)
        for t in range(1, 5):
            g = rng.standard_normal(5) * 10 ** rng.uniform(-2, 1)
            param.grad = mg.tensor(g.copy())
            reference.step()
            try:
                w, m, v = answer(w.copy(), g.copy(), m.copy(), v.copy(), t, lr, betas[0],
                                 betas[1], eps)
            except (TypeError, ValueError) as err:
                raise ExerciseError(f"adam_step must return a triple (w, m, v): {err!r}") from err
            except Exception as err:  # noqa: BLE001
                raise ExerciseError(f"adam_step raised {err!r}") from err
            expect_close(w, param.numpy(), f"w after step {t} (lr {lr}, betas {betas})",
                         rtol=1e-8, atol=1e-12,
                         hint="m and v are running means of g and g*g; divide them by "
                              "(1 - beta1**t) and (1 - beta2**t); add eps after the square root")
    return True
