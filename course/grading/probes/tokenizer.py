"""Probe for CharTokenizer: vocabulary, encode/decode and its errors."""

from __future__ import annotations

from typing import Any

from .common import need, outcome


def _fitted(ns: dict, text: str, **options: Any) -> Any:
    return need(ns, "CharTokenizer")(**options).fit(text)


def fit_returns_self(ns: dict, request: dict) -> bool:
    tokenizer = need(ns, "CharTokenizer")()
    return tokenizer.fit(request["text"]) is tokenizer


def vocabulary(ns: dict, request: dict) -> dict[str, Any]:
    tokenizer = _fitted(ns, request["text"])
    return {
        "vocab_size": int(tokenizer.vocab_size),
        "itos": [str(ch) for ch in tokenizer.itos],
        "stoi": {str(ch): int(i) for ch, i in tokenizer.stoi.items()},
    }


def encode_decode(ns: dict, request: dict) -> dict[str, Any]:
    tokenizer = _fitted(ns, request["text"])
    ids = [int(i) for i in tokenizer.encode(request["sample"])]
    return {"ids": ids, "decoded": str(tokenizer.decode(ids)), "decoded_given": str(tokenizer.decode(request["ids"]))}


def unknown_character(ns: dict, request: dict) -> dict[str, Any]:
    tokenizer = _fitted(ns, request["text"])
    return outcome(lambda: tokenizer.encode(request["unknown_sample"]))


def with_unk_token(ns: dict, request: dict) -> dict[str, Any]:
    tokenizer = _fitted(ns, request["text"], unk_token=request["unk_token"])
    return {
        "itos": [str(ch) for ch in tokenizer.itos],
        "vocab_size": int(tokenizer.vocab_size),
        "ids": [int(i) for i in tokenizer.encode(request["unknown_sample"])],
    }


def encode_before_fit(ns: dict, request: dict) -> dict[str, Any]:
    tokenizer = need(ns, "CharTokenizer")()
    return outcome(lambda: tokenizer.encode(request["sample"]))


CASES = {
    "fit_returns_self": fit_returns_self,
    "vocabulary": vocabulary,
    "encode_decode": encode_decode,
    "unknown_character": unknown_character,
    "with_unk_token": with_unk_token,
    "encode_before_fit": encode_before_fit,
}
