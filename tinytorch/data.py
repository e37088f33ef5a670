"""Data: text and token batches for language models, and a small set of real images for vision models."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

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


class ImageSplit(NamedTuple):
    """Images (N, C, H, W) float32 and their integer class labels (N,), split into training and test sets."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sklearn_digits  # imported on first use: about a second

    digits = sklearn_digits()
    images = (digits.images / 16).astype(np.float32)[:, None]  # (1797, 1, 8, 8), grey levels 0..16 -> [0, 1]
    return images, digits.target.astype(np.int64)


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> ImageSplit:
    """The 1,797 handwritten digits (0-9) of the UCI optical-digits test set that scikit-learn ships:
    8x8 pixels, 1 channel, values in [0, 1]. Shuffled with `seed`, then the last `test_fraction` is the test set.

    images (N, 1, 8, 8) float32, labels (N,) int64; no download (the file is inside the scikit-learn package).
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    images, labels = _digits()
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = len(labels) - round(len(labels) * test_fraction)
    train, test = order[:cut], order[cut:]
    return ImageSplit(images[train], labels[train], images[test], labels[test])


def minibatch_indices(num_items: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless batches of indices into num_items examples: each epoch a fresh permutation, cut into
    batch_size pieces (the last, shorter piece of an epoch is dropped). Yields int64 arrays (batch_size,)."""
    if not 0 < batch_size <= num_items:
        raise ValueError(f"need 0 < batch_size <= num_items, got batch_size={batch_size} for {num_items} items")
    while True:
        order = rng.permutation(num_items)
        for start in range(0, num_items - batch_size + 1, batch_size):
            yield order[start : start + batch_size]
