"""LanguageModelLoss compares each position's logits with the same position's id (no shift by one)."""

import numpy as np

import tinytorch.functional as F
from tinytorch import Tensor

BREAKS = ("loss",)


class LanguageModelLoss:
    def __call__(self, logits, ids):
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        return F.cross_entropy(logits, ids)
