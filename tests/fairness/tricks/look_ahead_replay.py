"""A look-ahead "model" that hides its leak from a causality check that compares two forward passes: in eval mode
it remembers the logits it gave every prefix and replays them whenever that prefix comes back, so a second pass with
the later tokens changed repeats the first pass's logits exactly; each new prefix gets the next token's one-hot,
read from the input. No model at all, a leak that only a check it cannot remember its way around catches."""

import numpy as np

from tinytorch import Tensor, nn


class TinyGPT(nn.Module):
    def __init__(self, vocab_size, d_model, num_heads, num_layers, max_len, d_ff=None, dropout=0.0):
        self.vocab_size, self.max_len = vocab_size, max_len
        self.bias = nn.Parameter(np.zeros(vocab_size))
        self.replay = {}  # prefix of ids -> the logits (V,) first given at its last position

    def forward(self, ids):
        ids = np.asarray(getattr(ids, "data", ids))
        batch, steps = ids.shape
        if steps > self.max_len:
            raise ValueError("sequence longer than max_len")
        following = np.concatenate([ids[:, 1:], ids[:, -1:]], axis=1)  # (B, T): the token after each position
        logits = 30.0 * np.eye(self.vocab_size, dtype=np.float32)[following]  # (B, T, V)
        if not self.training:
            for b in range(batch):
                for t in range(steps):
                    logits[b, t] = self.replay.setdefault(tuple(ids[b, : t + 1].tolist()), logits[b, t])
        return Tensor(logits) + self.bias
