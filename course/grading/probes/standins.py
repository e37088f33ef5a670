"""Stand-ins: simple, known parts swapped in for the student's own, so a suite grades one component.

The transformer block is graded with `StandInAttention` and `StandInLayerNorm` in place of the
student's MultiHeadAttention and LayerNorm; TinyGPT with `StandInBlock`, `StandInLayerNorm` and
`StandInPositionalEncoding`; MultiHeadAttention and SelfAttention with `reference_causal_mask` and
`reference_attention`. A bug in the student's attention then costs points in the attention suite
only. Each stand-in follows the API's constructor signature and is causal where the real part is.
The trusted tests run the reference solution with the same stand-ins to get expected values.
"""

from __future__ import annotations

import numpy as np

from tinytorch import Tensor, nn


def reference_causal_mask(seq_len: int) -> np.ndarray:
    """(T, T) bool, True where query i may attend to key j (j <= i)."""
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))


def reference_attention(q: Tensor, k: Tensor, v: Tensor, mask: np.ndarray | None = None) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(Dk)) v with masked (False) entries at exactly 0; returns (out, weights)."""
    scores = (q @ k.transpose(-2, -1)) / float(np.sqrt(q.shape[-1]))  # (..., T, S)
    if mask is not None:
        blocked = ~np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
        scores = scores.masked_fill(blocked, -np.inf)
    weights = scores.softmax(axis=-1)  # (..., T, S)
    return weights @ v, weights


def causal_running_mean(x: Tensor) -> Tensor:
    """out[:, t] = mean of x[:, :t+1]: a fixed, causal mixing over time. x (B, T, D) -> (B, T, D)."""
    seq_len = x.shape[-2]
    averaging = np.tril(np.ones((seq_len, seq_len))) / np.arange(1, seq_len + 1)[:, None]  # (T, T)
    return Tensor(averaging.astype(x.data.dtype)) @ x


class StandInLayerNorm(nn.Module):
    """gamma * x + beta: the API's LayerNorm parameters, without the normalisation."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(np.ones(d_model, dtype=np.float32))
        self.beta = nn.Parameter(np.zeros(d_model, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma + self.beta


class StandInAttention(nn.Module):
    """A causal linear mixing: causal_running_mean(x) @ weight. (B, T, D) -> (B, T, D).

    Keeps MultiHeadAttention's plain attributes: num_heads, head_dim, causal, last_attention (B, H, T, T);
    `built` records the constructor's arguments, so that the block suite sees what the block asked for.
    """

    def __init__(self, d_model: int, num_heads: int, causal: bool = True):
        super().__init__()
        self.num_heads, self.head_dim, self.causal = num_heads, d_model // num_heads, causal
        self.built = {"d_model": d_model, "num_heads": num_heads, "causal": bool(causal)}
        self.weight = nn.Parameter(np.eye(d_model, dtype=np.float32))
        self.last_attention: np.ndarray | None = None

    def forward(self, x: Tensor) -> Tensor:
        batch, seq_len = x.shape[0], x.shape[-2]
        averaging = np.tril(np.ones((seq_len, seq_len))) / np.arange(1, seq_len + 1)[:, None]  # (T, T)
        self.last_attention = np.broadcast_to(averaging, (batch, self.num_heads, seq_len, seq_len)).copy()
        return causal_running_mean(x) @ self.weight


class StandInBlock(nn.Module):
    """x + tanh(causal_running_mean(x) @ weight): a causal block with one (D, D) parameter.

    `received` records the constructor's arguments, so that the TinyGPT suite sees what was passed on.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.received = {"d_model": d_model, "num_heads": num_heads, "d_ff": d_ff, "dropout": dropout}
        self.weight = nn.Parameter(np.eye(d_model, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        return x + (causal_running_mean(x) @ self.weight).tanh()


class StandInPositionalEncoding(nn.Module):
    """Adds a fixed pattern unlike the sinusoids: pe[p, j] = 0.5 sin(0.37 (p + 1)(j + 1)); no parameters."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len = max_len
        positions, columns = np.meshgrid(np.arange(max_len), np.arange(d_model), indexing="ij")
        self.pe = (0.5 * np.sin(0.37 * (positions + 1) * (columns + 1))).astype(np.float32)  # (max_len, D)

    def forward(self, x: Tensor) -> Tensor:
        seq_len = x.shape[1]
        if seq_len > self.max_len:
            raise ValueError(f"sequence length {seq_len} exceeds max_len {self.max_len}")
        return x + Tensor(self.pe[:seq_len])


BLOCK_STAND_INS = {"MultiHeadAttention": StandInAttention, "LayerNorm": StandInLayerNorm}
MODEL_STAND_INS = {
    "TransformerBlock": StandInBlock,
    "LayerNorm": StandInLayerNorm,
    "PositionalEncoding": StandInPositionalEncoding,
}
ATTENTION_STAND_INS = {"causal_mask": reference_causal_mask, "scaled_dot_product_attention": reference_attention}
