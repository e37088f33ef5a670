"""Probe for LanguageModelLoss: the loss value and its gradient with respect to the logits."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch import Tensor

from .common import array, need


def _loss(ns: dict, case: dict) -> dict[str, Any]:
    logits = Tensor(case["logits"], requires_grad=True)  # (B, T, V)
    loss = need(ns, "LanguageModelLoss")()(logits, np.asarray(case["ids"]))
    if not isinstance(loss, Tensor):
        raise TypeError(f"LanguageModelLoss returned a {type(loss).__name__}, expected a scalar tinytorch Tensor")
    loss.backward()
    return {"loss": float(np.asarray(loss.data).reshape(-1)[0]), "size": int(loss.data.size),
            "logits_grad": array(logits.grad)}


def hand_case(ns: dict, request: dict) -> dict[str, Any]:
    return _loss(ns, request["hand_case"])


def random_batch(ns: dict, request: dict) -> dict[str, Any]:
    return _loss(ns, request["random_batch"])


CASES = {"hand_case": hand_case, "random_batch": random_batch}
