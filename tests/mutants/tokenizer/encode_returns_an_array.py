"""CharTokenizer.encode returns a NumPy array of ids, not the list[int] the API names (right ids)."""

import numpy as np

BREAKS = ("tokenizer",)


class CharTokenizer:
    def __init__(self, unk_token=None):
        self.unk_token = unk_token
        self.stoi, self.itos = {}, []

    def fit(self, text):
        self.itos = sorted(set(text) | ({self.unk_token} if self.unk_token is not None else set()))
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}
        return self

    @property
    def vocab_size(self):
        return len(self.itos)

    def encode(self, text):
        if not self.stoi:
            raise RuntimeError("call fit(text) before encode()")
        ids = []
        for position, ch in enumerate(text):
            if ch in self.stoi:
                ids.append(self.stoi[ch])
            elif self.unk_token is not None:
                ids.append(self.stoi[self.unk_token])
            else:
                raise ValueError(f"unknown character {ch!r} at position {position}")
        return np.array(ids, dtype=np.int64)

    def decode(self, ids):
        return "".join(self.itos[int(i)] for i in ids)
