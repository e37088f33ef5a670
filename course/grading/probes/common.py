"""Small helpers shared by the probes: look up the student's names, load weights, read results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

import tinytorch as tt


def need(ns: dict, name: str) -> Any:
    """The student's definition `name`, or a NameError that says it is missing."""
    if name not in ns:
        raise NameError(f"your notebook does not define {name}")
    return ns[name]


def array(value: Any) -> np.ndarray | None:
    """A NumPy copy of a Tensor, an array or nested numbers (None stays None)."""
    if value is None:
        return None
    if isinstance(value, tt.Tensor):
        value = value.data
    return np.array(value)


def outcome(action: Callable[[], Any]) -> dict[str, Any]:
    """Run `action` and report which exception it raised: {"raised": "ValueError" or None, "message": ...}."""
    try:
        action()
    except Exception as error:  # the probe reports any exception type; the test decides
        return {"raised": type(error).__name__, "message": str(error)}
    return {"raised": None, "message": ""}


def _child(node: Any, key: str) -> Any:
    if isinstance(node, list | tuple) and key.isdigit():
        return node[int(key)]
    if isinstance(node, dict):
        return node[key]
    return getattr(node, key)


def parameter(module: Any, dotted: str) -> tt.Tensor:
    """The tensor at a dotted path such as `blocks.0.attn.q_proj.weight`."""
    node = module
    for key in dotted.split("."):
        try:
            node = _child(node, key)
        except (AttributeError, IndexError, KeyError):
            raise AttributeError(f"{type(module).__name__} has no `{dotted}` (expected by the API)") from None
    if not isinstance(node, tt.Tensor):
        raise TypeError(f"`{dotted}` is a {type(node).__name__}, expected a tinytorch Parameter")
    return node


def load_weights(module: Any, weights: dict[str, np.ndarray]) -> None:
    """Copy each array into the parameter of that dotted name, in place (keeps the parameter's dtype)."""
    for name, value in weights.items():
        target = parameter(module, name)
        if target.data.shape != np.shape(value):
            raise ValueError(f"`{name}` has shape {target.data.shape}, expected {np.shape(value)} by the API")
        target.data[...] = value


def gradients(module: Any, names: list[str]) -> dict[str, np.ndarray | None]:
    """The `.grad` of each named parameter (None where no gradient arrived)."""
    return {name: array(parameter(module, name).grad) for name in names}


def backward_with(output: Any, upstream: np.ndarray) -> None:
    """Backpropagate sum(output * upstream): the gradient arriving at `output` is `upstream`."""
    if not isinstance(output, tt.Tensor):
        raise TypeError(f"expected a tinytorch Tensor as output, got {type(output).__name__}")
    output.backward(np.asarray(upstream, dtype=output.data.dtype))


@contextmanager
def swapped(ns: dict, **replacements: Any) -> Iterator[None]:
    """Temporarily bind names in a namespace (e.g. stand-ins for the student's LayerNorm)."""
    saved = {name: ns[name] for name in replacements if name in ns}
    ns.update(replacements)
    try:
        yield
    finally:
        for name in replacements:
            ns.pop(name, None)
        ns.update(saved)


def require_instance(value: Any, cls: type, where: str, how: str) -> None:
    """Fail with a readable reason when the student's module did not build its part by the API's name."""
    if not isinstance(value, cls):
        raise TypeError(f"{where} is a {type(value).__name__}; the API builds it as {how}")


def number(value: Any) -> float:
    """A Python float from a float, a NumPy scalar or a one-element Tensor."""
    return float(np.asarray(value.data if isinstance(value, tt.Tensor) else value).reshape(-1)[0])


def type_name(value: Any) -> str:
    """`numpy.ndarray`, `tinytorch.tensor.Tensor`, `builtins.NoneType`, ...: what the student's code kept."""
    return f"{type(value).__module__}.{type(value).__name__}"


def plain_number(value: Any) -> int | float | str | None:
    """An attribute as plain data: Python and NumPy numbers as numbers, None as None, anything else by its type."""
    if value is None or type(value) in (int, float):
        return value
    if isinstance(value, np.integer | np.floating):
        return value.item()
    return f"a {type(value).__name__}"
