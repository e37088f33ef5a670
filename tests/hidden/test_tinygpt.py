"""Hidden tests for TinyGPT, graded with stand-in blocks, final layer norm and positional encoding.

The stand-ins (course/grading/probes/standins.py) make the expected logits a short formula, so only the
model's own wiring is graded here: embedding -> positional encoding -> blocks -> ln_f -> lm_head. Every
test names the sentence of docs/API.md it checks (`Contract:` in its docstring); the checks of errors,
sizes and causality count only when the same model's logits are right.
"""

import numpy as np
import pytest

from course.grading.probes.standins import StandInPositionalEncoding
from tests.hidden._checks import expect, expect_close, expect_equal, expect_raised

SIZES = {"vocab_size": 7, "d_model": 8, "num_heads": 2, "num_layers": 2, "max_len": 6}
V, D, L, MAX_LEN = SIZES["vocab_size"], SIZES["d_model"], SIZES["num_layers"], SIZES["max_len"]
B, T, FUTURE = 2, 6, 4
rng = np.random.default_rng(61)

WEIGHTS = {
    "token_embedding.weight": rng.normal(size=(V, D)),
    **{f"blocks.{i}.weight": 0.5 * rng.normal(size=(D, D)) for i in range(L)},
    "ln_f.gamma": 1 + 0.5 * rng.normal(size=D), "ln_f.beta": 0.5 * rng.normal(size=D),
    "lm_head.weight": rng.normal(size=(D, V)), "lm_head.bias": rng.normal(size=V),
}
WEIGHTS = {name: value.astype(np.float32) for name, value in WEIGHTS.items()}
ids = rng.integers(0, V, size=(B, T))
ids_future_changed = ids.copy()
ids_future_changed[:, FUTURE:] = (ids[:, FUTURE:] + 1 + rng.integers(0, V - 1, size=(B, T - FUTURE))) % V
OPTIONS = {"d_ff": 12, "dropout": 0.25}
REQUEST = {"options": OPTIONS, "model": {
    "sizes": SIZES, "weights": WEIGHTS, "ids": ids, "ids_future_changed": ids_future_changed,
    "ids_too_long": rng.integers(0, V, size=(2, MAX_LEN + 2)),
    "upstream": rng.normal(size=(B, T, V)).astype(np.float32),
}}
LOGITS_WHAT = "logits; expected lm_head(ln_f(blocks(positional_encoding(token_embedding(ids)))))"


def expected_logits(token_ids):
    """lm_head(ln_f(blocks(positional_encoding(token_embedding(ids))))) with the stand-ins' formulas."""
    w = {name: value.astype(np.float64) for name, value in WEIGHTS.items()}
    steps = token_ids.shape[1]
    h = w["token_embedding.weight"][token_ids] + StandInPositionalEncoding(MAX_LEN, D).pe[:steps]  # (B, T, D)
    running_mean = np.tril(np.ones((steps, steps))) / np.arange(1, steps + 1)[:, None]
    for i in range(L):
        h = h + np.tanh(running_mean @ h @ w[f"blocks.{i}.weight"])
    h = h * w["ln_f.gamma"] + w["ln_f.beta"]
    return h @ w["lm_head.weight"] + w["lm_head.bias"]  # (B, T, V)


@pytest.mark.weight(3)
def test_logits_follow_embedding_positions_blocks_ln_f_lm_head(student):
    """Contract: lm_head(ln_f(blocks(positional_encoding(token_embedding(ids)))))"""
    expect_close(student["logits_and_gradients"]["logits"], expected_logits(ids), LOGITS_WHAT, atol=1e-4)


@pytest.mark.weight(2)
def test_gradients_match_reference(student, reference):
    """Contract: `TinyGPT(vocab_size, d_model, num_heads, num_layers, max_len, d_ff=None, dropout=0.0)`:
    `token_embedding` = `Embedding(vocab_size, d_model)`, `positional_encoding` = `PositionalEncoding(max_len,
    d_model)`, `blocks` (a list of `TransformerBlock`), `ln_f` = `LayerNorm(d_model)`, `lm_head` =
    `Dense(d_model, vocab_size)`"""
    mine, expected = student["logits_and_gradients"], reference["logits_and_gradients"]
    expect_close(mine["logits"], expected["logits"], "logits", atol=1e-4)
    for name, grad in expected["grads"].items():
        expect_close(mine["grads"][name], grad, f"gradient of {name}", atol=1e-4)


@pytest.mark.weight(2)
def test_future_tokens_never_change_earlier_logits(student):
    """Contract: `forward(ids)` with int ids (B, T) (array or Tensor) returns logits (B, T, V)"""
    before = np.asarray(student["logits_and_gradients"]["logits"])
    expect_close(before, expected_logits(ids), f"{LOGITS_WHAT} (causality counts only for right logits)", atol=1e-4)
    after = np.asarray(student["future_changed"])
    expect_close(after[:, :FUTURE], before[:, :FUTURE],
                 f"logits at positions < {FUTURE} after changing the tokens at positions >= {FUTURE}", atol=1e-5)


def test_accepts_ids_as_a_tensor(student):
    """Contract: `forward(ids)` with int ids (B, T) (array or Tensor) returns logits (B, T, V)"""
    expect_close(student["logits_from_tensor_ids"], expected_logits(ids), "logits for ids given as a Tensor",
                 atol=1e-4)


def test_longer_than_max_len_raises_value_error(student):
    """Contract: T > max_len raises `ValueError`."""
    result = student["too_long"]
    expect_close(result["valid"], expected_logits(ids), f"{LOGITS_WHAT}, from the model that raised (raising counts "
                 "only if it also works)", atol=1e-4)
    expect_raised(result, "ValueError", f"forward(ids) with T = {MAX_LEN + 2} > max_len = {MAX_LEN}")


def test_parameter_count_and_sizes(student):
    """Contract: attributes `vocab_size`, `max_len`"""
    sizes = student["sizes"]
    expect_close(sizes["logits"], expected_logits(ids), f"{LOGITS_WHAT} (sizes count only for right logits)",
                 atol=1e-4)
    # embedding V*D, stand-in blocks D*D each, ln_f 2D, lm_head D*V + V
    expected = V * D + L * D * D + 2 * D + D * V + V
    expect(sizes["num_parameters"] == expected,
           f"num_parameters(): expected {expected} (embedding {V}x{D}, {L} blocks, ln_f, lm_head {D}x{V} + bias; "
           f"the blocks counted with stand-ins of {D * D} parameters each), got {sizes['num_parameters']}")
    expect_equal(sizes["vocab_size"], V, "model.vocab_size")
    expect_equal(sizes["max_len"], MAX_LEN, "model.max_len")


@pytest.mark.weight(2)
def test_d_ff_and_dropout_are_passed_on_to_every_block(student):
    """Contract: passes `d_ff` and `dropout` on to every block"""
    result = student["options"]
    expect_close(result["logits"], expected_logits(ids), f"{LOGITS_WHAT}, of TinyGPT(..., d_ff=12, dropout=0.25) "
                 "in eval mode", atol=1e-4)
    expect_equal(len(result["received"]), L, "number of blocks")
    for i, received in enumerate(result["received"]):
        for name, value in OPTIONS.items():
            expect_equal(received[name], value, f"{name} given to TransformerBlock number {i} by "
                         f"TinyGPT(..., d_ff={OPTIONS['d_ff']}, dropout={OPTIONS['dropout']})")
        expect_equal((received["d_model"], received["num_heads"]), (D, SIZES["num_heads"]),
                     f"(d_model, num_heads) given to TransformerBlock number {i}")
