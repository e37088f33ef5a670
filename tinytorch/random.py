"""The one random generator of tinytorch: layer initialisation and dropout draw from it."""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 0  # fixed, so even an unseeded run is reproducible

_generator = np.random.default_rng(DEFAULT_SEED)


def manual_seed(seed: int) -> np.random.Generator:
    """Restart the global generator from `seed`; returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def rng() -> np.random.Generator:
    """The current global generator (replaced by `manual_seed`, so call this each time rather than keeping it)."""
    return _generator
