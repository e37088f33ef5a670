"""Optimizers (SGD, Adam, AdamW), global gradient-norm clipping and a warmup + cosine schedule.

Updates are in place on `param.data`, so the arrays stay float32 and the parameters stay the same
objects. Parameters without a gradient (`grad is None`) are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinytorch import trace as _trace
from tinytorch.tensor import Tensor


class Optimizer:
    """Holds parameter groups: dicts with "params" and per-group options (e.g. weight_decay).

    `lr` is one number for all groups, so a schedule can set `optimizer.lr = ...` each step.
    """

    def __init__(self, params: Iterable[Any], lr: float, defaults: dict[str, Any]) -> None:
        self.lr = lr
        self.param_groups = self._groups(params, defaults)
        self.state: dict[int, dict[str, Any]] = {}  # per parameter (by id): moment estimates, step count

    @staticmethod
    def _groups(params: Iterable[Any], defaults: dict[str, Any]) -> list[dict[str, Any]]:
        items = list(params)
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        raw_groups = items if isinstance(items[0], dict) else [{"params": items}]
        groups = []
        for raw in raw_groups:
            if not isinstance(raw, dict) or "params" not in raw:
                raise TypeError("parameter groups must all be dicts with a 'params' list")
            unknown = set(raw) - {"params"} - set(defaults)
            if unknown:
                raise ValueError(f"unknown parameter-group options {sorted(unknown)}; allowed: {sorted(defaults)}")
            group = {**defaults, **raw, "params": list(raw["params"])}
            for p in group["params"]:
                if not isinstance(p, Tensor) or not p.requires_grad:
                    raise TypeError(f"optimizers take Tensors that require grad (Parameters), got {p!r:.60}")
            groups.append(group)
        return groups

    def parameters(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def step(self) -> None:
        if _trace.recorders:  # inside tinytorch.trace.record(): count this optimizer
            _trace.note("optimizer", type(self))
        for index, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update_group(index, params, group)

    def _update_group(self, index: int, params: list[Tensor], group: dict[str, Any]) -> None:
        """Update the parameters of group `index` that have a gradient; by default one at a time."""
        for p in params:
            self._update(p, self.state.setdefault(id(p), {}), group)

    def _update(self, p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr * v with v = momentum * v + grad (plain gradient descent when momentum is 0)."""

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr, {"momentum": momentum})

    def _update(self, p, state, group):
        if group["momentum"] == 0:
            p.data -= self.lr * p.grad
            return
        velocity = state.get("velocity")
        if velocity is None:
            velocity = state["velocity"] = p.grad.copy()
        else:
            velocity *= group["momentum"]
            velocity += p.grad
        p.data -= self.lr * velocity


class AdamW(Optimizer):
    """Adam (Kingma & Ba) with bias-corrected moments and decoupled weight decay (Loshchilov & Hutter):
    p *= 1 - lr * weight_decay before each Adam step.

    The decay applies to every parameter given; pass groups to exclude some, e.g.
    AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=3e-4).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(params, lr, {"weight_decay": weight_decay})
        self.betas, self.eps = betas, eps
        self._flat: dict[int, tuple[list[int], np.ndarray, np.ndarray]] = {}  # group index -> (param ids, m, v)

    def _update(self, p, state, group):
        if not state:
            state.update(step=0, m=np.zeros_like(p.data), v=np.zeros_like(p.data))
        state["step"] += 1
        self._decay(p, group)
        p.data -= self._adam_step(p.grad, state["m"], state["v"], state["step"])

    def _update_group(self, index, params, group):
        """All of a group's moments live in two flat buffers (each parameter's `m` and `v` are views of them),
        so that the Adam arithmetic is a few passes over one long array instead of a dozen NumPy calls per
        parameter; one at a time if the parameters differ in dtype or in their number of steps."""
        states = [self.state.setdefault(id(p), {}) for p in params]
        flat = self._flat_moments(index, params, states)
        if flat is None:
            super()._update_group(index, params, group)
            return
        m, v = flat
        step = states[0]["step"] + 1
        for state in states:
            state["step"] = step
        update = self._adam_step(np.concatenate([p.grad.reshape(-1) for p in params]), m, v, step)
        start = 0
        for p in params:
            self._decay(p, group)
            p.data -= update[start : start + p.size].reshape(p.shape)
            start += p.size

    def _flat_moments(self, index, params, states):
        """(m, v) flat buffers of group `index` whose slices are `params`' moments, made (from the moments so far)
        when needed; None if the parameters cannot share them."""
        cached = self._flat.get(index)
        if cached is not None and cached[0] == [id(p) for p in params] and all(
            state.get("m") is not None and state["m"].base is cached[1] and state["v"].base is cached[2]
            for state in states
        ):
            return cached[1], cached[2]
        steps = {state.get("step", 0) for state in states}
        if len(steps) != 1 or len({p.dtype for p in params}) != 1:
            return None
        size, dtype = sum(p.size for p in params), params[0].dtype
        m, v = np.zeros(size, dtype=dtype), np.zeros(size, dtype=dtype)
        start = 0
        for p, state in zip(params, states, strict=True):
            views = {}
            for key, buffer in (("m", m), ("v", v)):
                views[key] = buffer[start : start + p.size].reshape(p.shape)
                if key in state:
                    views[key][...] = state[key]
            state.clear()
            state.update(step=next(iter(steps)), **views)
            start += p.size
        self._flat[index] = ([id(p) for p in params], m, v)
        return m, v

    def _decay(self, p, group):
        if group["weight_decay"]:  # decoupled (AdamW): shrink the weights, independently of the gradient
            p.data *= 1 - self.lr * group["weight_decay"]

    def _adam_step(self, g, m, v, t):
        """The step to subtract from the parameters for gradient `g` at step `t`; updates the moments in place."""
        beta1, beta2 = self.betas
        scratch = g * (1 - beta1)
        m *= beta1
        m += scratch  # m = beta1 m + (1 - beta1) g
        np.multiply(g, g, out=scratch)
        scratch *= 1 - beta2
        v *= beta2
        v += scratch  # v = beta2 v + (1 - beta2) g^2
        # lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t); written as
        # lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps sqrt(1 - beta2^t)): one pass fewer
        root = math.sqrt(1 - beta2**t)
        np.sqrt(v, out=scratch)
        scratch += self.eps * root
        np.divide(m, scratch, out=scratch)
        scratch *= self.lr * root / (1 - beta1**t)
        return scratch


class Adam(AdamW):
    """Adam: AdamW without weight decay."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay=0.0)


def clip_grad_norm(params: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most max_norm; returns the norm before."""
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total


class WarmupCosine:
    """Learning rate: linear from 0 to max_lr over warmup_steps, cosine down to min_lr at total_steps, then min_lr.

    `schedule(step)` is the same as `schedule.lr_at(step)`, so it can be passed where a function is expected.
    """

    def __init__(self, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> None:
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"need 0 <= warmup_steps < total_steps, got {warmup_steps} and {total_steps}")
        if not 0 <= min_lr <= max_lr:
            raise ValueError(f"need 0 <= min_lr <= max_lr, got min_lr={min_lr}, max_lr={max_lr}")
        self.max_lr, self.min_lr = max_lr, min_lr
        self.warmup_steps, self.total_steps = warmup_steps, total_steps

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.max_lr * step / self.warmup_steps
        if step >= self.total_steps:
            return self.min_lr
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)  # 0 -> 1
        return self.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (self.max_lr - self.min_lr)

    __call__ = lr_at
