"""TinyGPT rebuilds the hidden state from its NumPy data before ln_f, cutting the graph: only ln_f and lm_head learn.

The forward values are right; no gradient reaches the blocks or the embedding, so the model cannot
learn more than character frequencies, and the end-to-end check fails too.
"""

import numpy as np

from tinytorch import Tensor, nn

BREAKS = ("tinygpt", "end_to_end")


class TinyGPT(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, max_len, d_ff=None, dropout=0.0):
        super().__init__()
        self.vocab_size, self.max_len = vocab_size, max_len
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.positional_encoding = PositionalEncoding(max_len, d_model)  # noqa: F821
        self.blocks = [TransformerBlock(d_model, num_heads, d_ff, dropout) for _ in range(num_layers)]  # noqa: F821
        self.ln_f = LayerNorm(d_model)  # noqa: F821
        self.lm_head = nn.Dense(d_model, vocab_size)

    def forward(self, ids):
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequence length {ids.shape[1]} exceeds max_len {self.max_len}")
        x = self.positional_encoding(self.token_embedding(ids))  # (B, T, D)
        for block in self.blocks:
            x = block(x)
        x = Tensor(x.data.reshape(ids.shape[0], ids.shape[1], -1))  # (B, T, D), detached
        return self.lm_head(self.ln_f(x))
