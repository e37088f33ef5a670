"""scaled_dot_product_attention forgets to divide the scores by sqrt(Dk)."""

import numpy as np

BREAKS = ("attention",)


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~np.asarray(mask, dtype=bool), -1e9)
    weights = scores.softmax(axis=-1)
    return weights @ v, weights
