"""TransformerBlock accepts a dropout argument but never applies dropout (same output in training and eval mode)."""

import tinytorch.functional as F
from tinytorch import nn

BREAKS = ("transformer_block",)


class TransformerBlock(nn.Module):
    def __init__(self, d_model, num_heads, d_ff=None, dropout=0.0):
        super().__init__()
        d_ff = d_ff or 4 * d_model
        self.ln1 = LayerNorm(d_model)  # noqa: F821
        self.attn = MultiHeadAttention(d_model, num_heads, causal=True)  # noqa: F821
        self.ln2 = LayerNorm(d_model)  # noqa: F821
        self.fc1 = nn.Dense(d_model, d_ff)
        self.fc2 = nn.Dense(d_ff, d_model)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
