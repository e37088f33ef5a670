"""Probe for scaled_dot_product_attention and SelfAttention: outputs, weights and gradients."""

from __future__ import annotations

from typing import Any

from tinytorch import Tensor

from .common import array, backward_with, gradients, load_weights, need, swapped, type_name
from .standins import reference_causal_mask

SELF_ATTENTION_WEIGHTS = [f"{p}.{kind}" for p in ("q_proj", "k_proj", "v_proj") for kind in ("weight", "bias")]


def _attend(ns: dict, case: dict, mask_as_tensor: bool = False) -> dict[str, Any]:
    """Run the student's attention on q, k, v (and mask, as a bool array or a bool Tensor), backpropagate
    `upstream` into q, k, v."""
    q, k, v = (Tensor(case[name], requires_grad=True) for name in ("q", "k", "v"))
    mask = case.get("mask")
    if mask_as_tensor:
        mask = Tensor(mask)  # a bool Tensor
    out, weights = need(ns, "scaled_dot_product_attention")(q, k, v, mask=mask)
    result = {"out": array(out), "weights": array(weights)}
    if "upstream" in case:
        backward_with(out, case["upstream"])
        result.update(q_grad=array(q.grad), k_grad=array(k.grad), v_grad=array(v.grad))
    return result


def hand_case(ns: dict, request: dict) -> dict[str, Any]:
    return _attend(ns, request["hand_case"])


def scaled_case(ns: dict, request: dict) -> dict[str, Any]:
    return _attend(ns, request["scaled_case"])


def masked_batch(ns: dict, request: dict) -> dict[str, Any]:
    return _attend(ns, request["masked_batch"])


def tensor_mask(ns: dict, request: dict) -> dict[str, Any]:
    return _attend(ns, request["masked_batch"], mask_as_tensor=True)


def _self_attention(ns: dict, request: dict, causal: bool) -> dict[str, Any]:
    """SelfAttention(d_model, causal=True), or SelfAttention(d_model) (not causal by default)."""
    config = request["self_attention"]
    # The causal option is graded here, the mask itself in its own suite: use a known-good mask.
    with swapped(ns, causal_mask=reference_causal_mask):
        layer = need(ns, "SelfAttention")(config["d_model"], **({"causal": True} if causal else {}))
        load_weights(layer, config["weights"])
        x = Tensor(config["x"], requires_grad=True)  # (B, T, D)
        out = layer(x)  # (B, T, D)
    backward_with(out, config["upstream"])
    return {
        "out": array(out),
        "x_grad": array(x.grad),
        "grads": gradients(layer, SELF_ATTENTION_WEIGHTS),
        "last_attention": array(getattr(layer, "last_attention", None)),
        "last_attention_type": type_name(getattr(layer, "last_attention", None)),
    }


def self_attention_plain(ns: dict, request: dict) -> dict[str, Any]:
    return _self_attention(ns, request, causal=False)


def self_attention_causal(ns: dict, request: dict) -> dict[str, Any]:
    return _self_attention(ns, request, causal=True)


CASES = {
    "hand_case": hand_case,
    "scaled_case": scaled_case,
    "masked_batch": masked_batch,
    "tensor_mask": tensor_mask,
    "self_attention_plain": self_attention_plain,
    "self_attention_causal": self_attention_causal,
}

