"""Probe for PositionalEncoding: the table, what forward adds, and its errors."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch import Tensor

from .common import array, need, outcome


def _encoding(ns: dict, request: dict) -> Any:
    return need(ns, "PositionalEncoding")(request["max_len"], request["d_model"])


def table(ns: dict, request: dict) -> np.ndarray:
    return array(_encoding(ns, request).pe)


def forward(ns: dict, request: dict) -> np.ndarray:
    return array(_encoding(ns, request)(Tensor(request["x"])))  # (B, T, D)


def too_long(ns: dict, request: dict) -> dict[str, Any]:
    """The error for T > max_len, and what the same encoding returns for a valid x."""
    encoding = _encoding(ns, request)
    return {**outcome(lambda: encoding(Tensor(request["x_too_long"]))), "valid": array(encoding(Tensor(request["x"])))}


def parameter_count(ns: dict, request: dict) -> dict[str, Any]:
    encoding = _encoding(ns, request)
    return {"count": len(list(encoding.parameters())), "table": array(encoding.pe)}


CASES = {"table": table, "forward": forward, "too_long": too_long, "parameter_count": parameter_count}
