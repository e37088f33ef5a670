"""A submission is data until proven a notebook: the one door through which the grader reads what students hand in.

Nothing of the trusted grading process reads a submitted file, folder name or notebook JSON except through here:

- `check_student_id`: a folder name under `submitted/` is a usable student id (a safe character set, not the
  name of one of the course's own outputs such as `reports/<assignment>/grades.json`);
- `check_folder`: the submission folder holds only folders and regular files of bounded size (no symbolic
  link, FIFO, device or socket: nbgrader copies the folder's files into autograded/ and feedback/);
- `read_file`: a file's bytes, opened without following a link and without blocking, refused unless fstat
  says it is a regular file within the size limit;
- `take_in`: the notebook JSON validated against Jupyter's schema (nbformat 4) after the repairs Jupyter
  itself makes (missing or duplicate cell ids, an old nbformat 4 minor version) and with nbgrader metadata
  of the types the release uses; anything else is refused. (Which nbgrader cells the notebook has, and
  where, is not a reason to refuse it: `course.grading.structure.match_release` restores the release's.)

Each refusal is one line for the student's feedback saying what was wrong and what was expected; the
student scores zero and the rest of the class is graded as usual. No input makes these functions raise.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import validator

from course.grading.report import OUTPUT_NAMES, one_line

NOTEBOOK_LIMIT_MB = 16  # the release is 0.1 MB; a notebook saved with every plot is a few MB
FOLDER_LIMIT_MB = 64  # everything in a submission folder (nbgrader copies it twice: autograded/, feedback/)
FOLDER_ENTRIES = 500  # files and folders in one submission folder
CELLS_LIMIT = 5000  # the release has under 100
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
CELL_TYPES = ("code", "markdown", "raw")
NBGRADER_TYPES = {"grade_id": (str,), "grade": (bool,), "solution": (bool,), "locked": (bool,), "task": (bool,),
                  "points": (int, float), "schema_version": (int,)}  # nbgrader's cell metadata, as the release has it
MB = 1 << 20
UNEXPECTED = "the grader could not read this notebook"  # a reason no check above gave (the tests look for it)


class Refused(ValueError):
    """A submitted file or folder the grader does not read; the message is the one-line reason."""


@dataclass
class Intake:
    """A submitted notebook taken in: the validated notebook, or the reason it was refused (never both)."""

    notebook: nbformat.NotebookNode | None = None
    reason: str | None = None
    sha256: str = ""  # of the bytes read


def check_student_id(student: str) -> str | None:
    """Why the folder name `student` cannot be a student id, or None."""
    if not STUDENT_ID.fullmatch(student):
        return (f"the folder name {one_line(repr(student), 120)} is not a usable student id; expected 1-100 letters, "
                "digits and . _ - @ + (starting with a letter or digit)")
    if student.casefold() in OUTPUT_NAMES:
        return f"the student id {student!r} is the name of one of the grader's own outputs; rename the folder"
    return None


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def check_folder(folder: Path) -> str | None:
    """Why the submission folder (e.g. `submitted/<student>/<assignment>`) is refused, or None: it and its parent
    must be real folders, and everything in it folders or regular files within the limits. Reads no file."""
    folder = Path(folder)
    for path in (folder.parent, folder):
        try:
            mode = os.lstat(path).st_mode
        except OSError as error:
            return f"{path.name}: cannot be read ({error.strerror})"
        if not stat.S_ISDIR(mode):
            return f"{path.name} is {_kind(mode)}; expected a folder"
    entries, total, todo = 0, 0, [folder]
    while todo:
        try:
            with os.scandir(todo.pop()) as listing:
                children = list(listing)
        except OSError as error:
            return f"a folder of the submission cannot be read ({error.strerror})"
        for child in children:
            entries += 1
            name = one_line(os.path.relpath(child.path, folder), 200)
            if entries > FOLDER_ENTRIES:
                return f"the submission holds more than {FOLDER_ENTRIES} files and folders; expected the notebook"
            try:
                info = child.stat(follow_symlinks=False)
            except OSError as error:
                return f"{name}: cannot be read ({error.strerror})"
            if stat.S_ISDIR(info.st_mode):
                todo.append(Path(child.path))
            elif not stat.S_ISREG(info.st_mode):
                return f"{name} is {_kind(info.st_mode)}; a submission may hold only folders and regular files"
            elif info.st_size > NOTEBOOK_LIMIT_MB * MB:
                return f"{name} is {info.st_size / MB:.0f} MB; at most {NOTEBOOK_LIMIT_MB} MB per file is accepted"
            total += info.st_size
    if total > FOLDER_LIMIT_MB * MB:
        return f"the submission's files add up to {total / MB:.0f} MB; at most {FOLDER_LIMIT_MB} MB is accepted"
    return None


def read_file(path: Path, limit_mb: int = NOTEBOOK_LIMIT_MB) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit_mb` MB (opened without following a
    symbolic link and without blocking on a FIFO); `Refused` says why not."""
    name = one_line(Path(path).name, 200)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        is_link = os.path.islink(path)
        raise Refused(f"{name} is a symbolic link; expected the notebook file itself" if is_link
                      else f"{name}: cannot be opened ({error.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{name} is {_kind(info.st_mode)}; expected a regular notebook file")
        limit = limit_mb * MB
        if info.st_size > limit:
            raise Refused(f"{name} is {info.st_size / MB:.0f} MB; at most {limit_mb} MB is accepted")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise Refused(f"{name} grew past {limit_mb} MB while being read; at most {limit_mb} MB is accepted")
        return b"".join(chunks)
    except OSError as error:
        raise Refused(f"{name}: cannot be read ({error.strerror})") from None
    finally:
        os.close(fd)


