"""A complete solution written with explicit loops and NumPy: per-head loop, E[x^2] - E[x]^2 variance,
a hand-written GELU and log-softmax loss, clipping by hand, inverse-CDF sampling, top-k by argsort.

Parsed into notebook cells at each `# %% <grade id>` line (tests/fairness/styles.py).
"""

import math

import numpy as np

import tinytorch as tt
from tinytorch import Tensor, nn
from tinytorch.data import random_windows


# %% tokenizer_code
class CharTokenizer:
    def __init__(self, unk_token=None):
        self.unk_token = unk_token
        self.itos = []
        self.stoi = {}
        self.fitted = False

    def fit(self, text):
        symbols = []
        for ch in text:
            if ch not in symbols:
                symbols.append(ch)
        if self.unk_token is not None and self.unk_token not in symbols:
            symbols.append(self.unk_token)
        symbols.sort()
        self.itos = symbols
        self.stoi = {}
        for index in range(len(symbols)):
            self.stoi[symbols[index]] = index
        self.vocab_size = len(symbols)
        self.fitted = True
        return self

    def encode(self, text):
        if not self.fitted:
            raise RuntimeError("fit the tokenizer before encoding")
        ids = []
        for position in range(len(text)):
            ch = text[position]
            if ch in self.stoi:
                ids.append(self.stoi[ch])
            elif self.unk_token is not None:
                ids.append(self.stoi[self.unk_token])
            else:
                raise ValueError("unknown character " + repr(ch) + " at position " + str(position))
        return ids

    def decode(self, ids):
        text = ""
        for index in list(ids):
            text += self.itos[int(index)]
        return text


# %% positional_encoding_code
class PositionalEncoding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        table = np.zeros((max_len, d_model), dtype=np.float64)
        for p in range(max_len):
            for j in range(d_model):
                angle = p / 10000 ** ((j - j % 2) / d_model)
                table[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
        self.pe = table.astype(np.float32)

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError("sequence longer than max_len")
        return x + Tensor(self.pe[: x.shape[1], :])


# %% causal_mask_code
def causal_mask(seq_len):
    mask = np.zeros((seq_len, seq_len), dtype=bool)
    for i in range(seq_len):
        for j in range(i + 1):
            mask[i, j] = True
    return mask


# %% attention_function_code
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) * (1.0 / np.sqrt(q.shape[-1]))
    if mask is not None:
        allowed = np.array(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
        scores = scores.masked_fill(np.logical_not(allowed), -np.inf)
    shifted = scores - scores.max(axis=-1, keepdims=True).detach()
    exps = shifted.exp()
    weights = exps / exps.sum(axis=-1, keepdims=True)
    return weights @ v, weights


# %% self_attention_code
class SelfAttention(nn.Module):
    def __init__(self, d_model, causal=False):
        super().__init__()
        self.q_proj = nn.Dense(d_model, d_model)
        self.k_proj = nn.Dense(d_model, d_model)
        self.v_proj = nn.Dense(d_model, d_model)
        self.causal = causal

    def forward(self, x):
        mask = None
        if self.causal:
            mask = causal_mask(x.shape[1])
        out, weights = scaled_dot_product_attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), mask=mask)
        self.last_attention = np.array(weights.data)
        return out


# %% multi_head_attention_code
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, causal=True):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"{d_model} is not divisible by {num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.causal = causal
        self.q_proj = nn.Dense(d_model, d_model)
        self.k_proj = nn.Dense(d_model, d_model)
        self.v_proj = nn.Dense(d_model, d_model)
        self.out_proj = nn.Dense(d_model, d_model)

    def forward(self, x):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        mask = causal_mask(x.shape[1]) if self.causal else None
        outputs, maps = [], []
        for h in range(self.num_heads):  # one head at a time, on its own columns
            cols = slice(h * self.head_dim, (h + 1) * self.head_dim)
            out, weights = scaled_dot_product_attention(q[:, :, cols], k[:, :, cols], v[:, :, cols], mask)
            outputs.append(out)
            maps.append(weights.data)
        self.last_attention = np.stack(maps, axis=1)
        return self.out_proj(tt.cat(outputs, axis=-1))


# %% layer_norm_code
class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(np.ones((d_model,), dtype=np.float32))
        self.beta = nn.Parameter(np.zeros((d_model,), dtype=np.float32))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(axis=-1, keepdims=True)
        var = (x * x).mean(axis=-1, keepdims=True) - mean * mean  # E[x^2] - E[x]^2
        return (x - mean) / (var + self.eps).sqrt() * self.gamma + self.beta


