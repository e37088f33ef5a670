"""LanguageModelLoss sums the per-position losses of each sequence instead of averaging over all of them."""

import numpy as np

import tinytorch.functional as F
from tinytorch import Tensor

BREAKS = ("loss",)


class LanguageModelLoss:
    def __call__(self, logits, ids):
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        steps = ids.shape[1] - 1
        return F.cross_entropy(logits[:, :-1], ids[:, 1:]) * steps