def _json_type(value) -> str:
    """The JSON name of a parsed value's type."""
    names = ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"), (int | float, "number"))
    return next((name for kind, name in names if isinstance(value, kind)), "null")


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _cell_problem(number: int, cell) -> str | None:
    """What is wrong with cell `number` (1-based) that Jupyter's schema or nbgrader would trip on, or None."""
    where = f"cell {number}"
    if not isinstance(cell, dict):
        return f"{where} is a JSON {_json_type(cell)}; expected an object"
    if cell.get("cell_type") not in CELL_TYPES:
        return f"{where} has cell_type {one_line(repr(cell.get('cell_type')), 60)}; expected one of {list(CELL_TYPES)}"
    source = cell.get("source")
    if not (isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)):
        return f"{where}: its source is not text; expected a string or a list of strings"
    if "id" in cell and not isinstance(cell["id"], str):
        return f"{where}: its id is a JSON {_json_type(cell['id'])}; expected a string"
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return f"{where}: its metadata is missing or not an object"
    nbgrader = metadata.get("nbgrader", {})
    if not isinstance(nbgrader, dict):
        return f"{where}: its nbgrader metadata is a JSON {_json_type(nbgrader)}; expected an object"
    for key, types in NBGRADER_TYPES.items():
        value = nbgrader.get(key)
        if key in nbgrader and (not isinstance(value, types) or isinstance(value, bool) and bool not in types
                                or isinstance(value, float) and not math.isfinite(value)):
            return (f"{where}: its nbgrader {key} is {one_line(repr(value), 60)}; expected "
                    f"{' or '.join(t.__name__ for t in types)} as in the release")
    return None


def notebook_problem(data) -> str | None:
    """What keeps the parsed JSON `data` from being an nbformat 4 notebook whose cells are safe to repair."""
    if not isinstance(data, dict):
        return f"the file holds a JSON {_json_type(data)}; expected a notebook (a JSON object)"
    major, minor = data.get("nbformat"), data.get("nbformat_minor")
    if major != 4 or isinstance(major, bool) or not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        return (f"nbformat {one_line(repr(major), 40)}.{one_line(repr(minor), 40)}; expected a Jupyter notebook "
                "of format 4 (nbformat 4.x)")
    if not isinstance(data.get("metadata"), dict):
        return "the notebook's metadata is missing or not an object"
    cells = data.get("cells")
    if not isinstance(cells, list):
        return "the notebook has no list of cells"
    if len(cells) > CELLS_LIMIT:
        return f"the notebook has {len(cells)} cells; at most {CELLS_LIMIT} are accepted"
    return next(filter(None, (_cell_problem(number, cell) for number, cell in enumerate(cells, start=1))), None)


