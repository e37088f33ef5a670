"""CharTokenizer gives ids starting at 1 (decode shifts back, so the round trip still works)."""

BREAKS = ("tokenizer",)


class CharTokenizer:
    def __init__(self, unk_token=None):
        self.unk_token = unk_token
        self.stoi = None
        self.itos = None

    def fit(self, text):
        chars = set(text) if self.unk_token is None else set(text) | {self.unk_token}
        self.itos = sorted(chars)
        self.stoi = {ch: i + 1 for i, ch in enumerate(self.itos)}
        return self

    @property
    def vocab_size(self):
        return len(self.itos)

    def encode(self, text):
        if self.stoi is None:
            raise RuntimeError("call fit(text) before encode")
        ids = []
        for position, ch in enumerate(text):
            if ch in self.stoi:
                ids.append(self.stoi[ch])
            elif self.unk_token is not None:
                ids.append(self.stoi[self.unk_token])
            else:
                raise ValueError(f"unknown character {ch!r} at position {position}")
        return ids

    def decode(self, ids):
        return "".join(self.itos[int(i) - 1] for i in ids)
