"""scaled_dot_product_attention inverts the mask with `~mask`, which fails for a bool Tensor mask."""

import math

import numpy as np

BREAKS = ("attention",)


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -np.inf)
    weights = scores.softmax(axis=-1)
    return weights @ v, weights
