"""A real JupyterLab server for the browser test, and the student environment it runs in.

The student environment is `tests.install.student_environment`'s (INSTALL.md's install line, once per student
lock and interpreter). `jupyter_lab` starts `jupyter lab` from a given environment on a
free port with a fresh home and settings folder, waits until it answers, and stops it afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "browser-test"
# User settings: no "fetch Jupyter news?" toast over the screenshots; every cell kept in the page (not
# virtualised) so that the test can read every output.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    url: str
    log: Path

    def page(self, path: str) -> str:
        return f"{self.url}/{path}?token={TOKEN}"


@contextmanager
def jupyter_lab(python: Path, root: Path, home: Path, env: dict[str, str] | None = None) -> Iterator[Lab]:
    """`jupyter lab` of the environment of `python`, serving `root`; yields once it answers HTTP."""
    settings = home / "lab-settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port = _free_port()
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "MPLBACKEND", "VIRTUAL_ENV", "JUPYTER_CONFIG_DIR")}
    environment.update(HOME=str(home), JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_RUNTIME_DIR=str(home / "rt"),
                       PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}", **(env or {}))
    log = home / "jupyter-lab.log"
    command = [str(python), "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
               *(["--allow-root"] if os.geteuid() == 0 else [])]  # CI containers run as root
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=root, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    lab = Lab(url=f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{lab.url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not start: {log.read_text()[-1500:]}") from None
                time.sleep(0.5)
        yield lab
    finally:
        try:  # the server shuts its kernels down, then itself
            urllib.request.urlopen(urllib.request.Request(f"{lab.url}/api/shutdown?token={TOKEN}", method="POST"),
                                   timeout=10)
        except OSError:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
