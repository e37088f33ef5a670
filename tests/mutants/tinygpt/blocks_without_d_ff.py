"""TinyGPT builds its blocks without passing d_ff on (they always use 4 * d_model)."""

import numpy as np

from tinytorch import Tensor, nn

BREAKS = ("tinygpt",)


class TinyGPT(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, max_len, d_ff=None, dropout=0.0):
        super().__init__()
        self.vocab_size, self.max_len = vocab_size, max_len
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.positional_encoding = PositionalEncoding(max_len, d_model)  # noqa: F821
        self.blocks = [TransformerBlock(d_model, num_heads, dropout=dropout) for _ in range(num_layers)]  # noqa: F821
        self.ln_f = LayerNorm(d_model)  # noqa: F821
        self.lm_head = nn.Dense(d_model, vocab_size)

    def forward(self, ids):
        ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequence of length {ids.shape[1]} is longer than max_len={self.max_len}")
        x = self.positional_encoding(self.token_embedding(ids))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
