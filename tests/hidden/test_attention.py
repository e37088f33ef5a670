"""Hidden tests for scaled_dot_product_attention and SelfAttention.

Every test names the sentence of docs/API.md it checks (`Contract:` in its docstring).
"""

import math

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_close, expect_equal

rng = np.random.default_rng(21)


def numpy_attention(q, k, v, mask=None, upstream=None):
    """Closed form: weights = softmax(q k^T / sqrt(d)) with masked scores at -inf; out = weights v.

    With `upstream` (the gradient arriving at out), also the gradients of q, k and v.
    """
    scale = 1 / math.sqrt(q.shape[-1])
    scores = q @ np.swapaxes(k, -1, -2) * scale  # (..., T, S)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    result = {"out": weights @ v, "weights": weights}
    if upstream is not None:
        d_weights = upstream @ np.swapaxes(v, -1, -2)  # (..., T, S)
        d_scores = weights * (d_weights - (d_weights * weights).sum(axis=-1, keepdims=True))
        result.update(q_grad=d_scores @ k * scale, k_grad=np.swapaxes(d_scores, -1, -2) @ q * scale,
                      v_grad=np.swapaxes(weights, -1, -2) @ upstream)
    return result


def _random(*shape):
    return rng.normal(size=shape)


HAND_CASE = {  # float64, batch of one
    "q": np.array([[[1.0, 0.0], [0.0, 2.0]]]),
    "k": np.array([[[1.0, 0.0], [0.0, 1.0]]]),
    "v": np.array([[[2.0, -1.0], [0.5, 3.0]]]),
}
MASK = np.array([[1, 0, 0, 1, 0, 0], [1, 1, 0, 0, 0, 1], [1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 1, 1]], dtype=bool)
D_MODEL = 8
REQUEST = {
    "hand_case": HAND_CASE,
    "scaled_case": {"q": _random(2, 4, 16), "k": _random(2, 4, 16), "v": _random(2, 4, 3),
                    "upstream": _random(2, 4, 3)},
    "masked_batch": {"q": _random(2, 3, 4, 5), "k": _random(2, 3, 6, 5), "v": _random(2, 3, 6, 4),
                     "mask": MASK, "upstream": _random(2, 3, 4, 4)},  # (B, H, T, Dk), mask (T, S)
    "self_attention": {
        "d_model": D_MODEL,
        "weights": {f"{p}.{kind}": (0.4 * rng.normal(size=(D_MODEL, D_MODEL) if kind == "weight" else D_MODEL))
                    .astype(np.float32) for p in ("q_proj", "k_proj", "v_proj") for kind in ("weight", "bias")},
        "x": rng.normal(size=(2, 5, D_MODEL)).astype(np.float32),  # (B, T, D)
        "upstream": rng.normal(size=(2, 5, D_MODEL)).astype(np.float32),
    },
}


@pytest.mark.weight(2)
def test_hand_computed_two_by_two_case(student):
    """Contract: weights = softmax(q k^T / sqrt(Dk)) over the last axis with masked entries at exactly 0"""
    # scores = q k^T / sqrt(2) = [[1, 0], [0, 2]] / sqrt(2); each row is a softmax of two numbers.
    first = 1 / (1 + math.exp(-1 / math.sqrt(2)))  # weight of key 0 for query 0
    second = 1 / (1 + math.exp(-2 / math.sqrt(2)))  # weight of key 1 for query 1
    weights = np.array([[[first, 1 - first], [1 - second, second]]])
    result = student["hand_case"]
    expect_close(result["weights"], weights, "attention weights of the 2x2 hand case")
    expect_close(result["out"], weights @ HAND_CASE["v"], "output of the 2x2 hand case (weights @ v)")


@pytest.mark.weight(2)
def test_scores_are_scaled_by_one_over_sqrt_dk(student):
    """Contract: weights = softmax(q k^T / sqrt(Dk)) over the last axis with masked entries at exactly 0"""
    case = REQUEST["scaled_case"]
    expected = numpy_attention(case["q"], case["k"], case["v"])["weights"]
    expect_close(student["scaled_case"]["weights"], expected, "weights for Dk = 16 (softmax(q k^T / 4))")


