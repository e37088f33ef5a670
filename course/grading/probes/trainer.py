"""Probe for LanguageModelTrainer, driven with a recording model, loss and optimizer.

`run_trainer` takes the trainer class, so the trusted test runs the very same script with the
reference trainer. The stand-ins record what the trainer did: the batches the model saw, and at every
optimizer step the learning rate and the gradients (so accumulation and clipping show).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinytorch.functional as F
from tinytorch import Tensor, nn, optim

from .common import array, need, number


class RecordingBigram(nn.Module):
    """logits[b, t] = table[ids[b, t]] + bias; remembers every batch it is given. ids (B, T) -> (B, T, V).

    An nn.Module with TinyGPT's public attributes (vocab_size, max_len), so a trainer may use any of them.
    """

    def __init__(self, table: np.ndarray, bias: np.ndarray, max_len: int = 1024):
        super().__init__()
        self.table = nn.Parameter(np.array(table, dtype=np.float32))  # (V, V)
        self.bias = nn.Parameter(np.array(bias, dtype=np.float32))  # (V,)
        self.vocab_size, self.max_len = self.table.shape[1], max_len
        self.batches: list[np.ndarray] = []

    def forward(self, ids: Any) -> Tensor:
        ids = np.array(ids.data if isinstance(ids, Tensor) else ids)
        self.batches.append(ids)
        return self.table[ids] + self.bias


def shifted_cross_entropy(logits: Tensor, ids: Any) -> Tensor:
    """Mean cross-entropy of logits[:, :-1] predicting ids[:, 1:] (a known-good loss)."""
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    return F.cross_entropy(logits[:, :-1], ids[:, 1:])


class RecordingSGD(optim.SGD):
    """tinytorch's own SGD (so every public method and attribute is there: parameters(), param_groups, lr,
    state, zero_grad(), step()), recording at every step the learning rate and the gradients it was given."""

    def __init__(self, params: Any, lr: float, momentum: float = 0.0):
        super().__init__(params, lr, momentum)
        self.steps: list[dict[str, Any]] = []

    def step(self) -> None:
        grads = [None if p.grad is None else np.array(p.grad) for p in self.parameters()]
        self.steps.append({"lr": float(self.lr), "grads": grads})
        super().step()


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
