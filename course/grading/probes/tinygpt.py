"""Probe for TinyGPT, built with stand-in blocks, final layer norm and positional encoding.

Only the model's own wiring is under test: token embedding -> positional encoding -> blocks -> ln_f ->
lm_head, its sizes, its errors and its causality.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch import Tensor

from .common import array, backward_with, gradients, load_weights, need, outcome, require_instance, swapped
from .standins import MODEL_STAND_INS, StandInBlock, StandInLayerNorm, StandInPositionalEncoding


def _model(ns: dict, config: dict, **options: Any) -> Any:
    sizes = config["sizes"]
    with swapped(ns, **MODEL_STAND_INS):
        model = need(ns, "TinyGPT")(sizes["vocab_size"], sizes["d_model"], sizes["num_heads"],
                                    sizes["num_layers"], sizes["max_len"], **options)
    namespace = "from the notebook's namespace"
    require_instance(getattr(model, "positional_encoding", None), StandInPositionalEncoding,
                     "TinyGPT.positional_encoding", f"PositionalEncoding(max_len, d_model) {namespace}")
    require_instance(getattr(model, "ln_f", None), StandInLayerNorm, "TinyGPT.ln_f", f"LayerNorm(d_model) {namespace}")
    blocks = list(getattr(model, "blocks", []))
    if len(blocks) != sizes["num_layers"]:
        raise ValueError(f"TinyGPT.blocks has {len(blocks)} blocks, expected num_layers = {sizes['num_layers']}")
    for i, block in enumerate(blocks):
        require_instance(block, StandInBlock, f"TinyGPT.blocks[{i}]", f"TransformerBlock(...) {namespace}")
    load_weights(model, config["weights"])
    return model


def logits_and_gradients(ns: dict, request: dict) -> dict[str, Any]:
    config = request["model"]
    model = _model(ns, config)
    logits = model(np.asarray(config["ids"]))  # (B, T, V)
    backward_with(logits, config["upstream"])
    return {"logits": array(logits), "grads": gradients(model, list(config["weights"]))}


def logits_from_tensor_ids(ns: dict, request: dict) -> np.ndarray:
    config = request["model"]
    return array(_model(ns, config)(Tensor(np.asarray(config["ids"]))))


def future_changed(ns: dict, request: dict) -> np.ndarray:
    config = request["model"]
    return array(_model(ns, config)(np.asarray(config["ids_future_changed"])))


def too_long(ns: dict, request: dict) -> dict[str, Any]:
    """The error for T > max_len, and the same model's logits for valid ids."""
    config = request["model"]
    model = _model(ns, config)
    return {**outcome(lambda: model(np.asarray(config["ids_too_long"]))),
            "valid": array(model(np.asarray(config["ids"])))}


def options(ns: dict, request: dict) -> dict[str, Any]:
    """TinyGPT built with d_ff and dropout: what each block was given, and the logits (dropout off in eval)."""
    config = request["model"]
    model = _model(ns, config, **request["options"])
    return {"received": [block.received for block in model.blocks],
            "logits": array(model.eval()(np.asarray(config["ids"])))}


def sizes(ns: dict, request: dict) -> dict[str, Any]:
    model = _model(ns, request["model"])
    return {
        "logits": array(model(np.asarray(request["model"]["ids"]))),
        "num_parameters": int(model.num_parameters()),
        "vocab_size": getattr(model, "vocab_size", None),
        "max_len": getattr(model, "max_len", None),
    }


CASES = {
    "logits_and_gradients": logits_and_gradients,
    "logits_from_tensor_ids": logits_from_tensor_ids,
    "future_changed": future_changed,
    "too_long": too_long,
    "options": options,
    "sizes": sizes,
}
