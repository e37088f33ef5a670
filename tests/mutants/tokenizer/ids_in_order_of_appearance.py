"""CharTokenizer numbers characters in order of first appearance instead of sorted order."""

BREAKS = ("tokenizer",)


class CharTokenizer:
    def __init__(self, unk_token=None):
        self.unk_token = unk_token
        self.stoi = None
        self.itos = None

    def fit(self, text):
        chars = list(dict.fromkeys(text))
        if self.unk_token is not None and self.unk_token not in chars:
            chars.append(self.unk_token)
        self.itos = chars
        self.stoi = {ch: i for i, ch in enumerate(chars)}
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
        return "".join(self.itos[int(i)] for i in ids)
