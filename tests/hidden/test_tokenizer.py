"""Hidden tests for CharTokenizer."""

import pytest

from tests.hidden._checks import expect, expect_equal, expect_raised

TEXT = "hello world, hi there!\n"
VOCABULARY = sorted(set(TEXT))  # ['\n', ' ', '!', ',', 'd', 'e', 'h', 'i', 'l', 'o', 'r', 't', 'w']
REQUEST = {
    "text": TEXT,
    "sample": "hello there",
    "ids": [6, 5, 8, 8, 9],  # "hello"
    "unknown_sample": "held@",  # '@' at position 4 is not in TEXT
    "unk_token": "?",
}


@pytest.mark.weight(2)
def test_vocabulary_is_the_sorted_set_of_characters(student):
    vocabulary = student["vocabulary"]
    expect_equal(vocabulary["itos"], VOCABULARY, "itos after fit(text)")
    expect_equal(vocabulary["stoi"], {ch: i for i, ch in enumerate(VOCABULARY)}, "stoi after fit(text)")
    expect_equal(vocabulary["vocab_size"], len(VOCABULARY), "vocab_size after fit(text)")


@pytest.mark.weight(2)
def test_encode_gives_the_ids_of_the_sorted_vocabulary(student):
    expected = [VOCABULARY.index(ch) for ch in REQUEST["sample"]]
    expect_equal(student["encode_decode"]["ids"], expected, f"encode({REQUEST['sample']!r})")


@pytest.mark.weight(2)
def test_decode_inverts_encode(student):
    result = student["encode_decode"]
    expect_equal(result["decoded"], REQUEST["sample"], f"decode(encode({REQUEST['sample']!r}))")
    expect_equal(result["decoded_given"], "hello", f"decode({REQUEST['ids']})")


def test_fit_returns_the_tokenizer(student):
    expect(student["fit_returns_self"] is True, "fit(text) should return the tokenizer itself (return self)")


def test_unknown_character_raises_value_error_naming_it_and_its_position(student):
    expect_raised(student["unknown_character"], "ValueError", f"encode({REQUEST['unknown_sample']!r})",
                  mentions=("@", "4"))


def test_unk_token_is_sorted_in_and_replaces_unknown_characters(student):
    result = student["with_unk_token"]
    vocabulary = sorted(set(TEXT) | {"?"})
    expect_equal(result["itos"], vocabulary, "itos of CharTokenizer(unk_token='?') after fit(text)")
    expect_equal(result["vocab_size"], len(vocabulary), "vocab_size with unk_token='?'")
    expected = [vocabulary.index(ch) for ch in "held"] + [vocabulary.index("?")]
    expect_equal(result["ids"], expected, f"encode({REQUEST['unknown_sample']!r}) with unk_token='?'")


def test_encode_before_fit_raises_runtime_error(student):
    expect_raised(student["encode_before_fit"], "RuntimeError", "encode(...) on a tokenizer that was never fitted")
