"""Hidden tests for TransformerBlock, graded with stand-in attention and layer norms.

The stand-ins (course/grading/probes/standins.py) replace the student's MultiHeadAttention and LayerNorm
while the block is built: LayerNorm becomes gamma * x + beta, attention a causal running mean times
a matrix. A bug in those parts is graded in their own suites, not here. Every test names the sentence of
docs/API.md it checks (`Contract:` in its docstring).
"""

import math

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_close, expect_equal

D_MODEL, HEADS, D_FF, B, T = 8, 2, 12, 2, 5
rng = np.random.default_rng(51)


def block_weights(d_ff: int, **overrides: np.ndarray) -> dict[str, np.ndarray]:
    weights = {
        "ln1.gamma": 1 + 0.5 * rng.normal(size=D_MODEL), "ln1.beta": 0.5 * rng.normal(size=D_MODEL),
        "attn.weight": 0.5 * rng.normal(size=(D_MODEL, D_MODEL)),
        "ln2.gamma": 1 + 0.5 * rng.normal(size=D_MODEL), "ln2.beta": 0.5 * rng.normal(size=D_MODEL),
        "fc1.weight": 0.5 * rng.normal(size=(D_MODEL, d_ff)), "fc1.bias": 0.5 * rng.normal(size=d_ff),
        "fc2.weight": 0.5 * rng.normal(size=(d_ff, D_MODEL)), "fc2.bias": 0.5 * rng.normal(size=D_MODEL),
    }
    weights.update(overrides)
    return {name: np.asarray(value, dtype=np.float32) for name, value in weights.items()}


def _config(d_ff: int, weights: dict, x: np.ndarray) -> dict:
    return {"d_model": D_MODEL, "num_heads": HEADS, "d_ff": d_ff, "weights": weights, "x": x,
            "upstream": rng.normal(size=x.shape).astype(np.float32)}


x = rng.normal(size=(B, T, D_MODEL)).astype(np.float32)  # (B, T, D)
zero = np.zeros
P = 0.5  # the dropout probability of the dropout cases
REQUEST = {
    "wiring": _config(D_FF, block_weights(D_FF), x),
    "zeroed_sublayers": _config(D_FF, block_weights(D_FF, **{"attn.weight": zero((D_MODEL, D_MODEL)),
                                                             "fc2.weight": zero((D_FF, D_MODEL)),
                                                             "fc2.bias": zero(D_MODEL)}), x),
    "mlp_only": _config(D_MODEL, block_weights(D_MODEL, **{
        "ln1.gamma": np.ones(D_MODEL), "ln1.beta": zero(D_MODEL), "attn.weight": zero((D_MODEL, D_MODEL)),
        "ln2.gamma": np.ones(D_MODEL), "ln2.beta": zero(D_MODEL), "fc1.weight": np.eye(D_MODEL),
        "fc1.bias": zero(D_MODEL), "fc2.weight": np.eye(D_MODEL), "fc2.bias": zero(D_MODEL)}),
        np.linspace(-4, 4, B * T * D_MODEL).reshape(B, T, D_MODEL).astype(np.float32)),
    "dropout": {"d_model": D_MODEL, "num_heads": HEADS, "d_ff": D_FF, "p": P, "seed": 5, "x": x, "weights": {
        "attention_only": block_weights(D_FF, **{"fc2.weight": zero((D_FF, D_MODEL)), "fc2.bias": zero(D_MODEL)}),
        "mlp_only": block_weights(D_FF, **{"attn.weight": zero((D_MODEL, D_MODEL))}),
        "neither": block_weights(D_FF, **{"attn.weight": zero((D_MODEL, D_MODEL)), "fc2.weight": zero((D_FF, D_MODEL)),
                                          "fc2.bias": zero(D_MODEL)})}},
    "sizes": [D_MODEL, HEADS],
    "given_d_ff": D_FF,
}


def gelu_tanh(u):
    return 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3)))


def expected_block(config):
    """Pre-norm: y = x + attn(ln1(x)); out = y + fc2(gelu(fc1(ln2(y)))), with the stand-ins' formulas."""
    w = {name: value.astype(np.float64) for name, value in config["weights"].items()}
    x = config["x"].astype(np.float64)
    running_mean = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]  # (T, T)
    y = x + running_mean @ (x * w["ln1.gamma"] + w["ln1.beta"]) @ w["attn.weight"]
    hidden = gelu_tanh((y * w["ln2.gamma"] + w["ln2.beta"]) @ w["fc1.weight"] + w["fc1.bias"])
    return y + hidden @ w["fc2.weight"] + w["fc2.bias"]


def _wiring_is_right(student, why: str = "") -> None:
    expect_close(student["wiring"]["out"], expected_block(REQUEST["wiring"]),
                 f"block output; expected x + attn(ln1(x)), then + fc2(gelu(fc1(ln2(.)))){why}", atol=1e-4)


