"""Which parts of tinytorch a piece of code used: its ops, modules, optimizers and losses, counted.

    from tinytorch import trace
    with trace.record() as cnn:
        ...  # train a CNN for a few steps
    with trace.record() as gpt:
        ...  # train a GPT for a few steps
    print(trace.reuse(cnn, gpt).table("CNN", "TinyGPT"))

Off by default and cheap when off: three hooks (`Function.apply`, `Module.__call__`, `Optimizer.step`)
test whether the list `recorders` is empty, and only then call `note_op` or `note`. A recording counts
the calls of each class; for ops it also adds up the multiply-adds of matrix products and convolutions
(the work that dominates a network) and two kinds of memory: the bytes of the new arrays an op returns
(a view of an input counts 0) and, when a graph is being recorded, the bytes of the other arrays it keeps
for its backward pass (im2col columns, masks, argmaxes; not its inputs or output). Their sum over one
forward pass is the activation memory that training holds until backward. Backward passes are not
recorded: every backward belongs to an op that the forward pass already counted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("op", "module", "optimizer", "loss")
# Ops and modules that are losses, by "module.ClassName" (mse_loss is composed of plain ops).
LOSSES = frozenset({"tinytorch.functional.CrossEntropy", "tinytorch.nn.CrossEntropyLoss", "tinytorch.nn.MSELoss"})


def _multiply_adds(name: str, inputs: tuple[Any, ...], output: Any) -> int:
    """Multiply-adds of one call: (..., n, k) @ (k, m) does out.size * k; a convolution out.size * C * k * k."""
    if name in ("tinytorch.ops.MatMul", "tinytorch.functional.Linear"):  # Linear: x (..., k) @ weight (k, m) + b
        return output.size * inputs[0].shape[-1]
    if name == "tinytorch.vision.Conv2d":
        return output.size * inputs[1].data[0].size  # weight (O, C, k, k): C k k per output value
    return 0


@dataclass
class Component:
    """One class of tinytorch (or of the user's code, `framework=False`) that ran inside a recording."""

    kind: str  # one of KINDS
    name: str  # the class name, e.g. "Dense" (module) or "MatMul" (op)
    framework: bool  # defined inside tinytorch
    calls: int = 0
    allocated_bytes: int = 0  # ops: bytes of the new arrays they returned
    saved_bytes: int = 0  # ops: bytes of the other new arrays kept for the backward pass
    multiply_adds: int = 0  # ops: matrix products and convolutions only

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


class Usage:
    """What ran inside one `record()` block, one Component per class."""

    def __init__(self) -> None:
        self._by_class: dict[type, Component] = {}

    def _entry(self, kind: str, cls: type) -> Component:
        entry = self._by_class.get(cls)
        if entry is None:
            qualified = f"{cls.__module__}.{cls.__qualname__}"
            kind = "loss" if qualified in LOSSES else kind
            entry = self._by_class[cls] = Component(kind, cls.__name__, cls.__module__.split(".")[0] == "tinytorch")
        return entry

    def components(self, framework: bool | None = True) -> list[Component]:
        """Components by kind (op, module, optimizer, loss), then name; tinytorch's only by default
        (framework=False: only the user's classes, None: all)."""
        found = [c for c in self._by_class.values() if framework is None or c.framework == framework]
        return sorted(found, key=lambda c: (KINDS.index(c.kind), c.name))

    def labels(self) -> set[str]:
        """The framework components used, as "kind Name" strings, e.g. {"module Dense", "op MatMul"}."""
        return {c.label for c in self.components()}

    @property
    def allocated_bytes(self) -> int:
        return sum(c.allocated_bytes for c in self._by_class.values())

    @property
    def saved_bytes(self) -> int:
        return sum(c.saved_bytes for c in self._by_class.values())

    @property
    def activation_bytes(self) -> int:
        """Op outputs plus what the ops keep for backward: the memory a forward pass holds for training."""
        return self.allocated_bytes + self.saved_bytes

    @property
    def multiply_adds(self) -> int:
        return sum(c.multiply_adds for c in self._by_class.values())

    def __repr__(self) -> str:
        return f"Usage({', '.join(f'{c.label} x{c.calls}' for c in self.components(None))})"


recorders: list[Usage] = []  # the active recordings (nested blocks all record)


def note(kind: str, cls: type) -> None:
    """Count one call of a module or optimizer class in every active recording (the hooks call this only
    while `recorders` is not empty)."""
    for usage in recorders:
        usage._entry(kind, cls).calls += 1


def note_op(function: Any, inputs: tuple[Any, ...], output: Any) -> None:
    """Count one op: the Function instance after its forward, its input Tensors and its output Tensor."""
    arrays = [t.data for t in inputs]
    out = output.data
    allocated = 0 if any(np.may_share_memory(out, a) for a in arrays) else out.nbytes
    saved = 0
    if output.requires_grad:  # the graph keeps `function`, and with it what its forward saved
        known = [out, *arrays]
        for value in vars(function).values():
            if isinstance(value, np.ndarray) and not any(np.may_share_memory(value, a) for a in known):
                saved += value.nbytes
                known.append(value)
    cls = type(function)
    multiply_adds = _multiply_adds(f"{cls.__module__}.{cls.__qualname__}", inputs, out)
    for usage in recorders:
        entry = usage._entry("op", cls)
        entry.calls += 1
        entry.allocated_bytes += allocated
        entry.saved_bytes += saved
        entry.multiply_adds += multiply_adds


@contextlib.contextmanager
def record() -> Iterator[Usage]:
    """Record the tinytorch components used inside the block into the Usage it yields."""
    usage = Usage()
    recorders.append(usage)
    try:
        yield usage
    finally:
        recorders.remove(usage)


@dataclass(frozen=True)
class Reuse:
    """The framework components of two recordings side by side: which of the second's the first already used."""

    rows: list[tuple[str, bool, bool]]  # (label, used by the first, used by the second), by kind then name
    share: float  # used by both / used by the second
    multiply_add_share: float  # the part of the second's multiply-adds done by components the first used

    @property
    def shared(self) -> list[str]:
        return [label for label, first, second in self.rows if first and second]

    @property
    def new(self) -> list[str]:
        """The second's components that the first did not use."""
        return [label for label, first, second in self.rows if second and not first]

    def table(self, first: str = "first", second: str = "second") -> str:
        """A plain-text table: component, used by `first`, used by `second`, then the share."""
        width = max(len("component"), *(len(label) for label, _, _ in self.rows))
        lines = [f"{'component':<{width}}  {first:^10}  {second:^10}"]
        for label, in_first, in_second in self.rows:
            lines.append(f"{label:<{width}}  {'x' if in_first else '':^10}  {'x' if in_second else '':^10}")
        used = sum(in_second for _, _, in_second in self.rows)
        lines.append(f"{second} used {used} tinytorch components; {first} had already used {len(self.shared)} "
                     f"of them: {self.share:.0%}")
        return "\n".join(lines)


def reuse(first: Usage, second: Usage) -> Reuse:
    """Compare the framework components of two recordings: `share` is the part of the second's components
    that the first used too, `multiply_add_share` the part of the second's multiply-adds that they did."""
    ordered = {c.label: c for c in first.components() + second.components()}
    order = sorted(ordered.values(), key=lambda c: (KINDS.index(c.kind), c.name))
    used_first, used_second = first.labels(), second.labels()
    rows = [(c.label, c.label in used_first, c.label in used_second) for c in order]
    share = len(used_first & used_second) / len(used_second) if used_second else 0.0
    work = sum(c.multiply_adds for c in second.components())
    reused_work = sum(c.multiply_adds for c in second.components() if c.label in used_first)
    return Reuse(rows, share, reused_work / work if work else 0.0)
