"""Probe for LayerNorm: initial parameters, outputs and gradients."""

from __future__ import annotations

from typing import Any

from tinytorch import Tensor

from .common import array, backward_with, gradients, load_weights, need


def _normalise(ns: dict, case: dict) -> dict[str, Any]:
    options = {"eps": case["eps"]} if "eps" in case else {}
    layer = need(ns, "LayerNorm")(case["x"].shape[-1], **options)
    initial = {"gamma": array(layer.gamma), "beta": array(layer.beta)}
    load_weights(layer, case.get("weights", {}))
    x = Tensor(case["x"], requires_grad=True)  # (..., D)
    out = layer(x)
    result = {"out": array(out), "initial": initial}
    if "upstream" in case:
        backward_with(out, case["upstream"])
        result.update(x_grad=array(x.grad), grads=gradients(layer, ["gamma", "beta"]))
    return result


def default_parameters(ns: dict, request: dict) -> dict[str, Any]:
    return _normalise(ns, request["default_parameters"])


def affine(ns: dict, request: dict) -> dict[str, Any]:
    return _normalise(ns, request["affine"])


def tiny_variance(ns: dict, request: dict) -> dict[str, Any]:
    return _normalise(ns, request["tiny_variance"])


def custom_eps(ns: dict, request: dict) -> dict[str, Any]:
    return _normalise(ns, request["custom_eps"])


CASES = {
    "default_parameters": default_parameters,
    "affine": affine,
    "tiny_variance": tiny_variance,
    "custom_eps": custom_eps,
}
