"""Hidden tests for TransformerBlock, graded with stand-in attention and layer norms.

The stand-ins (course/grading/probes/standins.py) replace the student's MultiHeadAttention and LayerNorm
while the block is built: LayerNorm becomes gamma * x + beta, attention a causal running mean times
a matrix. A bug in those parts is graded in their own suites, not here.
"""

import math

import numpy as np
import pytest

from tests.hidden._checks import expect_close, expect_equal

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


@pytest.mark.weight(3)
def test_output_follows_the_pre_norm_residual_formula(student):
    expect_close(student["wiring"]["out"], expected_block(REQUEST["wiring"]),
                 "block output; expected x + attn(ln1(x)), then + fc2(gelu(fc1(ln2(.))))", atol=1e-4)


@pytest.mark.weight(2)
def test_zeroed_sublayers_leave_the_residual_stream_unchanged(student):
    expect_close(student["zeroed_sublayers"]["out"], x,
                 "block output when attention and fc2 output zero (pre-norm: the input passes through "
                 "the residual connections untouched, the layer norms only feed the sublayers)", atol=1e-5)


@pytest.mark.weight(2)
def test_mlp_uses_the_tanh_gelu(student):
    u = REQUEST["mlp_only"]["x"].astype(np.float64)
    expect_close(student["mlp_only"]["out"], u + gelu_tanh(u),
                 "x + fc2(gelu(fc1(x))) with fc1 = fc2 = identity (expected the tanh-approximation GELU)",
                 atol=2e-5, rtol=1e-5)


@pytest.mark.weight(2)
def test_gradients_match_reference(student, reference):
    mine, expected = student["wiring"], reference["wiring"]
    expect_close(mine["x_grad"], expected["x_grad"], "gradient of the block's input", atol=1e-4)
    for name, grad in expected["grads"].items():
        expect_close(mine["grads"][name], grad, f"gradient of {name}", atol=1e-4)


def test_d_ff_defaults_to_four_times_d_model(student):
    expect_equal(student["default_d_ff"], {"fc1": [D_MODEL, 4 * D_MODEL], "fc2": [4 * D_MODEL, D_MODEL]},
                 f"shapes of fc1.weight and fc2.weight in TransformerBlock({D_MODEL}, {HEADS})")
    expect_equal(student["given_d_ff"], {"fc1": [D_MODEL, D_FF], "fc2": [D_FF, D_MODEL]},
                 f"shapes of fc1.weight and fc2.weight with d_ff={D_FF}")
