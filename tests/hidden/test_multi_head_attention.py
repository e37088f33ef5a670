"""Hidden tests for MultiHeadAttention (graded with a known-good mask and attention function).

Every test names the sentence of docs/API.md it checks (`Contract:` in its docstring). The causal layer is
built as `MultiHeadAttention(d_model, num_heads)`: causal by default. The checks of attributes and errors count
only when the same layer's output is right.
"""

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_close, expect_equal, expect_raised

D_MODEL, HEADS, B, T = 8, 2, 2, 5
HEAD = D_MODEL // HEADS
WIDE_HEADS = 4  # the layer built with causal=False has 4 heads of 2 columns
rng = np.random.default_rng(31)


def random_weights(scale: float = 0.4) -> dict[str, np.ndarray]:
    return {f"{p}.{kind}": (scale * rng.normal(size=(D_MODEL, D_MODEL) if kind == "weight" else D_MODEL))
            .astype(np.float32) for p in ("q_proj", "k_proj", "v_proj", "out_proj") for kind in ("weight", "bias")}


def isolating_weights() -> dict[str, np.ndarray]:
    """Head 0 gets zero queries (so uniform attention); v_proj and out_proj are identities, no biases."""
    weights = {name: np.zeros_like(value) for name, value in random_weights().items()}
    weights["q_proj.weight"][:, HEAD:] = rng.normal(size=(D_MODEL, D_MODEL - HEAD)) * 1.5
    weights["k_proj.weight"][...] = rng.normal(size=(D_MODEL, D_MODEL)) * 1.5
    weights["v_proj.weight"][...] = np.eye(D_MODEL)
    weights["out_proj.weight"][...] = np.eye(D_MODEL)
    return weights


x = rng.normal(size=(B, T, D_MODEL)).astype(np.float32)  # (B, T, D)
FUTURE = 3  # positions >= FUTURE change in x_future_changed
x_future_changed = x.copy()
x_future_changed[:, FUTURE:] = rng.normal(size=(B, T - FUTURE, D_MODEL))
REQUEST = {
    "causal": {"d_model": D_MODEL, "num_heads": HEADS, "weights": random_weights(), "x": x,  # causal by default
               "x_future_changed": x_future_changed, "upstream": rng.normal(size=(B, T, D_MODEL)).astype(np.float32)},
    "not_causal": {"d_model": D_MODEL, "num_heads": WIDE_HEADS, "causal": False, "weights": random_weights(), "x": x},
    "isolated_heads": {"d_model": D_MODEL, "num_heads": HEADS, "causal": True, "weights": isolating_weights(),
                       "x": x},
    "indivisible": [12, 5],  # the notebook checks (10, 3)
}
WHAT = f"MultiHeadAttention({D_MODEL}, {HEADS})"


@pytest.mark.weight(3)
def test_output_matches_reference_with_shared_weights(student, reference):
    """Contract: concatenates heads in the same order before `out_proj`"""
    expect_close(student["causal_with_gradients"]["out"], reference["causal_with_gradients"]["out"],
                 f"{WHAT} output (causal by default)", atol=1e-4)
    expect_close(student["not_causal"]["out"], reference["not_causal"]["out"],
                 f"MultiHeadAttention({D_MODEL}, {WIDE_HEADS}, causal=False) output",
                 atol=1e-4)


@pytest.mark.weight(2)
def test_gradients_match_reference(student, reference):
    """Contract: `q_proj`, `k_proj`, `v_proj`, `out_proj` = `Dense(d_model, d_model)`"""
    mine, expected = student["causal_with_gradients"], reference["causal_with_gradients"]
    expect_close(mine["x_grad"], expected["x_grad"], f"{WHAT}: gradient of the input", atol=1e-4)
    for name, grad in expected["grads"].items():
        expect_close(mine["grads"][name], grad, f"{WHAT}: gradient of {name}", atol=1e-4)


@pytest.mark.weight(2)
def test_changing_future_tokens_never_changes_earlier_outputs(student, reference):
    """Contract: `MultiHeadAttention(d_model, num_heads, causal=True)`"""
    before = np.asarray(student["causal_with_gradients"]["out"])
    expect_close(before, reference["causal_with_gradients"]["out"], f"{WHAT} output (causality is checked on a "
                 "layer whose output is right)", atol=1e-4)
    after = np.asarray(student["future_changed"]["out"])
    expect_close(after[:, :FUTURE], before[:, :FUTURE],
                 f"outputs at positions < {FUTURE} after changing the input at positions >= {FUTURE} "
                 "(a causal layer must not look ahead)", atol=1e-5)


def test_last_attention_keeps_one_causal_map_per_head(student, reference):
    """Contract: keeps `last_attention` (B, H, T, T) as NumPy"""
    result = student["causal_with_gradients"]
    mine = result["last_attention"]
    expect_equal(np.shape(mine), (B, HEADS, T, T), "shape of last_attention (B, H, T, T)")
    expect_close(mine, reference["causal_with_gradients"]["last_attention"], "last_attention", atol=1e-5)
    expect_equal(result["last_attention_type"], "numpy.ndarray", "type of last_attention (a NumPy array for the "
                 "plots, e.g. `weights.data`, not the weights Tensor)")


def test_num_heads_and_head_dim_attributes(student, reference):
    """Contract: attributes `num_heads` and `head_dim` (= Dh; the attention-map plot and the KV-cache extension
    use them)"""
    for case, heads in (("causal_with_gradients", HEADS), ("not_causal", WIDE_HEADS)):
        result = student[case]
        expect_close(result["out"], reference[case]["out"], f"MultiHeadAttention({D_MODEL}, {heads}) output (the "
                     "attributes count only for a layer whose output is right)", atol=1e-4)
        for name, expected in (("num_heads", heads), ("head_dim", D_MODEL // heads)):
            expect_equal(result["attributes"][name], expected, f"MultiHeadAttention({D_MODEL}, {heads}).{name}")


@pytest.mark.weight(2)
def test_head_h_uses_columns_h_of_each_projection_and_concatenates_in_order(student):
    """Contract: head h uses columns h*Dh:(h+1)*Dh of each projection"""
    attention = np.asarray(student["isolated_heads"]["last_attention"])  # (B, H, T, T)
    expect_equal(attention.shape, (B, HEADS, T, T), "shape of last_attention")
    uniform = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    expect_close(attention[:, 0], np.broadcast_to(uniform, (B, T, T)),
                 "head 0's attention when the query columns 0:Dh of q_proj are zero (uniform over the past)")
    expect(not np.allclose(attention[:, 1], uniform, atol=1e-3),
           "head 1's attention is uniform although its query columns Dh:2Dh of q_proj are not zero")
    out = np.asarray(student["isolated_heads"]["out"])  # v_proj and out_proj are identities
    for h in range(HEADS):
        columns = slice(h * HEAD, (h + 1) * HEAD)
        expect_close(out[..., columns], attention[:, h] @ x[..., columns],
                     f"output columns {columns.start}:{columns.stop} (head {h}'s weights @ head {h}'s values)")


def test_d_model_not_divisible_by_heads_raises_value_error(student, reference):
    """Contract: `ValueError` if d_model % num_heads != 0"""
    expect_close(student["not_causal"]["out"], reference["not_causal"]["out"], f"MultiHeadAttention({D_MODEL}, "
                 f"{WIDE_HEADS}, causal=False) output (raising for "
                 "d_model % num_heads != 0 counts only if valid sizes work)", atol=1e-4)
    expect_raised(student["indivisible_heads"], "ValueError", "MultiHeadAttention(12, 5)")
