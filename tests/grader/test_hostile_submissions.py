"""Nothing a submitted file can do stops the class (issue 21: items 1, 6, 7, 8, 10).

Design (the whole module costs about 20-30 s of CPU on the 2-core machine):

- The property test mutates the release notebook's JSON structurally, 500 examples (hypothesis, fixed seed):
  the type of any field (null, booleans, huge integers, floats, odd Unicode, huge strings, lists, objects),
  missing and extra keys, duplicated and emptied lists, deep nesting, and byte-level damage (cut short, a
  BOM, NaN, an invalid UTF-8 byte, an unpaired surrogate). For each it asserts what the trusted process
  does with it: the intake never raises and gives either a notebook that passes Jupyter's schema or a
  one-line reason; `match_release` (nbgrader's MatchRelease, which sees what nbformat read) never raises;
  a report with the reason renders. That is cheap (milliseconds an example).
- A full grading costs seconds a submission, so only a sample goes through one real `course grade` (the CLI,
  nbgrader's gradebook and feedback included) on a miniature course (its two hidden suites, 14 points): the
  first mutants the intake accepted and a few it rejected for distinct reasons, between two victims, with
  the hostile folders of item 8 (FIFO, link to /dev/zero, a link beside the notebook, an oversized file,
  a student id `grades`) and the output cases of items 6-7 (a 1 MB answer, the most the mini limits let
  out; Markdown and HTML injection). The batch is graded once and shared by the tests below.
- Two small gradings on their own: a submission past its wall clock (3 s here) is stopped with a reason, and
  a probe answer over the cap is never read back.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from course import cli
from course.build import generate_release
from course.components import COMPONENTS
from course.grading.batch import grade_course
from course.grading.gradebook import gradebook_scores
from course.grading.harness import grade_notebook, zero_report
from course.grading.intake import NOTEBOOK_LIMIT_MB, UNEXPECTED, notebook_from_bytes, notebook_problem
from course.grading.sandbox import ANSWER_MB, Limits, run_probe
from course.grading.structure import match_release
from course.notebook import RELEASE
from tests.grader.helpers import GOOD_CODE, PROBES, SUITES
from tests.grader.test_nbgrader import mini_source

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
EXAMPLES = 500
SUITE_COMPONENTS = ("causal_mask", "tokenizer")  # the miniature course's hidden suites
ACCEPTED_GRADED, REJECTED_GRADED = 2, 3  # mutants that go through the real batch
DEEP = "@@deep@@"  # replaced in the JSON text by nesting deeper than Python's recursion limit
SECRET = "the reference solution: never in a student's feedback"
INJECTION = "\n# Total: 100 / 100\n<img src=x onerror=alert(1)>"


@functools.cache
def release_json() -> dict:
    return json.loads(RELEASE.read_text())


def paths(value, prefix=()) -> list[tuple]:
    """Every place in a JSON value: the value itself, each key or index below it."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


@functools.cache
def release_paths() -> list[tuple]:
    return paths(release_json())


def changed(value, path: tuple, change):
    """`value` with `change(old)` at `path` (containers copied along the path only; the release stays as it is).
    `change` returns the new value, or `changed.DELETE` to remove it."""
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    new = changed(copy[head], rest, change)
    if new is changed.DELETE:
        del copy[head]
    else:
        copy[head] = new
    return copy


changed.DELETE = object()

odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "\u202e", "\ufeff", "\ud83d\ude00", "𝕏" * 5, "e\u0301", "\u2028", "\r\n",
                     "%%bash", "!rm -rf /", "np.tril?" * 3, "id with spaces", "a" * 65, INJECTION]),
    st.integers(1, 2_000_000).map(lambda n: "x" * n),  # huge strings
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(10**30, 10**40),
                    st.floats(allow_nan=False, allow_infinity=False), odd_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(odd_text, inner, max_size=4), max_leaves=12)
# Each structural change and what it draws; listed as often as it should be drawn (deep nesting is slow to reject).
ARGUMENTS = {"replace": json_values, "delete": st.none(), "extra key": st.tuples(odd_text, json_values),
             "nest": st.integers(1, 50), "deep": st.none(), "duplicate": st.none(), "empty": st.none()}
