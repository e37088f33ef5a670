"""Probe for MultiHeadAttention, with a known-good mask and attention function swapped in.

The student's own causal_mask and scaled_dot_product_attention are graded in their suites; here the
names are bound to reference versions, so only the heads' wiring is under test.
"""

from __future__ import annotations

from typing import Any

from tinytorch import Tensor

from .common import array, backward_with, gradients, load_weights, need, outcome, swapped
from .standins import ATTENTION_STAND_INS

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")
WEIGHT_NAMES = [f"{p}.{kind}" for p in PROJECTIONS for kind in ("weight", "bias")]


def _run(ns: dict, config: dict, x: Any, upstream: Any = None) -> dict[str, Any]:
    with swapped(ns, **ATTENTION_STAND_INS):
        layer = need(ns, "MultiHeadAttention")(config["d_model"], config["num_heads"], causal=config["causal"])
        load_weights(layer, config["weights"])
        x = Tensor(x, requires_grad=True)  # (B, T, D)
        out = layer(x)  # (B, T, D)
    result = {"out": array(out), "last_attention": array(getattr(layer, "last_attention", None))}
    if upstream is not None:
        backward_with(out, upstream)
        result.update(x_grad=array(x.grad), grads=gradients(layer, WEIGHT_NAMES))
    return result


def causal_with_gradients(ns: dict, request: dict) -> dict[str, Any]:
    config = request["causal"]
    return _run(ns, config, config["x"], config["upstream"])


def not_causal(ns: dict, request: dict) -> dict[str, Any]:
    config = request["not_causal"]
    return _run(ns, config, config["x"])


def future_changed(ns: dict, request: dict) -> dict[str, Any]:
    config = request["causal"]
    return _run(ns, config, config["x_future_changed"])


def isolated_heads(ns: dict, request: dict) -> dict[str, Any]:
    config = request["isolated_heads"]
    return _run(ns, config, config["x"])


def indivisible_heads(ns: dict, request: dict) -> dict[str, Any]:
    d_model, num_heads = request["indivisible"]
    return outcome(lambda: need(ns, "MultiHeadAttention")(d_model, num_heads))


CASES = {
    "causal_with_gradients": causal_with_gradients,
    "not_causal": not_causal,
    "future_changed": future_changed,
    "isolated_heads": isolated_heads,
    "indivisible_heads": indivisible_heads,
}
