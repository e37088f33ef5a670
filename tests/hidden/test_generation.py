"""Hidden tests for generate, driven with a scripted bigram model of known logits.

The scripted model and tokenizer live in course/grading/probes/generation.py; the model records each context
it is given and raises if a context is longer than its max_len. Every test names the sentence of
docs/API.md it checks (`Contract:` in its docstring); the minor checks count only when greedy decoding works.
"""

import numpy as np
import pytest

from tests.hidden._checks import expect, expect_close, expect_equal

CHARS = "abcdefgh"
V = len(CHARS)
rng = np.random.default_rng(91)
GREEDY_TABLE = rng.normal(size=(V, V))
GREEDY_TABLE[np.arange(V), (3 * np.arange(V) + 1) % V] += 5  # a clear argmax in every row
LOGITS = np.linspace(0, 3.5, V)  # every row the same: samples are independent draws from one distribution
FLAT = np.tile(LOGITS, (V, 1))
SAMPLES = 2000


def _config(table, prompt, new_tokens, max_len=16, **options):
    return {"chars": CHARS, "table": table, "max_len": max_len, "prompt": prompt, "max_new_tokens": new_tokens,
            **options}


REQUEST = {
    "greedy": _config(GREEDY_TABLE, "ab", 10, temperature=0.0),
    "cropped": _config(GREEDY_TABLE, "abcdefg", 6, max_len=4, temperature=0.0),
    "hot": _config(FLAT, "a", SAMPLES, temperature=2.0, seed=3),
    "top_k": _config(FLAT, "a", SAMPLES, temperature=1.0, top_k=3, seed=5),
    "seed_a": _config(np.zeros((V, V)), "a", 40, temperature=1.0, seed=7),
    "seed_a_again": _config(np.zeros((V, V)), "a", 40, temperature=1.0, seed=7),
    "seed_b": _config(np.zeros((V, V)), "a", 40, temperature=1.0, seed=8),
}


def greedy_text(prompt: str, new_tokens: int) -> str:
    ids = [CHARS.index(ch) for ch in prompt]
    for _ in range(new_tokens):
        ids.append(int(np.argmax(GREEDY_TABLE[ids[-1]])))
    return "".join(CHARS[i] for i in ids)


def softmax(logits):
    e = np.exp(logits - logits.max())
    return e / e.sum()


def frequencies(text: str) -> np.ndarray:
    return np.bincount([CHARS.index(ch) for ch in text], minlength=V) / len(text)


def _greedy_works(student) -> None:
    expect_equal(student["greedy"]["text"], greedy_text("ab", 10),
                 "generate(model, tokenizer, 'ab', 10, temperature=0) with a model of known logits")


@pytest.mark.weight(2)
def test_temperature_zero_is_greedy_argmax_decoding(student):
    """Contract: temperature 0 is greedy (argmax)"""
    _greedy_works(student)


def test_returns_the_prompt_and_exactly_max_new_tokens_characters(student):
    """Contract: `generate(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None, seed=None) ->
    str`: returns prompt + the new characters"""
    _greedy_works(student)
    text = student["hot"]["text"]
    expect(text.startswith("a") and len(text) == 1 + SAMPLES,
           f"generate(..., prompt='a', max_new_tokens={SAMPLES}) should return 'a' + {SAMPLES} characters, "
           f"got {len(text)} characters starting {text[:10]!r}")


@pytest.mark.weight(2)
def test_context_is_cropped_to_the_last_max_len_tokens(student):
    """Contract: Each step feeds the last `model.max_len` ids, takes the logits of the last position"""
    config = REQUEST["cropped"]
    expected_text = greedy_text(config["prompt"], config["max_new_tokens"])
    result = student["cropped"]
    expect_equal(result["text"], expected_text, "text for a 7-character prompt and a model with max_len 4")
    ids = [CHARS.index(ch) for ch in expected_text]
    start = len(config["prompt"])
    expected = [ids[max(0, n - 4):n] for n in range(start, start + config["max_new_tokens"])]
    expect_equal(result["contexts"], expected, "the contexts given to the model (the last max_len = 4 ids)")


@pytest.mark.weight(3)
def test_samples_follow_softmax_of_logits_over_temperature(student):
    """Contract: otherwise divides the logits by temperature, keeps only the `top_k` largest when given, and samples
    from the softmax with `np.random.default_rng(seed)`"""
    temperature = REQUEST["hot"]["temperature"]
    # 2000 draws: each frequency has a standard deviation below 0.012, so 0.05 is a generous bound,
    # and far below the gap to softmax(logits) (temperature ignored) or softmax(logits * temperature).
    expect_close(frequencies(student["hot"]["text"][1:]), softmax(LOGITS / temperature),
                 f"frequencies of {SAMPLES} sampled characters at temperature {temperature} "
                 f"(expected softmax(logits / {temperature}))", atol=0.05, rtol=0)


@pytest.mark.weight(2)
def test_top_k_samples_only_among_the_k_largest_logits(student):
    """Contract: keeps only the `top_k` largest when given"""
    observed = frequencies(student["top_k"]["text"][1:])
    outside = observed[:-3].sum()
    expect(outside == 0, f"with top_k=3 only 'f', 'g', 'h' may be sampled; {outside:.1%} of samples were others")
    expected = np.zeros(V)
    expected[-3:] = softmax(LOGITS[-3:])
    expect_close(observed, expected, "frequencies with top_k=3 (softmax over the 3 largest logits)", atol=0.05, rtol=0)


def test_same_seed_gives_the_same_text_and_other_seeds_differ(student):
    """Contract: Same seed, same text."""
    _greedy_works(student)
    first, again, other = (student[case]["text"] for case in ("seed_a", "seed_a_again", "seed_b"))
    expect_equal(again, first, "text generated twice with seed=7")
    expect(other != first, "seed=7 and seed=8 gave the same 40 sampled characters: is the seed used?")


def test_runs_in_eval_mode_without_tracking_gradients(student):
    """Contract: Runs under `no_grad()` in eval mode."""
    _greedy_works(student)
    modes = student["greedy"]["modes"]
    expect(len(modes) > 0 and all(not mode["training"] for mode in modes),
           "the model was in training mode while generating: call model.eval() first")
    expect(all(not mode["tracks_gradients"] for mode in modes),
           "generate built a gradient graph: run the model under tinytorch.no_grad()")
