"""Every output has the right shape and type but is NaN (comparisons with NaN are false, so checks of the
form `not close` or `student == student` would pass vacuously)."""

import numpy as np

from tinytorch import Tensor, nn


def _nan_like(x, *shape):
    return x[..., :1].sum(axis=-1, keepdims=True) * np.full(shape or x.shape, np.nan, dtype=np.float32)


class PositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model):
        self.max_len, self.pe = max_len, np.full((max_len, d_model), np.nan, dtype=np.float32)

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError("sequence longer than max_len")
        return x + Tensor(self.pe[: x.shape[1]])


def scaled_dot_product_attention(q, k, v, mask=None):
    weights = _nan_like(q @ k.transpose(-2, -1))
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, causal=True):
        if d_model % num_heads:
            raise ValueError("d_model must be divisible by num_heads")
        self.num_heads, self.head_dim = num_heads, d_model // num_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Dense(d_model, d_model) for _ in range(4))

    def forward(self, x):
        batch, steps, _ = x.shape
        self.last_attention = np.full((batch, self.num_heads, steps, steps), np.nan)
        return _nan_like(self.out_proj(self.q_proj(x) + self.k_proj(x) + self.v_proj(x)))


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        self.gamma, self.beta = nn.Parameter(np.ones(d_model)), nn.Parameter(np.zeros(d_model))

    def forward(self, x):
        return _nan_like(x * self.gamma + self.beta)


class TransformerBlock(nn.Module):
    def __init__(self, d_model, num_heads, d_ff=None, dropout=0.0):
        self.ln1, self.ln2 = LayerNorm(d_model), LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads, causal=True)
        self.fc1, self.fc2 = nn.Dense(d_model, d_ff or 4 * d_model), nn.Dense(d_ff or 4 * d_model, d_model)

    def forward(self, x):
        return _nan_like(self.fc2(self.fc1(self.ln2(self.attn(self.ln1(x))))))


class TinyGPT(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, max_len, d_ff=None, dropout=0.0):
        self.vocab_size, self.max_len = vocab_size, max_len
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.positional_encoding = PositionalEncoding(max_len, d_model)
        self.blocks = [TransformerBlock(d_model, num_heads, d_ff, dropout) for _ in range(num_layers)]
        self.ln_f, self.lm_head = LayerNorm(d_model), nn.Dense(d_model, vocab_size)

    def forward(self, ids):
        ids = np.asarray(getattr(ids, "data", ids))
        if ids.shape[1] > self.max_len:
            raise ValueError("sequence longer than max_len")
        return _nan_like(self.lm_head(self.token_embedding(ids)))


class LanguageModelLoss(nn.Module):
    def forward(self, logits, ids):
        return logits.sum() * np.nan


class LanguageModelTrainer:
    def __init__(self, model, optimizer, loss_fn, clip_norm=None):
        self.model, self.optimizer, self.loss_fn, self.history = model, optimizer, loss_fn, []

    def train_step(self, batch):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(batch), batch) * np.nan
        loss.backward()
        self.optimizer.step()
        self.history.append(float("nan"))
        return float("nan")

    def fit(self, tokens, num_steps, batch_size, block_size, seed=0, lr_schedule=None, progress=True):
        return [float("nan")] * num_steps
