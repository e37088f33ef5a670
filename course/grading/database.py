"""Where a course's nbgrader gradebook lives, checked before nbgrader touches anything, its password never shown.

One rule for every tool (`course build`, `course grade`, plain `nbgrader ...` via nbgrader_config.py):
the gradebook is NBGRADER_DB_URL when that is set, else `<course folder>/gradebook.db`.
A PostgreSQL URL (`postgresql://user:password@host:port/database`) needs the `postgres` extra (psycopg).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

from course.grading.report import GradingError

URL_VARIABLE = "NBGRADER_DB_URL"
# SQLAlchemy's driver for each URL scheme ("postgresql" alone means psycopg 3 in SQLAlchemy 2.1).
DRIVERS = {"postgresql": "psycopg", "postgresql+psycopg": "psycopg", "postgresql+psycopg2": "psycopg2"}
_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?=@)", re.IGNORECASE)


def gradebook_url(course_dir: Path) -> str:
    """NBGRADER_DB_URL if set, else `sqlite:///<course_dir>/gradebook.db`."""
    return os.environ.get(URL_VARIABLE) or f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def redact(text: str) -> str:
    """`text` with the password of every database URL in it replaced by ***."""
    return _PASSWORD.sub(r"\g<head>***", text)


def check_gradebook(url: str) -> None:
    """Raise GradingError (one line, password hidden) when the gradebook at `url` cannot be opened:
    a missing driver, a server that does not answer, a refused login. A SQLite file is not checked
    (nbgrader creates it)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme.startswith("sqlite"):
        return
    driver = DRIVERS.get(scheme)
    if driver is None:
        raise GradingError(f"{URL_VARIABLE}={redact(url)}: unsupported database; expected sqlite:///PATH or "
                           f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    if importlib.util.find_spec(driver) is None:
        raise GradingError(f"{URL_VARIABLE} names a PostgreSQL gradebook but its driver {driver!r} is not "
                           f"installed: pip install -e '.[postgres]'")
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 (any failure to connect becomes the one-line message)
        raise GradingError(f"cannot open the gradebook {redact(url)}: {one_line(error)}") from None
    finally:
        engine.dispose()


def one_line(error: BaseException | str) -> str:
    """The last meaningful line of an error or traceback text, password hidden."""
    text = str(error).strip()
    if isinstance(error, BaseException) and getattr(error, "orig", None) is not None:  # SQLAlchemy's wrapper
        text = str(error.orig).strip() or text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = next((line for line in reversed(lines) if not line.startswith(("(Background on", "[SQL"))), "")
    name = type(error).__name__ if isinstance(error, BaseException) else ""
    return redact(f"{name}: {line}" if name and not line.startswith(name) else line or name)
