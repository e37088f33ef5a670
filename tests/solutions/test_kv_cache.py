"""The key/value-cached generation path writes exactly what the plain one writes."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from solutions.tinygpt import CharTokenizer, KVCache, TinyGPT, generate, generate_cached

TEXT = "the cat sat on the mat; a dog ran.\n"


@pytest.fixture(scope="module")
def small() -> tuple[TinyGPT, CharTokenizer]:
    tt.manual_seed(3)
    tokenizer = CharTokenizer().fit(TEXT)
    return TinyGPT(tokenizer.vocab_size, d_model=16, num_heads=4, num_layers=2, max_len=10), tokenizer


@pytest.mark.parametrize("settings", [
    dict(temperature=0.0),
    dict(temperature=1.0, seed=0),
    dict(temperature=0.7, top_k=3, seed=11),
    dict(temperature=1.5, seed=42),
])
@pytest.mark.parametrize("prompt", ["t", "the cat", "the cat sat on"])  # short, near max_len=10, beyond it
def test_same_text_as_generate(small, settings: dict, prompt: str) -> None:
    model, tokenizer = small
    expected = generate(model, tokenizer, prompt, 25, **settings)
    assert generate_cached(model, tokenizer, prompt, 25, **settings) == expected


def test_cached_logits_match_a_full_forward(small) -> None:
    """Feeding a prompt in pieces through the cache gives the logits of the full forward at each position."""
    model, tokenizer = small
    ids = tokenizer.encode("a dog ran.")  # 10 = max_len tokens
    with tt.no_grad():
        full = model.eval()(np.array([ids])).data[0]  # (T, V)
        cache = KVCache(model)
        pieces = [ids[:4], ids[4:5], ids[5:9], ids[9:]]
        last_logits = [cache.append(piece) for piece in pieces]
    ends = np.cumsum([len(piece) for piece in pieces]) - 1
    np.testing.assert_allclose(np.stack(last_logits), full[ends], atol=1e-5)
    assert cache.length == 10
    with pytest.raises(ValueError, match="max_len"):
        cache.append(ids[:1])


def test_zero_new_tokens_and_empty_prompt(small) -> None:
    model, tokenizer = small
    assert generate_cached(model, tokenizer, "cat", 0) == "cat"
    with pytest.raises(ValueError, match="at least one character"):
        generate_cached(model, tokenizer, "", 5)
