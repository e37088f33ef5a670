"""The Tensor and the reverse-mode autograd engine.

A Tensor wraps a NumPy array. Every differentiable operation is a `Function` subclass (in `ops.py`
and `functional.py`) with `forward` (arrays in, array out) and `backward` (output gradient in, one
gradient per input out) side by side. `Function.apply` runs `forward` and, when a gradient will be
needed, records the function and its inputs on the output tensor: that record is the graph.

`Tensor.backward` sorts the graph once, iteratively (no recursion limit), and walks it in reverse
topological order, so each node is visited exactly once. Gradients land in `.grad` of leaf tensors
only (tensors created by the user, such as parameters), and accumulate there until `zero_grad()`.
After the walk the graph is freed (saved arrays released) unless `retain_graph=True`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch import random as _random
from tinytorch import trace as _trace
from tinytorch.allocator import keep_freed_memory

keep_freed_memory()  # reuse freed temporaries across steps (see allocator.py)
_grad_enabled = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block operations record no graph: for evaluation and sampling."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


@dataclass
class BackwardStats:
    """What the last `backward()` did: a cheap counter to check that the walk is linear in graph size."""

    nodes_visited: int = 0  # tensors taken in the topological sort
    functions_called: int = 0  # Function.backward calls


backward_stats = BackwardStats()


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """Python scalars, lists and non-float64 float arrays become float32; integer and bool arrays keep their dtype."""
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "f" and data.dtype != np.float64:
            return data.astype(np.float32, copy=False)
        if data.dtype.kind not in "fiub":
            raise TypeError(f"Tensor data must be a numeric or bool array, got dtype {data.dtype}")
        return data
    array = np.asarray(data)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Tensor data must be numbers (a scalar, list or array), got {type(data).__name__}")
    return array.astype(np.float32) if array.dtype.kind != "b" else array


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back to it."""

    __array_ufunc__ = None  # `ndarray + Tensor` defers to Tensor.__radd__ instead of making an object array

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data: np.ndarray = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise ValueError(f"only float tensors can require grad, got dtype {self.data.dtype}")
        self.requires_grad = requires_grad
        self.grad: np.ndarray | None = None
        self._ctx: Function | None = None  # the Function that made this tensor (None for leaves)
        self._parents: tuple[Tensor, ...] = ()
        self._freed = False  # True once backward has released this tensor's part of the graph

    # ----- array-like attributes -----
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float | int:
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data (shared, not copied), cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # ----- autograd -----
    def backward(self, grad: np.ndarray | None = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) * grad into `.grad` of every leaf that requires grad.

        grad: same shape as self; may be omitted only when self has a single element (then it is 1).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no graph leads to it)")
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a single-element tensor, this one has shape {self.shape}; "
                    "pass grad= of the same shape, or reduce to a scalar first (e.g. .sum() or .mean())"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape}, expected the tensor's shape {self.shape}")

        order = _topological_order(self)
        backward_stats.nodes_visited = len(order)
        backward_stats.functions_called = 0
        grads: dict[int, np.ndarray] = {id(self): grad}
        summed: set[int] = set()  # keys whose gradient is a sum made here: ours to add into in place
        for node in reversed(order):
            node_grad = grads.pop(id(node), None)
            if node._ctx is None:  # a leaf: keep its gradient
                if node_grad is not None:
                    node._accumulate(node_grad)
                continue
            if node_grad is not None:
                backward_stats.functions_called += 1
                input_grads = node._ctx.backward(node_grad)
                for parent, parent_grad in zip(node._parents, input_grads, strict=True):
                    if parent_grad is None or not parent.requires_grad:
                        continue
                    key = id(parent)
                    if key not in grads:  # may be shared with other tensors (e.g. both inputs of an add)
                        grads[key] = parent_grad
                    elif key in summed:
                        grads[key] += parent_grad
                    else:
                        grads[key] = grads[key] + parent_grad
                        summed.add(key)
            if not retain_graph:
                node._ctx, node._parents, node._freed = None, (), True

    def _accumulate(self, grad: np.ndarray) -> None:
        if self.grad is None:  # a fresh array: the graph may share `grad` with other tensors
            self.grad = np.array(np.broadcast_to(grad, self.shape), dtype=self.dtype)
        else:
            self.grad += grad

    # ----- operators (implemented in ops.py / functional.py) -----
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, exponent: float) -> Tensor:
        return _ops.pow(self, exponent)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)

    def var(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Biased variance (divides by N), as layer norm uses."""
        return _ops.var(self, axis, keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        return _ops.reshape(self, *shape)

    def transpose(self, axis1: int = -2, axis2: int = -1) -> Tensor:
        return _ops.transpose(self, axis1, axis2)

    def permute(self, *axes: int | tuple[int, ...]) -> Tensor:
        return _ops.permute(self, *axes)

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(reversed(range(self.ndim))))

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        return _ops.masked_fill(self, mask, value)

    def softmax(self, axis: int = -1) -> Tensor:
        return _functional.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _functional.log_softmax(self, axis)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors reachable from root, each once, every tensor after all of its inputs (iterative DFS)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        if node._freed:
            raise RuntimeError(
                "backward() through a graph that an earlier backward() already freed; "
                "recompute the forward pass, or pass retain_graph=True to the first backward()"
            )
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((parent, False) for parent in node._parents if parent.requires_grad and id(parent) not in seen)
    return order


class Function:
    """One differentiable operation. Subclasses store their options in `__init__` and implement:

    forward(*arrays) -> array: the value; may save what backward needs on self.
    backward(grad) -> tuple: one gradient per input (None where `self.needs_grad[i]` is False).
    """

    needs_grad: tuple[bool, ...] = ()

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options: Any) -> Tensor:
        function = cls(**options)
        function.needs_grad = tuple(t.requires_grad for t in inputs)
        output = Tensor.__new__(Tensor)  # skips input conversion: forward already made the array
        output.data = function.forward(*(t.data for t in inputs))
        output.grad = None
        output.requires_grad = _grad_enabled and any(function.needs_grad)
        output._ctx, output._parents, output._freed = None, (), False
        if output.requires_grad:
            output._ctx, output._parents = function, inputs
        if _trace.recorders:  # inside tinytorch.trace.record(): count this op
            _trace.note_op(function, inputs, output)
        return output


def zeros(shape: int | tuple[int, ...], requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(shape: int | tuple[int, ...], requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def randn(shape: int | tuple[int, ...], requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
    """Standard normal samples from the global generator `tinytorch.rng()`."""
    return Tensor(_random.rng().standard_normal(shape).astype(dtype), requires_grad=requires_grad)


# ops.py and functional.py build on Tensor and Function, so they are imported after both exist.
from tinytorch import functional as _functional  # noqa: E402
from tinytorch import ops as _ops  # noqa: E402
