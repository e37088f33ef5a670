"""Probe for PositionalEncoding: the table (even and odd d_model), what forward adds and passes back, its errors."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch import Tensor

from .common import array, backward_with, need, outcome


def _encoding(ns: dict, request: dict, sizes: str = "sizes") -> Any:
    max_len, d_model = request[sizes]
    return need(ns, "PositionalEncoding")(max_len, d_model)


def table(ns: dict, request: dict) -> np.ndarray:
    return array(_encoding(ns, request).pe)


def odd_table(ns: dict, request: dict) -> np.ndarray:
    return array(_encoding(ns, request, "odd_sizes").pe)


def kind(ns: dict, request: dict) -> dict[str, Any]:
    """What `pe` is (the API says a NumPy array), and its values."""
    pe = _encoding(ns, request).pe
    return {"type": f"{type(pe).__module__}.{type(pe).__name__}", "table": array(pe)}


def forward(ns: dict, request: dict) -> np.ndarray:
    return array(_encoding(ns, request)(Tensor(request["x"])))  # (B, T, D)


def full_length_with_gradient(ns: dict, request: dict) -> dict[str, Any]:
    """forward on T = max_len, and the gradient that reaches x when `upstream` arrives at the output."""
    x = Tensor(request["x_full"], requires_grad=True)  # (B, max_len, D)
    out = _encoding(ns, request)(x)
    backward_with(out, request["upstream"])
    return {"out": array(out), "x_grad": array(x.grad)}


def too_long(ns: dict, request: dict) -> dict[str, Any]:
    """The error for T > max_len, and what the same encoding returns for a valid x."""
    encoding = _encoding(ns, request)
    return {**outcome(lambda: encoding(Tensor(request["x_too_long"]))), "valid": array(encoding(Tensor(request["x"])))}


def parameter_count(ns: dict, request: dict) -> dict[str, Any]:
    encoding = _encoding(ns, request)
    return {"count": len(list(encoding.parameters())), "table": array(encoding.pe)}


CASES = {"table": table, "odd_table": odd_table, "kind": kind, "forward": forward,
         "full_length_with_gradient": full_length_with_gradient, "too_long": too_long,
         "parameter_count": parameter_count}