@pytest.mark.weight(3)
def test_output_follows_the_pre_norm_residual_formula(student):
    """Contract: pre-norm: `x = x + drop(attn(ln1(x)))`, then `x = x + drop(fc2(gelu(fc1(ln2(x)))))`"""
    _wiring_is_right(student)


@pytest.mark.weight(2)
def test_zeroed_sublayers_leave_the_residual_stream_unchanged(student):
    """Contract: pre-norm: `x = x + drop(attn(ln1(x)))`, then `x = x + drop(fc2(gelu(fc1(ln2(x)))))`"""
    _wiring_is_right(student)
    expect_close(student["zeroed_sublayers"]["out"], x,
                 "block output when attention and fc2 output zero (pre-norm: the input passes through "
                 "the residual connections untouched, the layer norms only feed the sublayers)", atol=1e-5)


@pytest.mark.weight(2)
def test_mlp_uses_the_tanh_gelu(student):
    """Contract: with the tanh GELU"""
    u = REQUEST["mlp_only"]["x"].astype(np.float64)
    expect_close(student["mlp_only"]["out"], u + gelu_tanh(u),
                 "x + fc2(gelu(fc1(x))) with fc1 = fc2 = identity (expected the tanh-approximation GELU)",
                 atol=2e-5, rtol=1e-5)


@pytest.mark.weight(2)
def test_gradients_match_reference(student, reference):
    """Contract: `ln1`, `attn` (causal `MultiHeadAttention`), `ln2`, `fc1` = `Dense(d_model, d_ff)`,
    `fc2` = `Dense(d_ff, d_model)`"""
    mine, expected = student["wiring"], reference["wiring"]
    expect_close(mine["x_grad"], expected["x_grad"], "gradient of the block's input", atol=1e-4)
    for name, grad in expected["grads"].items():
        expect_close(mine["grads"][name], grad, f"gradient of {name}", atol=1e-4)


def test_attn_is_a_causal_multi_head_attention_of_the_block_sizes(student):
    """Contract: `ln1`, `attn` (causal `MultiHeadAttention`), `ln2`, `fc1` = `Dense(d_model, d_ff)`,
    `fc2` = `Dense(d_ff, d_model)`"""
    _wiring_is_right(student, " (how attn was built counts only for a right block)")
    expect_equal(student["wiring"]["attn_built"], {"d_model": D_MODEL, "num_heads": HEADS, "causal": True},
                 f"the arguments TransformerBlock({D_MODEL}, {HEADS}) gave MultiHeadAttention (a language model's "
                 "attention must be causal)")


def test_d_ff_defaults_to_four_times_d_model(student):
    """Contract: `TransformerBlock(d_model, num_heads, d_ff=None, dropout=0.0)`, d_ff defaults to 4 * d_model"""
    _wiring_is_right(student)
    expect_equal(student["default_d_ff"], {"fc1": [D_MODEL, 4 * D_MODEL], "fc2": [4 * D_MODEL, D_MODEL]},
                 f"shapes of fc1.weight and fc2.weight in TransformerBlock({D_MODEL}, {HEADS})")
    expect_equal(student["given_d_ff"], {"fc1": [D_MODEL, D_FF], "fc2": [D_FF, D_MODEL]},
                 f"shapes of fc1.weight and fc2.weight with d_ff={D_FF}")


@pytest.mark.weight(2)
def test_dropout_drops_each_sublayer_output_in_training_mode_only(student):
    """Contract: `drop` = `Dropout(dropout)` on each sublayer's output, active in training mode only"""
    results, config = student["dropout"], REQUEST["dropout"]
    what = f"TransformerBlock(..., dropout={P})"
    for name, result in results.items():
        expected = expected_block({**config, "weights": config["weights"][name]})
        expect_close(result["eval"], expected, f"{what} in eval mode ({name}): dropout is off", atol=1e-4)
    expect_close(results["neither"]["train"], x, f"{what} in training mode with both sublayers silenced: dropout "
                 "acts on the sublayer outputs, never on the residual stream", atol=1e-5)
    for name in ("attention_only", "mlp_only"):
        train, kept = np.asarray(results[name]["train"]) - x, np.asarray(results[name]["eval"]) - x
        dropped = np.isclose(train, 0, atol=1e-6)
        expect(0.2 < dropped.mean() < 0.8, f"{what} in training mode ({name}): {dropped.mean():.0%} of the "
               f"sublayer's output entries were dropped; expected about {P:.0%}")
        expect_close(train[~dropped], kept[~dropped] / (1 - P), f"{what} in training mode ({name}): the kept "
                     "entries of the sublayer's output, scaled by 1 / (1 - p) as Dropout does", atol=1e-4)
