"""Text and token batches for language models."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np


def random_windows(tokens: np.ndarray, batch_size: int, block_size: int, rng: np.random.Generator) -> np.ndarray:
    """batch_size random contiguous windows of block_size tokens: int64 array (batch_size, block_size)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
        raise ValueError(f"tokens must be a 1-D integer array, got shape {tokens.shape} and dtype {tokens.dtype}")
    if len(tokens) < block_size:
        raise ValueError(f"need at least block_size={block_size} tokens, got {len(tokens)}")
    starts = rng.integers(0, len(tokens) - block_size + 1, size=batch_size)  # (B,)
    return tokens[starts[:, None] + np.arange(block_size)].astype(np.int64, copy=False)  # (B, block_size)


def train_val_split(tokens: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first (1 - val_fraction) of the tokens for training, the rest for validation (no shuffling)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    cut = int(len(tokens) * (1 - val_fraction))
    return tokens[:cut], tokens[cut:]


@functools.cache
def embedded_text() -> str:
    """The Python documentation topics shipped with CPython (pydoc_data), joined in sorted key order.

    About 465k characters of English prose and code: a corpus with no download and no licence question.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def load_text(path: str | Path | None = None) -> str:
    """A UTF-8 text file, or the embedded text when path is None."""
    if path is None:
        return embedded_text()
    return Path(path).read_text(encoding="utf-8")
