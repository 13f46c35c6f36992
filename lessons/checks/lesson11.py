"""Checkers for lesson 11 (predictive coding). Each computes the right
answer itself: from the gradient of the energy (minigrad's reverse mode),
from minigrad's `predictive_coding` rule against backprop, or from the
rule's own relaxed state and updates."""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import nn, rules
from minigrad.inspect import backprop_reference

from . import ExerciseError, call_answer, expect_close


def check_inference_step(inference_step):
    """Write one inference step x + gamma (-eps + (eps_above * fprime_above) @ W_above)."""
    if not callable(inference_step):
        raise ExerciseError("answer with the function itself: answer = inference_step")
    rng = np.random.default_rng(11)
    for n, width, above, gamma in [(4, 5, 3, 0.1), (1, 6, 6, 1.0), (3, 2, 7, 0.37)]:
        # a hidden layer between x_below and the layer above, tanh everywhere
        x_below = rng.standard_normal((n, 4))
        W, b = rng.standard_normal((width, 4)), rng.standard_normal(width)
        W_above, b_above = rng.standard_normal((above, width)), rng.standard_normal(above)
        x_value = np.tanh(x_below @ W.T + b) + 0.3 * rng.standard_normal((n, width))
        x_above = rng.standard_normal((n, above))
        # the reference: x - gamma dF/dx, dF/dx from minigrad's reverse mode
        xt = mg.tensor(x_value, requires_grad=True)
        mu_above = mg.tanh(xt @ mg.tensor(W_above).T + mg.tensor(b_above))
        F = 0.5 * ((xt - mg.tensor(np.tanh(x_below @ W.T + b))) ** 2).sum() \
            + 0.5 * ((mg.tensor(x_above) - mu_above) ** 2).sum()
        F.backward()
        want = x_value - gamma * xt.grad.data
        eps = x_value - np.tanh(x_below @ W.T + b)
        a_above = x_value @ W_above.T + b_above
        eps_above = x_above - np.tanh(a_above)
        fprime_above = 1 - np.tanh(a_above) ** 2
        got = call_answer(inference_step, x_value.copy(), eps.copy(), eps_above.copy(),
                    fprime_above.copy(), W_above.copy(), gamma)
        if got is None:
            raise ExerciseError("your function returned None")
        expect_close(got, want, "the new value nodes", rtol=1e-9, atol=1e-12,
                     hint="x moves by -gamma dF/dx: its own error pulls it back (-eps), the "
                          "errors above push it through W_above (rows: v @ W_above)")
    return True


def _pc_equals_bp(sizes, T, seed=0):
    model = nn.mlp(sizes, "tanh", generator=np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    x = mg.tensor(rng.standard_normal((16, sizes[0])).astype(np.float32))
    y = rng.integers(0, sizes[-1], 16)
    grads, _ = backprop_reference(model, x, y)
    ups = rules.make("predictive_coding", model, T=T, inference_rate=1.0,
                     fixed_prediction=True).updates(x, y)
    return all(np.abs(ups[k] - grads[k]).max() <= 1e-5 * np.abs(grads[k]).max() + 1e-12
               for k in grads)


def check_exact_steps(answer):
    """With fixed prediction and gamma = 1, the smallest T at which PC equals backprop on a 784-128-128-128-10 MLP."""
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        raise ExerciseError("answer with an integer number of inference steps")
    sizes = [784, 128, 128, 128, 10]
    want = next(T for T in range(10) if _pc_equals_bp(sizes, T))
    if int(answer) != want:
        raise ExerciseError(f"T = {answer} is not right yet. With gamma = 1, how many layers "
                            "down does the output error travel in one inference step, and "
                            "which layers need it?")
    return True


def check_pc_weight_update(pc_weight_update):
    """Write the local weight update -(eps * fprime)^T x_below / (beta N), as rule.updates returns it."""
    if not callable(pc_weight_update):
        raise ExerciseError("answer with the function itself: answer = pc_weight_update")
    model = nn.mlp([20, 16, 12, 5], "tanh", generator=np.random.default_rng(5))
    rng = np.random.default_rng(6)
    x = mg.tensor(rng.standard_normal((24, 20)).astype(np.float32))
    y = rng.integers(0, 5, 24)
    for beta in (0.5, 2.0):
        pc = rules.make("predictive_coding", model, T=15, inference_rate=0.2, nudge=beta)
        ups = pc.updates(x, y)
        linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        for i, (name, layer) in enumerate(linears):
            x_below = pc.last_values[i].astype(np.float64)
            a = x_below @ layer.weight.data.T.astype(np.float64) + layer.bias.data
            fprime = 1 - np.tanh(a) ** 2 if i < len(linears) - 1 else np.ones_like(a)
            eps = pc.last_errors[name].astype(np.float64)
            got = call_answer(pc_weight_update, eps.copy(), fprime.copy(), x_below.copy(), beta)
            if got is None:
                raise ExerciseError("your function returned None")
            expect_close(got, ups[f"{name}.weight"], f"layer {name}'s update (beta = {beta})",
                         rtol=1e-4, atol=1e-7,
                         hint="the error at the layer's output is eps * fprime; the update is "
                              "its outer product with x_below, summed over the batch, with the "
                              "gradient's sign (minus), divided by beta and by N")
    return True
