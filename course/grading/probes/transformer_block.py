"""Probe for TransformerBlock, built with stand-in attention and layer norms.

`MultiHeadAttention` and `LayerNorm` are bound to the stand-ins of `standins.py` while the block is
constructed, so only the block's own wiring (pre-norm residuals, MLP, GELU, sizes) is under test.
"""

from __future__ import annotations

from typing import Any

import tinytorch as tt
from tinytorch import Tensor

from .common import array, backward_with, gradients, load_weights, need, require_instance, swapped
from .standins import BLOCK_STAND_INS, StandInAttention, StandInLayerNorm

WEIGHT_NAMES = [
    "ln1.gamma", "ln1.beta", "attn.weight", "ln2.gamma", "ln2.beta",
    "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
]


def _block(ns: dict, d_model: int, num_heads: int, **options: Any) -> Any:
    with swapped(ns, **BLOCK_STAND_INS):
        block = need(ns, "TransformerBlock")(d_model, num_heads, **options)
    how = "{}(d_model) from the notebook's namespace"
    require_instance(getattr(block, "ln1", None), StandInLayerNorm, "TransformerBlock.ln1", how.format("LayerNorm"))
    require_instance(getattr(block, "ln2", None), StandInLayerNorm, "TransformerBlock.ln2", how.format("LayerNorm"))
    require_instance(getattr(block, "attn", None), StandInAttention, "TransformerBlock.attn",
                     "MultiHeadAttention(d_model, num_heads, causal=True) from the notebook's namespace")
    return block


def _forward(ns: dict, config: dict, with_gradients: bool) -> dict[str, Any]:
    block = _block(ns, config["d_model"], config["num_heads"], d_ff=config["d_ff"])
    load_weights(block, config["weights"])
    x = Tensor(config["x"], requires_grad=True)  # (B, T, D)
    out = block(x)  # (B, T, D)
    result = {"out": array(out), "attn_built": block.attn.built}
    if with_gradients:
        backward_with(out, config["upstream"])
        result.update(x_grad=array(x.grad), grads=gradients(block, WEIGHT_NAMES))
    return result


def wiring(ns: dict, request: dict) -> dict[str, Any]:
    return _forward(ns, request["wiring"], with_gradients=True)


def zeroed_sublayers(ns: dict, request: dict) -> dict[str, Any]:
    return _forward(ns, request["zeroed_sublayers"], with_gradients=False)


def mlp_only(ns: dict, request: dict) -> dict[str, Any]:
    return _forward(ns, request["mlp_only"], with_gradients=False)


def dropout(ns: dict, request: dict) -> dict[str, Any]:
    """A block built with dropout p: for each set of weights, its output in training mode (one seeded draw)
    and in eval mode."""
    config = request["dropout"]
    results = {}
    for name, weights in config["weights"].items():
        tt.manual_seed(config["seed"])
        block = _block(ns, config["d_model"], config["num_heads"], d_ff=config["d_ff"], dropout=config["p"])
        load_weights(block, weights)
        x = Tensor(config["x"])  # (B, T, D)
        train = array(block.train()(x))
        results[name] = {"train": train, "eval": array(block.eval()(x))}
    return results


def _mlp_shapes(block: Any) -> dict[str, list[int]]:
    return {name: list(array(getattr(block, name).weight).shape) for name in ("fc1", "fc2")}


def default_d_ff(ns: dict, request: dict) -> dict[str, list[int]]:
    d_model, num_heads = request["sizes"]
    return _mlp_shapes(_block(ns, d_model, num_heads))


def given_d_ff(ns: dict, request: dict) -> dict[str, list[int]]:
    d_model, num_heads = request["sizes"]
    return _mlp_shapes(_block(ns, d_model, num_heads, d_ff=request["given_d_ff"]))


CASES = {
    "wiring": wiring,
    "zeroed_sublayers": zeroed_sublayers,
    "mlp_only": mlp_only,
    "dropout": dropout,
    "default_d_ff": default_d_ff,
    "given_d_ff": given_d_ff,
}
