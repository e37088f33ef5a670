"""A real Dask cluster on 127.0.0.1 for the tests: `dask scheduler` and `dask worker` processes, stopped after.

Each worker is its own `dask worker --nworkers 1 --nthreads 1` command (a nanny and its worker process) in
a process group of its own, so that a test can kill one whole worker, grading children included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

DASK = Path(sys.executable).with_name("dask")
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LocalCluster:
    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)  # worker name -> its `dask worker`
    folder: Path = Path(".")

    def start_worker(self, name: str, environment: dict[str, str] | None = None) -> None:
        command = [str(DASK), "worker", self.address, "--name", name, "--nworkers", "1", "--nthreads", "1",
                   "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(self.folder / name)]
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.workers[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                              env=environment or os.environ.copy(), start_new_session=True)

    def wait_for_workers(self, client, count: int) -> None:
        try:
            client.wait_for_workers(count, timeout=START_SECONDS)
        except TimeoutError:
            logs = {name: (self.folder / f"{name}.log").read_text()[-1500:] for name in self.workers}
            raise AssertionError(f"{count} Dask workers did not join in {START_SECONDS} s; logs: {logs}") from None

    def address_of(self, client, name: str) -> str:
        workers = client.scheduler_info()["workers"].items()
        return next(address for address, info in workers if str(info["name"]).split("-")[0] == name)

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's whole process tree (nanny, worker, its grading children): a machine lost."""
        process = self.workers[name]
        tree = [process.pid, *(child.pid for child in psutil.Process(process.pid).children(recursive=True))]
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in [*self.workers.values(), self.scheduler]:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def local_cluster(folder: Path, workers: dict[str, dict[str, str] | None]) -> Iterator[LocalCluster]:
    """A scheduler and one `dask worker` per entry of `workers` (name -> environment, None: this one's)."""
    if not DASK.is_file():
        raise AssertionError(f"no {DASK}: install the course (`make venv`), which brings Dask's commands")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "scheduler.log", "wb")  # noqa: SIM115
    scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=folder)
    cluster = LocalCluster(f"tcp://127.0.0.1:{port}", scheduler, folder=folder)
    try:
        for name, environment in workers.items():
            cluster.start_worker(name, environment)
        yield cluster
    finally:
        cluster.stop()
