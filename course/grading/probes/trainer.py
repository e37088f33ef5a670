"""Probe for LanguageModelTrainer, driven with a recording model, loss and optimizer.

`run_trainer` takes the trainer class, so the trusted test runs the very same script with the
reference trainer. The stand-ins record what the trainer did: the batches the model saw, and at every
optimizer step the learning rate and the gradients (so accumulation and clipping show).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinytorch.functional as F
from tinytorch import Tensor, nn

from .common import array, need, number


class RecordingBigram(nn.Module):
    """logits[b, t] = table[ids[b, t]] + bias; remembers every batch it is given. ids (B, T) -> (B, T, V)."""

    def __init__(self, table: np.ndarray, bias: np.ndarray):
        super().__init__()
        self.table = nn.Parameter(np.array(table, dtype=np.float32))  # (V, V)
        self.bias = nn.Parameter(np.array(bias, dtype=np.float32))  # (V,)
        self.batches: list[np.ndarray] = []

    def forward(self, ids: Any) -> Tensor:
        ids = np.array(ids.data if isinstance(ids, Tensor) else ids)
        self.batches.append(ids)
        return self.table[ids] + self.bias


def shifted_cross_entropy(logits: Tensor, ids: Any) -> Tensor:
    """Mean cross-entropy of logits[:, :-1] predicting ids[:, 1:] (a known-good loss)."""
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    return F.cross_entropy(logits[:, :-1], ids[:, 1:])


class RecordingSGD:
    """Plain SGD that records, at every step, the learning rate and the gradients it was given."""

    def __init__(self, params: list[Tensor], lr: float):
        self.params = list(params)
        self.lr = lr
        self.steps: list[dict[str, Any]] = []

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        grads = [None if p.grad is None else np.array(p.grad) for p in self.params]
        self.steps.append({"lr": float(self.lr), "grads": grads})
        for p, grad in zip(self.params, grads, strict=True):
            if grad is not None:
                p.data -= np.float32(self.lr) * grad.astype(np.float32)


def run_trainer(trainer_class: type, config: dict) -> dict[str, Any]:
    """Build a trainer around the recording stand-ins, run `config["mode"]`, and report what happened."""
    model = RecordingBigram(config["table"], config["bias"])
    optimizer = RecordingSGD(model.parameters(), lr=config["lr"])
    trainer = trainer_class(model, optimizer, shifted_cross_entropy, clip_norm=config.get("clip_norm"))
    if config["mode"] == "steps":
        losses = [trainer.train_step(np.asarray(batch)) for batch in config["batches"]]
    else:
        schedule = config.get("lr_schedule")
        losses = trainer.fit(np.asarray(config["tokens"]), config["num_steps"], config["batch_size"],
                             config["block_size"], seed=config["seed"],
                             lr_schedule=None if schedule is None else schedule.__getitem__, progress=False)
    return {
        "losses": [number(loss) for loss in losses],
        "history": [number(loss) for loss in getattr(trainer, "history", [])],
        "batches": [array(batch) for batch in model.batches],
        "lrs": [step["lr"] for step in optimizer.steps],
        "grads": [step["grads"] for step in optimizer.steps],
        "params": [array(p) for p in model.parameters()],
    }


def _case(name: str):
    def case(ns: dict, request: dict) -> dict[str, Any]:
        return run_trainer(need(ns, "LanguageModelTrainer"), request[name])
    case.__name__ = name
    return case


CASES = {name: _case(name) for name in ("steps", "clipped_steps", "fit", "fit_other_seed")}