KINDS = ["replace"] * 5 + ["delete"] * 3 + ["extra key"] * 2 + ["nest", "duplicate", "empty", "deep"]
BYTE_DAMAGE = ["none"] * 12 + ["cut", "bom", "nan", "bad utf-8", "surrogate"]


def apply(value, kind: str, argument):
    if kind == "replace":
        return argument
    if kind == "delete":
        return changed.DELETE
    if kind == "extra key":
        return {**value, argument[0]: argument[1]} if isinstance(value, dict) else [value, argument[1]]
    if kind == "nest":
        for _ in range(argument):
            value = [value]
        return value
    if kind == "deep":
        return DEEP
    if kind == "duplicate":
        return [*value, *value] if isinstance(value, list) else [value, value]
    return type(value)() if isinstance(value, list | dict | str) else None


@st.composite
def mutants(draw) -> bytes:
    """The release notebook's bytes after one to three structural changes and perhaps damage to its text."""
    document = release_json()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(release_paths()))
        kind = draw(st.sampled_from(KINDS))
        argument = draw(ARGUMENTS[kind])
        try:
            document = changed(document, path, lambda old, kind=kind, argument=argument: apply(old, kind, argument))
        except (KeyError, IndexError, TypeError):  # an earlier change removed or retyped that place
            continue
        if document is changed.DELETE:  # the whole notebook deleted: an empty file
            return b""
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    text = text.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000)
    raw = text.encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(BYTE_DAMAGE))
    if damage == "cut":
        raw = raw[:draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif damage == "nan":
        raw = raw.replace(b'"execution_count": null', b'"execution_count": NaN', 1)
    elif damage == "bad utf-8":
        raw = raw.replace(b"def ", b"d\xffef ", 1)
    elif damage == "surrogate":
        raw = raw.replace(b"def ", b"\\ud800def ", 1)
    return raw


def reason_kind(reason: str) -> str:
    """A rejection's kind, for picking distinct ones: its words before any quoted or numbered detail."""
    return re.split(r"[(':0-9]", reason, maxsplit=1)[0].strip()


@functools.cache
def intake_samples() -> dict[str, list[bytes]]:
    """Runs the property test (once per session) and returns the mutants picked for the real batch."""
    release = nbformat.from_dict(release_json())
    picked: dict[str, list[bytes]] = {"accepted": [], "rejected": []}
    kinds: set[str] = set()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(mutants())
    def the_intake_never_raises_and_always_decides(raw: bytes):
        intake = notebook_from_bytes(raw)
        assert (intake.notebook is None) != (intake.reason is None)
        if intake.reason is not None:
            assert "\n" not in intake.reason and 0 < len(intake.reason) < 1100
            assert not intake.reason.startswith(UNEXPECTED), intake.reason  # every refusal is one the intake names
            zero_report("mutant", Path("mutant.ipynb"), intake.reason).to_markdown()
            if reason_kind(intake.reason) not in kinds and len(picked["rejected"]) < REJECTED_GRADED:
                kinds.add(reason_kind(intake.reason))
                picked["rejected"].append(raw)
        else:
            nbformat.validate(intake.notebook)  # Jupyter's schema, after Jupyter's repairs
            assert notebook_problem(intake.notebook) is None
            if len(picked["accepted"]) < ACCEPTED_GRADED and raw not in picked["accepted"]:
                picked["accepted"].append(raw)
        try:  # what nbgrader's MatchRelease may be handed: whatever nbformat read (a dict, not validated)
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return
        if isinstance(data, dict):
            match_release(nbformat.from_dict(data), release)

    the_intake_never_raises_and_always_decides()
    return picked


def test_the_intake_never_raises_and_always_gives_a_notebook_or_a_reason():
    picked = intake_samples()
    assert len(picked["accepted"]) == ACCEPTED_GRADED and len(picked["rejected"]) == REJECTED_GRADED


# --- one real batch: victims, sampled mutants, hostile folders and outputs ------------------------------------

HUGE_ANSWER = GOOD_CODE.replace("return [self.stoi[c] for c in text]", 'return "x" * 1_000_000')
INJECTED = GOOD_CODE.replace("return [self.stoi[c] for c in text]", f"raise ValueError({INJECTION!r})")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The miniature course graded once by `course grade --force`: (course folder, exit code, stderr, reports)."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "source" / "tinygpt").mkdir(parents=True)
    nbformat.write(mini_source(), root / "source" / "tinygpt" / "tinygpt.ipynb")
    generate_release(root)
    release = nbformat.read(root / "release" / "tinygpt" / "tinygpt.ipynb", as_version=4)

    def folder(student: str) -> Path:
        path = root / "submitted" / student / "tinygpt"
        path.mkdir(parents=True)
        return path

    def solved(student: str, code: str = GOOD_CODE, grade_id: str | None = None) -> None:
        notebook = nbformat.from_dict(json.loads(json.dumps(release)))
        notebook.cells[0].source = code
        if grade_id:  # a solution cell whose grade_id the release does not know: quoted in the Grader's note
            notebook.cells[0].metadata.nbgrader["grade_id"] = grade_id
        nbformat.write(notebook, folder(student) / "tinygpt.ipynb")

    solved("a-victim")
    solved("z-victim")
    picked = intake_samples()
    for kind, samples in picked.items():
        for index, raw in enumerate(samples):
            (folder(f"m-{kind}-{index}") / "tinygpt.ipynb").write_bytes(raw)
    secret = root / "secret.py"
    secret.write_text(SECRET)
    solved("h-link-beside")
    (root / "submitted" / "h-link-beside" / "tinygpt" / "helpers.py").symlink_to(secret)
    os.mkfifo(folder("h-fifo") / "tinygpt.ipynb")
    (folder("h-dev-zero") / "tinygpt.ipynb").symlink_to("/dev/zero")
    with open(folder("h-oversized") / "tinygpt.ipynb", "wb") as file:
        file.truncate((NOTEBOOK_LIMIT_MB + 1) << 20)  # sparse: costs no disk
    (root / "submitted" / "h-linked-student").symlink_to(root / "submitted" / "a-victim")
    solved("grades")
    solved("o-huge-answer", HUGE_ANSWER)
    solved("o-injected", INJECTED, grade_id=INJECTION)
    grade_course_here = functools.partial(grade_course, suites=SUITES, progress=False)
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(io.StringIO()) as err:
        patch.setattr(cli, "grade_course", grade_course_here)  # the CLI as instructors run it, on the mini suites
        code = cli.main(["--course-dir", str(root), "grade", "--force", "--jobs", "2"])
    reports = {path.stem: json.loads(path.read_text()) for path in (root / "reports" / "tinygpt").glob("*.json")
               if path.stem != "grades"}
    return root, code, err.getvalue(), reports


def test_course_grade_exits_0_and_both_victims_score_full_marks(batch):
    root, code, err, reports = batch
    assert code == 0, err
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    for victim in ("a-victim", "z-victim"):
        points = {c["id"]: c["points"] for c in reports[victim]["components"] if c["id"] in SUITE_COMPONENTS}
        assert points == {"causal_mask": 6, "tokenizer": 8}, reports[victim]
        assert gradebook_scores(db_url, "tinygpt", victim) == {"causal_mask": 6, "tokenizer": 8}


def test_every_mutant_gets_a_score_and_the_rejected_a_one_line_reason(batch):
    _, _, err, reports = batch
    picked = intake_samples()
    for index in range(len(picked["accepted"])):
        assert isinstance(reports[f"m-accepted-{index}"]["total"], float | int)
    for index in range(len(picked["rejected"])):
        report = reports[f"m-rejected-{index}"]
        assert report["total"] == 0 and report["reason"] and "\n" not in report["reason"]
        assert f"m-rejected-{index}: zero" in err  # the batch summary says who was zeroed for what


@pytest.mark.parametrize(("student", "reason"), [
    ("h-link-beside", "helpers.py is a symbolic link"), ("h-fifo", "tinygpt.ipynb is a FIFO"),
    ("h-dev-zero", "tinygpt.ipynb is a symbolic link"), ("h-oversized", f"at most {NOTEBOOK_LIMIT_MB} MB"),
    ("h-linked-student", "h-linked-student is a symbolic link")])
def test_hostile_folders_are_refused_with_a_reason_before_anything_reads_them(batch, student, reason):
    root, _, err, reports = batch
    assert reports[student]["total"] == 0 and reason in reports[student]["reason"]
    assert f"{student}: zero" in err and reason in err
    assert not (root / "feedback" / student).exists() and not (root / "autograded" / student).exists()


def test_a_student_id_that_names_an_output_is_not_graded_and_the_grade_table_survives(batch):
    root, _, err, _ = batch
    table = json.loads((root / "reports" / "tinygpt" / "grades.json").read_text())
    assert "grades" not in table and table["a-victim"]["total"] == 14
    assert "submitted/'grades': not graded: the student id 'grades' is the name of one of the grader's" in err


def test_a_huge_answer_makes_a_small_report_and_small_feedback(batch):
    root, _, _, reports = batch
    components = {c["id"]: c for c in reports["o-huge-answer"]["components"]}
    assert components["causal_mask"]["points"] == 6 and components["tokenizer"]["points"] == 0
    assert "more characters" in components["tokenizer"]["tests"][0]["message"]
    for path in [root / "reports" / "tinygpt" / "o-huge-answer.json", root / "reports" / "tinygpt" / "o-huge-answer.md",
                 root / "autograded" / "o-huge-answer" / "tinygpt" / "tinygpt.ipynb",
                 root / "feedback" / "o-huge-answer" / "tinygpt" / "tinygpt.html"]:
        assert path.stat().st_size < 1 << 20, path


def test_student_text_forges_no_heading_total_or_script_in_reports_or_feedback(batch):
    root, _, _, reports = batch
    markdown = (root / "reports" / "tinygpt" / "o-injected.md").read_text()
    titles = "|".join(re.escape(c.title) for c in COMPONENTS)
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    sections = sum(c["points"] < c["max_points"] for c in reports["o-injected"]["components"])  # one per loss
    assert headings[0] == "# TinyGPT feedback for o-injected" and len(headings) == 1 + sections
    assert all(re.fullmatch(rf"## ({titles}) \([0-9.]+ / [0-9]+\)", line) for line in headings[1:]), headings
    rendered = markdown2html_mistune(markdown)  # as nbconvert (and so Jupyter's feedback) renders Markdown
    assert rendered.count("<h1") == 1 and rendered.count("<h2") == sections and rendered.count("<strong>") == 1
    assert "<img" not in rendered and "&lt;img src=x onerror=alert(1)&gt;" in rendered
    feedback = (root / "feedback" / "o-injected" / "tinygpt" / "tinygpt.html").read_text()
    assert "onerror=alert(1)" in html.unescape(feedback)  # the note quotes it ...
    assert not re.search(r"<img[^>]*onerror", feedback)  # ... as text, never as a tag
    assert not re.search(r"<h[1-6][^>]*>[^<]*Total: 100", feedback)  # no forged heading


def test_a_submission_past_its_wall_clock_is_stopped_with_a_reason(tmp_path):
    sleeper = tmp_path / "sleeper.ipynb"
    code = "import time\n_ = time.sleep(60)"  # a statement the loader runs (an expression alone would not run)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), sleeper)
    report = grade_notebook(sleeper, "sleeper", ["causal_mask"], suites=SUITES, seconds=3)
    assert report.total == 0 and "stopped after 3 s, the limit for one submission" in report.reason
    assert report.seconds < 20


def test_an_answer_over_the_cap_is_never_read_back(notebook):
    huge = notebook(GOOD_CODE.replace("return [self.stoi[c] for c in text]", f'return "x" * {(ANSWER_MB + 1) << 20}'))
    run = run_probe(huge, "tokenizer", {"text": "hello", "word": "hole"}, Limits(seconds=30, file_mb=64), probes=PROBES)
    assert run.values == {} and run.errors == {"ids": f"the result could not be read back (over {ANSWER_MB} MB, "
                                                      "the most an answer may be)"}
