"""Every hidden test names the contract sentence it checks, that sentence is in what students receive, and every
name the contract gives a component (in backticks) is named by a sentence one of its hidden tests checks.

The contract is the assignment section of docs/API.md (shipped verbatim in the hand-out). A hidden test
names its sentence on a docstring line `Contract: ...` (continued on the following lines until the
docstring ends); whitespace is compared loosely, the words exactly.
"""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HIDDEN = sorted((REPO / "tests" / "hidden").glob("test_*.py"))
API = REPO / "docs" / "API.md"
ASSIGNMENT_HEADING = "## The TinyGPT assignment"


def _loose(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def contract_of(function: ast.FunctionDef) -> str | None:
    """The sentence after `Contract:` in a test's docstring, or None."""
    docstring = ast.get_docstring(function) or ""
    _, found, sentence = docstring.partition("Contract:")
    return _loose(sentence) if found else None


def hidden_tests() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in HIDDEN:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [(f"{path.stem}::{node.name}", node) for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    return found


def student_contract() -> str:
    text = API.read_text(encoding="utf-8")
    assert ASSIGNMENT_HEADING in text, f"{API}: no section '{ASSIGNMENT_HEADING}'"
    return _loose(text[text.index(ASSIGNMENT_HEADING):])


TESTS = hidden_tests()
ROW = re.compile(r"^\| `(\w+)` \| \d+ \| (.*) \|$", flags=re.MULTILINE)  # | `id` | points | contract |


def contract_rows() -> dict[str, str]:
    """Component id -> its contract, from the assignment table of docs/API.md."""
    return {match.group(1): match.group(2) for match in ROW.finditer(API.read_text(encoding="utf-8"))}


def test_the_hidden_suites_were_found():
    assert len(HIDDEN) >= 12 and len(TESTS) >= 60, f"found {len(HIDDEN)} suites and {len(TESTS)} tests"


@pytest.mark.parametrize("name,function", TESTS, ids=[name for name, _ in TESTS])
def test_hidden_test_names_a_sentence_of_the_student_contract(name, function):
    sentence = contract_of(function)
    assert sentence, f"{name}: its docstring has no line 'Contract: <the sentence of docs/API.md it checks>'"
    assert sentence in student_contract(), (
        f"{name}: its contract sentence is not in the assignment section of docs/API.md: {sentence!r}")


def test_the_contract_table_was_found():
    assert len(contract_rows()) == 12, f"found the rows {sorted(contract_rows())}"


@pytest.mark.parametrize("component,row", contract_rows().items(), ids=list(contract_rows()))
def test_every_name_of_a_components_contract_is_checked_by_its_hidden_tests(component, row):
    checked = " ".join(_loose(contract_of(function) or "") for name, function in TESTS
                       if name.split("::")[0] == f"test_{component}")
    unchecked = sorted({name for name in re.findall(r"`[^`]+`", _loose(row)) if name not in checked})
    assert not unchecked, (f"{component}: no hidden test in tests/hidden/test_{component}.py names a contract "
                           f"sentence with {unchecked}")


def test_a_missing_or_changed_sentence_is_caught():
    tree = ast.parse('def test_a():\n    """Checks."""\n\n\ndef test_b():\n    """Contract: pe is a float16 array"""\n')
    first, second = tree.body
    assert contract_of(first) is None and contract_of(second) == "pe is a float16 array"
    assert contract_of(second) not in student_contract()