def _repaired(data: dict) -> dict:
    """`data` with the repairs Jupyter makes when it opens a notebook (nbformat's `normalize`: missing cell ids
    added, duplicate ones made unique); a minor version newer than nbformat's is read as its newest, and
    cell ids in a notebook older than 4.5 (which has none) are dropped."""
    minor = min(data["nbformat_minor"], nbformat.current_nbformat_minor)
    cells = data["cells"] if minor >= 5 else [{k: v for k, v in cell.items() if k != "id"} for cell in data["cells"]]
    with warnings.catch_warnings():  # nbformat warns about each repair
        warnings.simplefilter("ignore")
        return validator.normalize({**data, "nbformat_minor": minor, "cells": cells}, 4, minor)[1]


def _schema_message(message: str) -> str:
    """The schema validator's message ("data.cells[7] must be ...") in the words of the other reasons."""
    message = re.sub(r"data\.cells\[(\d+)\]", lambda match: f"cell {int(match[1]) + 1}", one_line(message, 200))
    message = message.replace("must be valid exactly by one definition (0 matches found)",
                              "matches no cell type: a field is missing, extra or of the wrong type")
    return message.removeprefix("data.").removeprefix("data ")


def notebook_from_bytes(raw: bytes) -> Intake:
    """Validate the bytes of a submitted notebook (see the module docstring)."""
    intake = Intake(sha256=hashlib.sha256(raw).hexdigest())
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        intake.reason = f"the file is not UTF-8 text (byte {error.start}); expected a Jupyter .ipynb file"
        return intake
    except (ValueError, RecursionError) as error:
        intake.reason = f"not valid notebook JSON ({one_line(str(error), 200)}); expected a Jupyter .ipynb file"
        return intake
    try:
        intake.reason = notebook_problem(data)
        if intake.reason:
            return intake
        data = _repaired(data)
        errors = validator.get_validator(version=4, version_minor=data["nbformat_minor"]).iter_errors(data)
        error = next(iter(errors), None)
        if error is not None:
            intake.reason = (f"the notebook does not follow Jupyter's format ({_schema_message(error.message)}); "
                             "expected a notebook as Jupyter saves it")
            return intake
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # an unpaired surrogate (\ud800) cannot be saved
        intake.notebook = nbformat.from_dict(data)
    except UnicodeEncodeError:
        intake.reason = "the notebook holds text that is not valid Unicode (an unpaired surrogate \\ud800-\\udfff)"
    except RecursionError:
        intake.reason = "the notebook's JSON is nested too deeply to be a notebook"
    except Exception as error:  # whatever else its JSON does: that student's zero, never the class's run
        intake.reason = f"{UNEXPECTED}: {one_line(repr(error), 200)}; tell your instructor"
    return intake


def take_in(path: Path) -> Intake:
    """Read and validate the submitted notebook at `path`: `Intake.notebook` or `Intake.reason`, never an error."""
    try:
        return notebook_from_bytes(read_file(Path(path)))
    except Refused as refusal:
        return Intake(reason=str(refusal))


def file_sha256(path: Path) -> str:
    """SHA-256 of the file at `path` as `read_file` reads it; "" when it is refused."""
    try:
        return hashlib.sha256(read_file(Path(path))).hexdigest()
    except Refused:
        return ""


def graded_copy(intake: Intake, path: Path) -> Path:
    """Write the validated notebook to `path` as the harness grades it: code outputs dropped (never read)."""
    notebook = nbformat.from_dict(intake.notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    return path
