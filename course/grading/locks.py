"""Locks that keep concurrent graders apart: one grader per course folder, one writer at a time per gradebook.

`course_lock`: `course grade` holds `<course>/.grading.lock` (fcntl) for the whole batch; a second one
says in one line who holds it and waits. `gradebook_lock`: recording in nbgrader's gradebook is
serialised per database (a PostgreSQL advisory lock; a lock file beside a SQLite file), so course folders
sharing one gradebook never race nbgrader's get-or-create of the same rows.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".grading.lock"
ADVISORY_KEY = 716_716_016  # any fixed 64-bit number: "the TinyGPT gradebook"


@contextmanager
def _file_lock(path: Path, holder: str, waiting: str | None = None) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            if waiting:
                print(waiting.format(holder=file.read().strip() or "another process"), file=sys.stderr, flush=True)
            fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        file.truncate()
        file.write(holder)
        file.flush()
        try:
            yield
        finally:
            file.truncate(0)
            fcntl.flock(file, fcntl.LOCK_UN)


@contextmanager
def course_lock(course_dir: Path) -> Iterator[None]:
    """Hold the course folder's grading lock; if another grader has it, say who (one line) and wait."""
    path = Path(course_dir) / LOCK_FILE
    since = datetime.now(UTC).isoformat(timespec="seconds")
    holder = f"pid {os.getpid()} on {socket.gethostname()} since {since}"
    with _file_lock(path, holder, f"{path} is held by {{holder}} (another course grade): waiting for it to finish"):
        yield


@contextmanager
def gradebook_lock(db_url: str) -> Iterator[None]:
    """Serialise writes to the gradebook at `db_url` across processes and course folders."""
    if db_url.startswith("sqlite:///"):
        database = Path(db_url.removeprefix("sqlite:///"))
        with _file_lock(database.with_name(database.name + ".lock"), f"pid {os.getpid()}"):
            yield
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
    finally:
        engine.dispose()
