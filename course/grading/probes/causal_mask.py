"""Probe for causal_mask: the matrices it returns for small sequence lengths."""

from __future__ import annotations

from typing import Any

from .common import array, need, type_name


def masks(ns: dict, request: dict) -> dict[str, Any]:
    causal_mask = need(ns, "causal_mask")
    return {str(n): array(causal_mask(n)) for n in request["lengths"]}


def kind(ns: dict, request: dict) -> dict[str, Any]:
    mask = need(ns, "causal_mask")(request["lengths"][-1])
    return {"type": type_name(mask), "dtype": str(getattr(mask, "dtype", None))}


CASES = {"masks": masks, "kind": kind}
