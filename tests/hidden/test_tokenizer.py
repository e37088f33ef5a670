"""Hidden tests for CharTokenizer.

Every test names the sentence of docs/API.md it checks (`Contract:` in its docstring). A check of an
error counts only when the same tokenizer also encodes a valid text correctly.
"""

import pytest

from tests.hidden._checks import expect, expect_equal, expect_raised

TEXT = "the quick brown fox, jumped!\n"
VOCABULARY = sorted(set(TEXT))  # ['\n', ' ', '!', ',', 'b', 'c', 'd', 'e', 'f', 'h', 'i', 'j', ...]
REQUEST = {
    "text": TEXT,
    "sample": "brown the fox",
    "ids": [VOCABULARY.index(ch) for ch in "quiet"],
    "unknown_sample": "quiz@",  # 'z' at position 3 is not in TEXT
    "unk_token": "?",
}
SAMPLE_IDS = [VOCABULARY.index(ch) for ch in REQUEST["sample"]]


def _encodes_correctly(ids, what: str) -> None:
    expect_equal(ids, SAMPLE_IDS, f"encode({REQUEST['sample']!r}) {what}")


@pytest.mark.weight(2)
def test_vocabulary_is_the_sorted_set_of_characters(student):
    """Contract: `fit(text) -> self` builds the vocabulary from the sorted set of characters (plus `unk_token`, if
    given, sorted in with the rest); `vocab_size`"""
    vocabulary = student["vocabulary"]
    expect_equal(vocabulary["itos"], VOCABULARY, "itos after fit(text)")
    expect_equal(vocabulary["stoi"], {ch: i for i, ch in enumerate(VOCABULARY)}, "stoi after fit(text)")
    expect_equal(vocabulary["vocab_size"], len(VOCABULARY), "vocab_size after fit(text)")


@pytest.mark.weight(2)
def test_encode_gives_the_ids_of_the_sorted_vocabulary(student):
    """Contract: `encode(text) -> list[int]`"""
    _encodes_correctly(student["encode_decode"]["ids"], "")


def test_encode_returns_a_list_and_the_vocabulary_is_a_dict_and_a_list(student):
    """Contract: `stoi` dict, `itos` list; `encode(text) -> list[int]`"""
    result = student["kinds"]
    _encodes_correctly(result["ids"], "(the types are checked on a tokenizer that encodes correctly)")
    for name, expected in (("itos", "list"), ("stoi", "dict"), ("encode", "list"), ("decode", "str")):
        is_expected, found = result["kinds"][name]
        what = f"{name}(...) returned" if name in ("encode", "decode") else f"tokenizer.{name} is"
        expect(is_expected is True, f"{what} a {found}; the API says a {expected}")


@pytest.mark.weight(2)
def test_decode_inverts_encode_for_lists_and_integer_arrays(student):
    """Contract: `decode(ids) -> str` with ids a list or a 1-D integer NumPy array"""
    result = student["encode_decode"]
    _encodes_correctly(result["ids"], "(decode is checked on a tokenizer that encodes correctly)")
    expect_equal(result["decoded"], REQUEST["sample"], f"decode(encode({REQUEST['sample']!r}))")
    expect_equal(result["decoded_given"], "quiet", f"decode({REQUEST['ids']})")
    expect_equal(result["decoded_array"], "quiet", f"decode(np.array({REQUEST['ids']})) (a 1-D int64 array)")


def test_fit_returns_the_tokenizer(student):
    """Contract: `CharTokenizer(unk_token=None)`; `fit(text) -> self`"""
    expect_equal(student["vocabulary"]["itos"], VOCABULARY, "itos after fit(text) (fit is checked on a tokenizer "
                 "that builds its vocabulary)")
    expect(student["fit_returns_self"] is True, "fit(text) should return the tokenizer itself (return self)")


def test_unknown_character_raises_value_error_naming_it_and_its_position(student):
    """Contract: An unknown character raises `ValueError` naming the character and its position"""
    result = student["unknown_character"]
    _encodes_correctly(result["valid_ids"], "by the tokenizer that raised (raising counts only if it also works)")
    expect_raised(result, "ValueError", f"encode({REQUEST['unknown_sample']!r})", mentions=("z", "3"))


def test_unk_token_is_sorted_in_and_replaces_unknown_characters(student):
    """Contract: unless `unk_token` was given (then it maps to that id)"""
    result = student["with_unk_token"]
    vocabulary = sorted(set(TEXT) | {"?"})
    expect_equal(result["itos"], vocabulary, "itos of CharTokenizer(unk_token='?') after fit(text)")
    expect_equal(result["vocab_size"], len(vocabulary), "vocab_size with unk_token='?'")
    expected = [vocabulary.index(ch) for ch in "qui"] + [vocabulary.index("?")] * 2
    expect_equal(result["ids"], expected, f"encode({REQUEST['unknown_sample']!r}) with unk_token='?'")


def test_encode_before_fit_raises_runtime_error(student):
    """Contract: `encode` before `fit` raises `RuntimeError`."""
    result = student["encode_before_fit"]
    _encodes_correctly(result["valid_ids"], "by the same tokenizer once fitted (raising counts only if it also works)")
    expect_raised(result, "RuntimeError", "encode(...) on a tokenizer that was never fitted")

