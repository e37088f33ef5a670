"""Probe for CharTokenizer: vocabulary, encode/decode and its errors."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import need, outcome, type_name


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
    return {"ids": ids, "decoded": str(tokenizer.decode(ids)), "decoded_given": str(tokenizer.decode(request["ids"])),
            "decoded_array": str(tokenizer.decode(np.asarray(request["ids"], dtype=np.int64)))}


def kinds(ns: dict, request: dict) -> dict[str, Any]:
    """What fit keeps and encode/decode return: {name: [isinstance of the API's type, type name]}, and the ids."""
    tokenizer = _fitted(ns, request["text"])
    ids = tokenizer.encode(request["sample"])
    decoded = tokenizer.decode(request["ids"])
    found = {"itos": (tokenizer.itos, list), "stoi": (tokenizer.stoi, dict), "encode": (ids, list),
             "decode": (decoded, str)}
    return {"kinds": {name: [isinstance(value, kind), type_name(value)] for name, (value, kind) in found.items()},
            "ids": [int(i) for i in ids]}


def unknown_character(ns: dict, request: dict) -> dict[str, Any]:
    """The error on an unknown character, and what the same tokenizer makes of a valid text."""
    tokenizer = _fitted(ns, request["text"])
    return {**outcome(lambda: tokenizer.encode(request["unknown_sample"])),
            "valid_ids": [int(i) for i in tokenizer.encode(request["sample"])]}


def with_unk_token(ns: dict, request: dict) -> dict[str, Any]:
    tokenizer = _fitted(ns, request["text"], unk_token=request["unk_token"])
    return {
        "itos": [str(ch) for ch in tokenizer.itos],
        "vocab_size": int(tokenizer.vocab_size),
        "ids": [int(i) for i in tokenizer.encode(request["unknown_sample"])],
    }


def encode_before_fit(ns: dict, request: dict) -> dict[str, Any]:
    """The error of encode before fit, and what the same tokenizer encodes once fitted."""
    tokenizer = need(ns, "CharTokenizer")()
    result = outcome(lambda: tokenizer.encode(request["sample"]))
    tokenizer.fit(request["text"])
    return {**result, "valid_ids": [int(i) for i in tokenizer.encode(request["sample"])]}


CASES = {
    "fit_returns_self": fit_returns_self,
    "vocabulary": vocabulary,
    "encode_decode": encode_decode,
    "kinds": kinds,
    "unknown_character": unknown_character,
    "with_unk_token": with_unk_token,
    "encode_before_fit": encode_before_fit,
}
