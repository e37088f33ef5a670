"""Counting baselines for character language models: smoothed n-grams, fitted and scored in seconds.

An order-n model predicts a token from the n - 1 tokens before it. Counts are smoothed by
interpolated absolute discounting: every seen count gives up `discount`, and what it gives up is
shared out by the order below (order n - 1 down to the unigram, and the unigram by the uniform
distribution), so no token ever gets probability 0:

    P(w | h) = max(c(h w) - D, 0) / c(h) + D * N(h) / c(h) * P(w | h')

with c the counts, N(h) the number of distinct tokens seen after h, and h' the context h without its
oldest token; a context never seen in training (c(h) = 0) falls back to P(w | h'). With
`kneser_ney=True` the lower orders count how many distinct tokens precede an n-gram instead of how
often it occurs (interpolated Kneser-Ney). Order 1 is the unigram model, order 2 the bigram model.

    model = NGramModel(order=5, vocab_size=V).fit(train_tokens)
    model.cross_entropy(val_tokens)   # nats per token
"""

from __future__ import annotations

import numpy as np

from tinytorch.data import train_val_split


def _codes(tokens: np.ndarray, length: int, base: int) -> np.ndarray:
    """The n-gram of `length` tokens ending at each position i >= length - 1, as one integer: (len - length + 1,)."""
    count = len(tokens) - length + 1
    code = np.zeros(max(count, 0), dtype=np.int64)
    for offset in range(length):  # oldest token first, so code // base drops the newest token
        code = code * base + tokens[offset : offset + count]
    return code


class _Counts:
    """For one order: sorted n-gram codes with their (possibly Kneser-Ney) counts, and per context c(h) and N(h)."""

    def __init__(self, grams: np.ndarray, counts: np.ndarray, base: int) -> None:
        self.grams, self.counts = grams, counts  # (G,), sorted
        self.contexts, starts = np.unique(grams // base, return_index=True)  # (H,)
        self.totals = np.add.reduceat(counts, starts) if len(grams) else counts  # c(h), (H,)
        self.types = np.diff(np.append(starts, len(grams)))  # N(h): distinct next tokens, (H,)

    @staticmethod
    def lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
        """values[j] where table[j] == key, else 0, for every key (table sorted)."""
        if len(table) == 0:
            return np.zeros(len(keys), dtype=np.int64)
        index = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return np.where(table[index] == keys, values[index], 0)


class NGramModel:
    """An interpolated n-gram model of integer tokens in [0, vocab_size): `fit(tokens)`, then score any tokens."""

    def __init__(self, order: int, vocab_size: int, discount: float = 0.9, kneser_ney: bool = False) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1 (1 is the unigram model), got {order}")
        if vocab_size < 1 or float(vocab_size) ** order >= 2.0**62:
            raise ValueError(f"vocab_size={vocab_size} must be positive, with vocab_size ** order below 2 ** 62")
        if not 0 < discount < 1:
            raise ValueError(f"discount must be between 0 and 1, got {discount}")
        self.order, self.vocab_size, self.discount, self.kneser_ney = order, vocab_size, discount, kneser_ney
        self.tables: list[_Counts] = []  # one per length 1..order

    def _check(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            raise ValueError(f"tokens must be a 1-D integer array, got shape {tokens.shape} and dtype {tokens.dtype}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"tokens range from {tokens.min()} to {tokens.max()}, expected 0 to {self.vocab_size - 1}")
        return tokens.astype(np.int64)

    def fit(self, tokens: np.ndarray) -> NGramModel:
        """Count every n-gram of length 1..order in `tokens` (1-D ints); returns self."""
        tokens, base = self._check(tokens), self.vocab_size
        if len(tokens) < self.order:
            raise ValueError(f"need at least order={self.order} tokens to fit, got {len(tokens)}")
        grams = [np.unique(_codes(tokens, n, base), return_counts=True) for n in range(1, self.order + 1)]
        if self.kneser_ney:  # lower orders: in how many distinct contexts does the n-gram occur (one token longer)
            for n in range(1, self.order):
                longer = grams[n][0]  # distinct (n + 1)-grams
                grams[n - 1] = np.unique(longer % base**n, return_counts=True)
        self.tables = [_Counts(g, c, base) for g, c in grams]
        return self

    def log_probs(self, tokens: np.ndarray, start: int = 0) -> np.ndarray:
        """log P(tokens[i] | up to order - 1 tokens before it) for i = start .. len - 1 (natural log), float64.

        The context of tokens[i] may reach back before `start` (e.g. into the training text before a split).
        """
        if not self.tables:
            raise RuntimeError("NGramModel has no counts yet: call fit(tokens) before scoring")
        tokens, base, D = self._check(tokens), self.vocab_size, self.discount
        positions = np.arange(start, len(tokens))
        prob = np.full(len(positions), 1 / base)  # below the unigram: uniform
        for n, table in enumerate(self.tables, start=1):
            usable = positions >= n - 1  # positions that have n - 1 tokens of context
            grams = np.zeros(len(positions), dtype=np.int64)
            grams[usable] = _codes(tokens, n, base)[positions[usable] - (n - 1)]
            contexts = grams // base
            total = _Counts.lookup(contexts, table.contexts, table.totals)
            types = _Counts.lookup(contexts, table.contexts, table.types)
            count = _Counts.lookup(grams, table.grams, table.counts)
            seen = usable & (total > 0)
            smoothed = (np.maximum(count - D, 0) + D * types * prob) / np.maximum(total, 1)
            prob = np.where(seen, smoothed, prob)
        return np.log(prob)

    def cross_entropy(self, tokens: np.ndarray, start: int = 0) -> float:
        """Mean -log P in nats per token over tokens[start:] (see `log_probs`)."""
        return float(-self.log_probs(tokens, start).mean())


def split_cross_entropy(tokens: np.ndarray, vocab_size: int, order: int, val_fraction: float = 0.1,
                        discount: float = 0.9, kneser_ney: bool = False) -> float:
    """Fit on the first (1 - val_fraction) of `tokens`, score the rest (contexts may reach into the training part).

    Nats per token on the same split as `tinytorch.data.train_val_split`.
    """
    tokens = np.asarray(tokens)
    cut = len(train_val_split(tokens, val_fraction)[0])
    model = NGramModel(order, vocab_size, discount, kneser_ney).fit(tokens[:cut])
    return model.cross_entropy(tokens, start=cut)
