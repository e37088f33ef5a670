"""A private PostgreSQL server for the tests: its own cluster in a temporary folder, on 127.0.0.1 and a free port,
with a password login; started by `running_server` and stopped (and deleted) when it ends.

Needs the distribution's server binaries (Debian: `apt-get install -y postgresql`, which `make test` does).
As root, the cluster runs as the unprivileged user `nobody` (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER, PASSWORD, DATABASE = "grader", "s3cret-Pw-7d1", "gradebook"


def server_binaries() -> Path:
    """The folder holding initdb and pg_ctl; RuntimeError (one line) when PostgreSQL is not installed."""
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if versions:
        return versions[-1].parent
    raise RuntimeError("PostgreSQL server not installed (no initdb): apt-get install -y postgresql, or run make test")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server() -> Iterator[str]:
    """Start a fresh cluster; yield its URL postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE; stop it after."""
    binaries = server_binaries()
    root = Path(tempfile.mkdtemp(prefix="tinygpt-postgres-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        run_as = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    data, password_file, port = root / "data", root / "password", _free_port()
    password_file.write_text(PASSWORD)
    if run_as:
        os.chown(password_file, pwd.getpwnam("nobody").pw_uid, -1)

    def run(*command: str) -> None:
        finished = subprocess.run([*run_as, *command], capture_output=True, text=True, cwd=root, timeout=120)
        if finished.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {(finished.stderr or finished.stdout).strip()[-300:]}")

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={password_file}",
            "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=50"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        try:
            url = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}"
            import psycopg

            with psycopg.connect(f"{url}/postgres", autocommit=True) as connection:
                connection.execute(f"CREATE DATABASE {DATABASE}")
            yield f"{url}/{DATABASE}"
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
