"""Probe for the end-to-end check: the student's TinyGPT trained by a known-good loop.

The loop uses tinytorch's AdamW and cross-entropy with the shift written here, not the student's
loss or trainer, so only the model is under test. Then, in eval mode, it runs the held-out windows one
prefix length at a time (ids[:, :1], ids[:, :2], ..., the whole window last) and keeps each call's logits of
its last position: those are the predictions the held-out loss is computed from, made while the model had
never been shown a later token of those windows, so nothing a model remembers between calls can leak the
future into them. It also returns the whole windows' logits and those of the same windows with their second half
replaced, so the trusted test sees whether the trained model looks ahead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import optim
from tinytorch.data import random_windows

from .common import array, need, number


def train_and_evaluate(ns: dict, request: dict) -> dict[str, Any]:
    config = request["training"]
    tt.manual_seed(config["seed"])
    model = need(ns, "TinyGPT")(config["vocab_size"], config["d_model"], config["num_heads"],
                                config["num_layers"], config["block_size"])
    optimizer = optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=0.0)
    rng = np.random.default_rng(config["seed"])
    tokens = np.asarray(config["train_tokens"])
    losses = []
    model.train()
    for _ in range(config["num_steps"]):
        batch = random_windows(tokens, config["batch_size"], config["block_size"], rng)  # (B, T)
        optimizer.zero_grad()
        logits = model(batch)  # (B, T, V)
        loss = F.cross_entropy(logits[:, :-1], batch[:, 1:])
        loss.backward()
        optim.clip_grad_norm(model.parameters(), 1.0)
        optimizer.step()
        losses.append(number(loss))
    model.eval()
    windows = np.asarray(config["held_out_windows"])  # (N, T)
    prefix_logits = []
    with tt.no_grad():
        for length in range(1, windows.shape[1] + 1):  # shortest first: no call sees a token before it is predicted
            held_out = array(model(windows[:, :length]))  # (N, length, V)
            prefix_logits.append(held_out[:, -1])  # (N, V): the prediction for the token at position `length`
        future_changed = array(model(np.asarray(config["future_changed_windows"])))  # (N, T, V)
    return {"train_losses": losses, "prefix_logits": np.stack(prefix_logits, axis=1),  # (N, T, V)
            "held_out_logits": held_out, "future_changed_logits": future_changed}


CASES = {"train_and_evaluate": train_and_evaluate}
