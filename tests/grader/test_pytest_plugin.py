"""What a student reads about a failed hidden test: the message only, never test code or a traceback."""

import pytest

from course.grading.pytest_plugin import student_message


def failure(raise_it) -> BaseException:
    try:
        raise_it()
    except BaseException as error:  # pytest.fail raises an exception outside Exception
        return error
    raise AssertionError("expected an exception")


def test_pytest_fail_gives_its_message():
    error = failure(lambda: pytest.fail("expected 3, got 4", pytrace=False))
    assert student_message(error) == "expected 3, got 4"


def test_assertion_message_loses_pytests_rewritten_explanation():
    assert student_message(AssertionError("expected [[True]]\nassert False\n +  where False = eq(x, y)")) == \
        "expected [[True]]"
    assert student_message(AssertionError("assert secret_expected == 4")) == "this check failed"
    assert student_message(AssertionError()) == "this check failed"


def test_an_error_in_the_test_is_named_without_a_traceback():
    assert student_message(KeyError("mask_0")) == "the check could not be completed: KeyError: 'mask_0'"
