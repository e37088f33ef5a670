"""Hidden tests for LanguageModelTrainer, driven with a recording bigram model and SGD optimizer.

The stand-ins (course/grading/probes/trainer.py) record each batch the model sees and, at every optimizer
step, the learning rate and the gradients, so that zero_grad, clipping and schedules show. The optimizer
is tinytorch's own SGD (recording), so any of its public methods may be used. Every test names the
sentence of docs/API.md it checks (`Contract:` in its docstring).
"""

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_close, expect_equal
from tinytorch.data import random_windows

V = 40  # the fit cases train on the tokens 0..39, so windows are runs of consecutive ids
rng = np.random.default_rng(81)
TABLE = rng.normal(size=(V, V)).astype(np.float32)
BIAS = rng.normal(size=V).astype(np.float32)
BATCHES = [rng.integers(0, V, size=(2, 6)) for _ in range(3)]
SCHEDULE = [0.5, 0.25, 0.125, 0.0625, 0.03125]
NUM_STEPS, BATCH_SIZE, BLOCK_SIZE, SEED = 4, 3, 5, 11
CLIP = 0.05


def _config(mode: str, **extra) -> dict:
    return {"mode": mode, "table": TABLE, "bias": BIAS, "lr": 0.1, **extra}


def _fit(seed: int) -> dict:
    return _config("fit", tokens=np.arange(V), num_steps=NUM_STEPS, batch_size=BATCH_SIZE, block_size=BLOCK_SIZE,
                   seed=seed, lr_schedule=SCHEDULE)


REQUEST = {
    "steps": _config("steps", batches=BATCHES),
    "clipped_steps": _config("steps", batches=BATCHES, clip_norm=CLIP),
    "fit": _fit(SEED),
    "fit_other_seed": _fit(SEED + 1),
}


def bigram_loss_and_grads(table, bias, ids):
    """Shifted mean cross-entropy of logits = table[ids] + bias, and its gradients (table, bias)."""
    logits = (table[ids] + bias).astype(np.float64)[:, :-1]  # (B, T-1, V)
    targets = ids[:, 1:]
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    count = targets.size
    loss = -np.log(np.take_along_axis(probs, targets[..., None], -1)).sum() / count
    d_logits = probs.copy()
    np.put_along_axis(d_logits, targets[..., None], np.take_along_axis(probs, targets[..., None], -1) - 1, -1)
    d_logits /= count
    d_table = np.zeros(table.shape)
    np.add.at(d_table, ids[:, :-1], d_logits)
    return loss, [d_table, d_logits.sum(axis=(0, 1))]


def _global_norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads)))


@pytest.mark.weight(2)
def test_train_step_returns_the_loss_before_the_step(student, reference):
    """Contract: returns the loss before the step"""
    losses = student["steps"]["losses"]
    expect_equal(len(losses), len(BATCHES), "number of losses from train_step calls")
    first, _ = bigram_loss_and_grads(TABLE, BIAS, BATCHES[0])
    expect_close(losses[0], first, "the first train_step's loss (the loss of the untrained model on that batch)")
    expect_close(losses, reference["steps"]["losses"], "losses of three train_step calls")


@pytest.mark.weight(2)
def test_gradients_are_zeroed_before_each_backward(student, reference):
    """Contract: `train_step(batch) -> float` (zero grads, forward, loss, backward"""
    grads = student["steps"]["grads"]
    expect_equal(len(grads), len(BATCHES), "number of optimizer.step() calls in three train_step calls")
    _, first = bigram_loss_and_grads(TABLE, BIAS, BATCHES[0])
    for name, mine, expected in zip(("table", "bias"), grads[0], first, strict=True):
        expect_close(mine, expected, f"gradient of the model's {name} at the first step", atol=1e-5)
    for step, (mine, expected) in enumerate(zip(grads, reference["steps"]["grads"], strict=True)):
        for name, g_mine, g_expected in zip(("table", "bias"), mine, expected, strict=True):
            expect_close(g_mine, g_expected, f"gradient of the model's {name} at step {step + 1} (if it is the sum "
                         "over steps, zero_grad is missing or comes after backward)", atol=1e-5)


def test_parameters_change_as_the_optimizer_says(student, reference):
    """Contract: optimizer step"""
    for name, mine, expected in zip(("table", "bias"), student["steps"]["params"], reference["steps"]["params"],
                                    strict=True):
        expect_close(mine, expected, f"the model's {name} after three train_step calls with SGD(lr=0.1)", atol=1e-5)


