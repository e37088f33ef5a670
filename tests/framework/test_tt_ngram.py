"""The n-gram baselines, against a plain-Python dictionary version of the same formulas."""

from collections import Counter

import numpy as np
import pytest

from tinytorch.ngram import NGramModel, split_cross_entropy


def reference_probability(train: list[int], context: tuple[int, ...], word: int, order: int, vocab: int,
                          discount: float, kneser_ney: bool) -> float:
    """P(word | context) by the module docstring's recursion, from Counters (slow and obvious)."""
    prob = 1 / vocab
    for n in range(1, order + 1):
        if len(context) < n - 1:
            break
        history = context[len(context) - (n - 1):] if n > 1 else ()
        grams = Counter(tuple(train[i : i + n]) for i in range(len(train) - n + 1))
        if kneser_ney and n < order:  # distinct tokens seen before each n-gram
            grams = Counter(gram[1:] for gram in {tuple(train[i : i + n + 1]) for i in range(len(train) - n)})
        following = {gram: c for gram, c in grams.items() if gram[:-1] == history}
        total = sum(following.values())
        if total == 0:
            continue
        count = following.get(history + (word,), 0)
        prob = (max(count - discount, 0) + discount * len(following) * prob) / total
    return prob


@pytest.mark.parametrize("kneser_ney", [False, True])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_log_probs_match_the_dictionary_version(order, kneser_ney):
    rng = np.random.default_rng(order)
    vocab = 5
    train = rng.integers(0, 3, 200).tolist() + [3]  # token 4 never occurs in training, token 3 once
    text = rng.integers(0, vocab, 40)
    model = NGramModel(order, vocab, discount=0.7, kneser_ney=kneser_ney).fit(np.array(train))
    got = np.exp(model.log_probs(text, start=5))
    expected = [reference_probability(train, tuple(text[max(0, i - order + 1) : i]), text[i], order, vocab, 0.7,
                                      kneser_ney) for i in range(5, len(text))]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("kneser_ney", [False, True])
def test_probabilities_sum_to_one_over_the_vocabulary(kneser_ney):
    rng = np.random.default_rng(0)
    vocab = 6
    model = NGramModel(3, vocab, kneser_ney=kneser_ney).fit(rng.integers(0, 4, 300))
    for context in ([0, 1], [3, 3], [5, 5], [2, 4]):  # seen, seen, unseen tokens, half seen
        probs = [np.exp(model.log_probs(np.array(context + [w]), start=2)[0]) for w in range(vocab)]
        assert sum(probs) == pytest.approx(1.0, abs=1e-12)
        assert min(probs) > 0


def test_unigram_of_a_uniform_stream_scores_log_vocab_and_context_helps():
    tokens = np.tile(np.arange(4), 500)  # 0 1 2 3 0 1 2 3 ...: the unigram knows nothing, a bigram everything
    assert split_cross_entropy(tokens, 4, order=1) == pytest.approx(np.log(4), abs=1e-3)
    assert split_cross_entropy(tokens, 4, order=2) < 0.01


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="order must be at least 1"):
        NGramModel(0, 10)
    with pytest.raises(ValueError, match="discount must be between 0 and 1"):
        NGramModel(2, 10, discount=1.0)
    with pytest.raises(ValueError, match="expected 0 to 9"):
        NGramModel(2, 10).fit(np.array([0, 10, 3]))
    with pytest.raises(ValueError, match="1-D integer"):
        NGramModel(2, 10).fit(np.zeros(5))
    with pytest.raises(RuntimeError, match="call fit"):
        NGramModel(2, 10).log_probs(np.array([1, 2]))
