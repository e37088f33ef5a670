"""Hidden tests for LanguageModelLoss.

Every test names the sentence of docs/API.md it checks (`Contract:` in its docstring).
"""

import math

import numpy as np
import pytest

from tests.finite_differences import numerical_gradient
from tests.hidden._checks import expect, expect_close

rng = np.random.default_rng(71)
HAND_LOGITS = np.array([[[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]])  # (1, 3, 3)
HAND_IDS = np.array([[0, 1, 2]])
B, T, V = 3, 5, 6
REQUEST = {
    "hand_case": {"logits": HAND_LOGITS, "ids": HAND_IDS},
    "random_batch": {"logits": rng.normal(size=(B, T, V)), "ids": rng.integers(0, V, size=(B, T))},
}


def numpy_loss(logits, ids):
    """Mean over B*(T-1) positions of -log softmax(logits[:, t])[ids[:, t+1]]."""
    shifted = logits[:, :-1]
    log_probs = shifted - shifted.max(-1, keepdims=True)
    log_probs = log_probs - np.log(np.exp(log_probs).sum(-1, keepdims=True))
    targets = ids[:, 1:]
    return -np.take_along_axis(log_probs, targets[..., None], axis=-1).mean()


@pytest.mark.weight(3)
def test_position_t_predicts_the_next_token(student):
    """Contract: the scalar mean cross-entropy of `logits[:, :-1]` predicting `ids[:, 1:]`"""
    # Shifted: position 0 ([2, 0, 0]) predicts id 1 and position 1 ([0, 2, 0]) predicts id 2, each with
    # probability 1 / (e^2 + 2). Without the shift each position "predicts" its own id, a loss near 0.24.
    shifted = math.log(math.exp(2) + 2)
    loss = student["hand_case"]["loss"]
    expect_close(loss, shifted, f"loss of the hand case (unshifted it would be {math.log(1 + 2 * math.exp(-2)):.4f})")


@pytest.mark.weight(2)
def test_loss_is_the_mean_cross_entropy_over_b_times_t_minus_one_positions(student):
    """Contract: the scalar mean cross-entropy of `logits[:, :-1]` predicting `ids[:, 1:]`"""
    case = REQUEST["random_batch"]
    result = student["random_batch"]
    expect(result["size"] == 1, f"the loss should be a scalar Tensor, got one with {result['size']} elements")
    expect_close(result["loss"], numpy_loss(case["logits"], case["ids"]),
                 f"loss for logits ({B}, {T}, {V}); expected the mean of -log softmax over the {B * (T - 1)} "
                 "shifted positions")


@pytest.mark.weight(3)
def test_gradient_of_the_logits_matches_finite_differences(student):
    """Contract: `LanguageModelLoss()`: `loss_fn(logits, ids)` with logits (B, T, V) and ids (B, T)"""
    case = REQUEST["random_batch"]
    logits = case["logits"].copy()
    expected = numerical_gradient(lambda: numpy_loss(logits, case["ids"]), logits)
    expect_close(student["random_batch"]["logits_grad"], expected,
                 "gradient of the loss w.r.t. the logits (the last position predicts nothing: zero gradient)",
                 atol=1e-6)