@pytest.mark.weight(2)
def test_clip_norm_scales_the_global_gradient_norm(student, reference):
    """Contract: clip the global grad norm if `clip_norm`"""
    clipped = student["clipped_steps"]["grads"]
    expect_equal(len(clipped), len(BATCHES), "number of optimizer.step() calls")
    for step, (mine, expected) in enumerate(zip(clipped, reference["clipped_steps"]["grads"], strict=True)):
        norm = _global_norm(mine)
        expect(abs(norm - CLIP) < 1e-4 * CLIP + 1e-7,
               f"step {step + 1}: the global norm of all gradients at optimizer.step() should be clip_norm = {CLIP} "
               f"(it was larger before clipping), got {norm:.6g}")
        for name, g_mine, g_expected in zip(("table", "bias"), mine, expected, strict=True):
            expect_close(g_mine, g_expected, f"clipped gradient of {name} at step {step + 1} (one scale for all "
                         "parameters together, not per parameter)", atol=1e-6)


def test_no_clipping_without_clip_norm(student, reference):
    """Contract: `LanguageModelTrainer(model, optimizer, loss_fn, clip_norm=None)`"""
    expect_close(student["steps"]["losses"], reference["steps"]["losses"], "losses of three train_step calls")
    _, first = bigram_loss_and_grads(TABLE, BIAS, BATCHES[0])
    expect(_global_norm(first) > 10 * CLIP, "test setup: the unclipped gradient should be large")
    expect_close(_global_norm(student["steps"]["grads"][0]), _global_norm(first),
                 "global gradient norm at the first step with clip_norm=None (no clipping)")


@pytest.mark.weight(2)
def test_fit_returns_one_loss_per_step_and_keeps_history(student, reference):
    """Contract: `history` keeps all losses."""
    result = student["fit"]
    expect_equal(len(result["losses"]), NUM_STEPS, f"number of losses returned by fit(num_steps={NUM_STEPS})")
    expect_close(result["losses"], reference["fit"]["losses"], "losses returned by fit")
    expect_close(result["history"][-NUM_STEPS:], result["losses"], "the last entries of trainer.history after fit")


@pytest.mark.weight(2)
def test_fit_trains_on_random_windows_of_block_size_drawn_with_the_seed(student):
    """Contract: `fit(tokens, num_steps, batch_size, block_size, seed=0, lr_schedule=None, progress=True) ->
    list[float]` makes one `rng = np.random.default_rng(seed)` and draws each step's batch with one call
    `tinytorch.data.random_windows(tokens, batch_size, block_size, rng)`"""
    batches = student["fit"]["batches"]
    expect_equal(len(batches), NUM_STEPS, "number of batches the model saw during fit")
    windows = np.random.default_rng(SEED)
    for step, batch in enumerate(batches):
        batch = np.asarray(batch)
        expect_equal(batch.shape, (BATCH_SIZE, BLOCK_SIZE), f"shape of the batch at step {step + 1}")
        expect(np.all(np.diff(batch, axis=1) == 1),
               f"step {step + 1}: each row should be a contiguous window of the tokens, got {batch.tolist()}")
        expected = random_windows(np.arange(V), BATCH_SIZE, BLOCK_SIZE, windows)
        expect_equal(batch, expected, f"batch at step {step + 1} (tinytorch.data.random_windows with "
                     f"np.random.default_rng(seed={SEED}), one call per step)")
    other = [np.asarray(batch) for batch in student["fit_other_seed"]["batches"]]
    expect(not all(np.array_equal(a, b) for a, b in zip(batches, other, strict=True)),
           "fit with seed 11 and seed 12 drew the same windows: the seed is not used")


def test_fit_sets_the_learning_rate_from_the_schedule_at_each_step(student, reference):
    """Contract: sets `optimizer.lr = lr_schedule(step)` for step = 0, 1, ... when given"""
    expect_close(student["fit"]["losses"], reference["fit"]["losses"], "losses returned by fit (the schedule counts "
                 "only when fit trains)")
    expect_close(student["fit"]["lrs"], SCHEDULE[:NUM_STEPS],
                 "optimizer.lr at each step of fit(..., lr_schedule) (lr_schedule(step) for step = 0, 1, ...)")