def test_weights_rows_sum_to_one(student):
    """Contract: weights = softmax(q k^T / sqrt(Dk)) over the last axis with masked entries at exactly 0"""
    weights = np.asarray(student["masked_batch"]["weights"])
    expected = numpy_attention(**{n: REQUEST["masked_batch"][n] for n in ("q", "k", "v", "mask")})
    expect_close(weights, expected["weights"], "masked attention weights (the row sums are checked on right weights)")
    expect_close(weights.sum(axis=-1), np.ones(weights.shape[:-1]), "sum of each row of the attention weights")


@pytest.mark.weight(2)
def test_masked_entries_get_exactly_zero_weight(student):
    """Contract: mask a bool NumPy array or a bool Tensor broadcastable to (..., T, S), True = may attend"""
    weights = np.asarray(student["masked_batch"]["weights"])
    expect_equal(weights.shape, (2, 3, 4, 6), "shape of weights for q (2, 3, 4, 5), k (2, 3, 6, 5)")
    blocked = np.broadcast_to(~MASK, weights.shape)
    expect(np.all(weights[blocked] == 0.0),
           f"weights where the mask is False must be exactly 0; largest was {np.abs(weights[blocked]).max():.3g}")
    expected = numpy_attention(**{n: REQUEST["masked_batch"][n] for n in ("q", "k", "v", "mask")})
    expect_close(weights, expected["weights"], "masked attention weights (mask of shape (T, S) broadcast)")


def test_mask_may_be_a_bool_tensor(student):
    """Contract: mask a bool NumPy array or a bool Tensor broadcastable to (..., T, S), True = may attend"""
    expected = numpy_attention(**REQUEST["masked_batch"])
    result = student["tensor_mask"]
    expect_close(result["weights"], expected["weights"], "attention weights with the mask given as a bool Tensor")
    expect_close(result["out"], expected["out"], "output with the mask given as a bool Tensor")


def test_output_is_weights_times_values(student):
    """Contract: out = weights @ v (..., T, Dv)"""
    result = student["masked_batch"]
    expected = numpy_attention(**{n: REQUEST["masked_batch"][n] for n in ("q", "k", "v", "mask")})
    expect_close(result["weights"], expected["weights"], "masked attention weights (out is checked on right weights)")
    expect_close(result["out"], np.asarray(result["weights"]) @ REQUEST["masked_batch"]["v"],
                 "out compared with your own weights @ v")


@pytest.mark.weight(2)
def test_gradients_of_q_k_v_match_the_closed_form(student):
    """Contract: `scaled_dot_product_attention(q, k, v, mask=None) -> (out, weights)`: q (..., T, Dk), k (..., S, Dk),
    v (..., S, Dv) Tensors"""
    for case in ("masked_batch", "scaled_case"):
        expected = numpy_attention(**REQUEST[case])
        for name in ("q_grad", "k_grad", "v_grad"):
            expect_close(student[case][name], expected[name], f"{name.replace('_', '.')} ({case.replace('_', ' ')})")


@pytest.mark.weight(2)
@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_matches_reference_with_shared_weights(student, reference, causal):
    """Contract: `SelfAttention(d_model, causal=False)`: one head, `q_proj`, `k_proj`, `v_proj` =
    `Dense(d_model, d_model)`; `forward(x)` (B, T, D) -> (B, T, D)"""
    case = f"self_attention_{'causal' if causal else 'plain'}"
    mine, expected = student[case], reference[case]
    what = f"SelfAttention(d_model={D_MODEL}, causal=True)" if causal else f"SelfAttention({D_MODEL}) (not causal)"
    expect_close(mine["last_attention"], expected["last_attention"], f"{what}.last_attention")
    expect_close(mine["out"], expected["out"], f"{what} output")
    expect_close(mine["x_grad"], expected["x_grad"], f"{what}: gradient of the input")
    for name, grad in expected["grads"].items():
        expect_close(mine["grads"][name], grad, f"{what}: gradient of {name}")


def test_self_attention_keeps_last_attention_as_a_numpy_array(student, reference):
    """Contract: keeps `last_attention` (B, T, T) as a NumPy array."""
    mine = student["self_attention_causal"]
    expect_close(mine["last_attention"], reference["self_attention_causal"]["last_attention"],
                 f"SelfAttention(d_model={D_MODEL}, causal=True).last_attention (B, T, T)")
    expect_equal(mine["last_attention_type"], "numpy.ndarray", "type of SelfAttention.last_attention (a NumPy "
                 "array for the plots, e.g. `weights.data`, not the weights Tensor)")