# %% transformer_block_code
class TransformerBlock(nn.Module):
    def __init__(self, d_model, num_heads, d_ff=None, dropout=0.0):
        super().__init__()
        if d_ff is None:
            d_ff = 4 * d_model
        self.ln1 = LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads, causal=True)
        self.ln2 = LayerNorm(d_model)
        self.fc1 = nn.Dense(d_model, d_ff)
        self.fc2 = nn.Dense(d_ff, d_model)
        self.dropout = dropout

    def gelu(self, u):
        return 0.5 * u * (1.0 + (math.sqrt(2.0 / math.pi) * (u + 0.044715 * u * u * u)).tanh())

    def forward(self, x):
        attended = tt.functional.dropout(self.attn(self.ln1(x)), self.dropout, self.training)
        x = x + attended
        hidden = self.fc2(self.gelu(self.fc1(self.ln2(x))))
        return x + tt.functional.dropout(hidden, self.dropout, self.training)


# %% tinygpt_code
class TinyGPT(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, max_len, d_ff=None, dropout=0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.positional_encoding = PositionalEncoding(max_len, d_model)
        self.blocks = []
        for _ in range(num_layers):
            self.blocks.append(TransformerBlock(d_model, num_heads, d_ff, dropout))
        self.ln_f = LayerNorm(d_model)
        self.lm_head = nn.Dense(d_model, vocab_size)

    def forward(self, ids):
        if isinstance(ids, Tensor):
            ids = ids.data
        ids = np.array(ids)
        if ids.shape[1] > self.max_len:
            raise ValueError("too many tokens for max_len")
        h = self.token_embedding(ids)
        h = self.positional_encoding(h)
        for i in range(len(self.blocks)):
            h = self.blocks[i](h)
        h = self.ln_f(h)
        return self.lm_head(h)


# %% loss_code
class LanguageModelLoss(nn.Module):
    def forward(self, logits, ids):
        ids = np.array(ids.data if isinstance(ids, Tensor) else ids)
        batch, steps, vocab = logits.shape
        log_probs = logits[:, :-1].log_softmax(axis=-1)  # (B, T-1, V)
        targets = np.zeros((batch, steps - 1, vocab), dtype=log_probs.data.dtype)
        for b in range(batch):
            for t in range(steps - 1):
                targets[b, t, ids[b, t + 1]] = 1.0
        return -(log_probs * Tensor(targets)).sum() / (batch * (steps - 1))


# %% trainer_code
class LanguageModelTrainer:
    def __init__(self, model, optimizer, loss_fn, clip_norm=None):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.clip_norm = clip_norm
        self.history = []

    def train_step(self, batch):
        for p in self.model.parameters():
            p.grad = None
        loss = self.loss_fn(self.model(batch), batch)
        loss.backward()
        if self.clip_norm is not None:
            total = 0.0
            for p in self.model.parameters():
                if p.grad is not None:
                    total += float(np.sum(p.grad.astype(np.float64) ** 2))
            total = math.sqrt(total)
            if total > self.clip_norm:
                for p in self.model.parameters():
                    if p.grad is not None:
                        p.grad = p.grad * (self.clip_norm / total)
        self.optimizer.step()
        value = float(loss.data)
        self.history.append(value)
        return value

    def fit(self, tokens, num_steps, batch_size, block_size, seed=0, lr_schedule=None, progress=True):
        rng = np.random.default_rng(seed)
        losses = []
        step = 0
        while step < num_steps:
            if lr_schedule is not None:
                self.optimizer.lr = lr_schedule(step)
            batch = random_windows(tokens, batch_size, block_size, rng)
            losses.append(self.train_step(batch))
            step += 1
        return losses


# %% generation_code
def generate(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None, seed=None):
    rng = np.random.default_rng(seed)
    ids = tokenizer.encode(prompt)
    model.eval()
    with tt.no_grad():
        for _ in range(max_new_tokens):
            context = ids[max(0, len(ids) - model.max_len):]
            logits = np.array(model(np.array([context])).data[0, len(context) - 1], dtype=np.float64)
            if temperature == 0:
                best = 0
                for i in range(len(logits)):
                    if logits[i] > logits[best]:
                        best = i
                ids.append(best)
                continue
            logits = logits / temperature
            if top_k is not None:
                keep = np.argsort(logits)[max(0, len(logits) - top_k):]
                masked = np.full(len(logits), -np.inf)
                masked[keep] = logits[keep]
                logits = masked
            weights = np.exp(logits - np.max(logits))
            cdf = np.cumsum(weights / weights.sum())
            choice = int(np.searchsorted(cdf, rng.random(), side="right"))  # inverse-CDF sampling
            ids.append(min(choice, len(logits) - 1))
    return prompt + tokenizer.decode(ids[len(tokenizer.encode(prompt)):])
