"""Probe for MultiHeadAttention, with a known-good mask and attention function swapped in.

The student's own causal_mask and scaled_dot_product_attention are graded in their suites; here the
names are bound to reference versions, so only the heads' wiring (and the attributes the API names) is under
test. A config without "causal" builds the layer with the default of `causal`.
"""

from __future__ import annotations

from typing import Any

from tinytorch import Tensor

from .common import array, backward_with, gradients, load_weights, need, outcome, plain_number, swapped, type_name
from .standins import ATTENTION_STAND_INS

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")
WEIGHT_NAMES = [f"{p}.{kind}" for p in PROJECTIONS for kind in ("weight", "bias")]


def _run(ns: dict, config: dict, x: Any, upstream: Any = None) -> dict[str, Any]:
    with swapped(ns, **ATTENTION_STAND_INS):
        options = {"causal": config["causal"]} if "causal" in config else {}
        layer = need(ns, "MultiHeadAttention")(config["d_model"], config["num_heads"], **options)
        load_weights(layer, config["weights"])
        x = Tensor(x, requires_grad=True)  # (B, T, D)
        out = layer(x)  # (B, T, D)
    last_attention = getattr(layer, "last_attention", None)
    result = {"out": array(out), "last_attention": array(last_attention),
              "last_attention_type": type_name(last_attention),
              "attributes": {name: plain_number(getattr(layer, name, None)) for name in ("num_heads", "head_dim")}}
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
