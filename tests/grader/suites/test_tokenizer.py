import pytest

REQUEST = {"text": "hello", "word": "hole"}


@pytest.mark.weight(2)
def test_ids_follow_sorted_characters(student):
    if student["ids"] != [1, 3, 2, 0]:
        pytest.fail(f"expected [1, 3, 2, 0] (e h l o sorted), got {student['ids']}", pytrace=False)
