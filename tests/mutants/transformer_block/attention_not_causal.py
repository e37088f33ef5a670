"""TransformerBlock builds its attention with `causal=False`: every position of the block sees the future."""

import tinytorch.functional as F
from tinytorch import nn

BREAKS = ("transformer_block", "end_to_end")  # the trained model looks ahead: end_to_end's causality check fails


class TransformerBlock(nn.Module):
    def __init__(self, d_model, num_heads, d_ff=None, dropout=0.0):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.ln1 = LayerNorm(d_model)  # noqa: F821 (the notebook's LayerNorm)
        self.attn = MultiHeadAttention(d_model, num_heads, causal=False)  # noqa: F821
        self.ln2 = LayerNorm(d_model)  # noqa: F821
        self.fc1 = nn.Dense(d_model, d_ff)
        self.fc2 = nn.Dense(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = x + self.dropout(self.attn(self.ln1(x)))
        return x + self.dropout(self.fc2(F.gelu(self.fc1(self.ln2(x)))))
