"""Probe for generate, driven with a scripted model of known logits and a stand-in tokenizer.

`run_generation` takes the generate function, so the trusted test can run the same script with the
reference. The scripted model records every context it is given and refuses contexts longer than
its max_len, as a real TinyGPT does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinytorch import Tensor, nn

from .common import need


class StandInTokenizer:
    """Characters in the given order: id i is chars[i]. CharTokenizer's whole public interface."""

    def __init__(self, chars: str, unk_token: str | None = None):
        self.unk_token = unk_token
        self.itos = list(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    def fit(self, text: str) -> StandInTokenizer:
        return self  # the vocabulary is fixed by the script

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi[ch] for ch in text]

    def decode(self, ids: Any) -> str:
        return "".join(self.itos[int(i)] for i in np.asarray(ids).reshape(-1))


class ScriptedBigram(nn.Module):
    """logits[b, t] = table[ids[b, t]] + offset; records contexts, train/eval mode and grad tracking."""

    def __init__(self, table: np.ndarray, max_len: int):
        super().__init__()
        self.table = np.array(table, dtype=np.float32)  # (V, V)
        self.offset = nn.Parameter(np.zeros(self.table.shape[1], dtype=np.float32))  # (V,)
        self.max_len = max_len
        self.vocab_size = self.table.shape[1]
        self.contexts: list[list[int]] = []
        self.modes: list[dict[str, bool]] = []

    def forward(self, ids: Any) -> Tensor:
        ids = np.array(ids.data if isinstance(ids, Tensor) else ids)
        if ids.ndim != 2:
            raise ValueError(f"expected ids of shape (B, T), got {ids.shape}")
        if ids.shape[1] > self.max_len:
            raise ValueError(f"context of {ids.shape[1]} tokens is longer than max_len {self.max_len}")
        self.contexts.append([int(i) for i in ids[0]])
        logits = Tensor(self.table[ids]) + self.offset  # (B, T, V)
        self.modes.append({"training": bool(self.training), "tracks_gradients": bool(logits.requires_grad)})
        return logits


def run_generation(generate: Callable[..., str], config: dict) -> dict[str, Any]:
    """Call `generate` on the scripted model as `config` says; return the text and what the model saw."""
    model = ScriptedBigram(config["table"], config["max_len"])
    model.train()
    tokenizer = StandInTokenizer(config["chars"])
    options = {key: config[key] for key in ("temperature", "top_k", "seed") if key in config}
    text = generate(model, tokenizer, config["prompt"], config["max_new_tokens"], **options)
    return {"text": str(text), "contexts": model.contexts, "modes": model.modes}


def _case(name: str):
    def case(ns: dict, request: dict) -> dict[str, Any]:
        return run_generation(need(ns, "generate"), request[name])
    case.__name__ = name
    return case


CASES = {
    name: _case(name)
    for name in ("greedy", "cropped", "hot", "top_k", "seed_a", "seed_a_again", "seed_b")
}
