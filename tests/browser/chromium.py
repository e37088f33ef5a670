"""The Chromium the browser test drives: the system's, else Playwright's own, else Debian's `chromium` package.

`make test` runs `python -m tests.browser.chromium --install` first, which installs one when none is
found (Playwright's download, then `apt-get install -y chromium` as root on Debian or Ubuntu); the test
itself only looks (`find`) and fails with one line when there is none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, no sandbox (root in a container), and none of the background traffic a fresh profile starts.
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def _playwright_chromium() -> Path | None:
    """The Chromium that `playwright install chromium` downloaded, if it did."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        path = Path(playwright.chromium.executable_path)
    return path if path.is_file() else None


def find() -> Path | None:
    """The system's Chromium (or Chrome) if there is one, else Playwright's own, else None."""
    for name in SYSTEM_NAMES:
        if found := shutil.which(name):
            return Path(found)
    return _playwright_chromium()


def install() -> Path:
    """`find()`, installing a Chromium first if there is none; exits with one line when nothing works."""
    if found := find():
        return found
    print("no Chromium found: trying `playwright install chromium`", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], timeout=300, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"playwright could not download its Chromium ({error})", file=sys.stderr)
    if found := find():
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing Debian's chromium package (apt-get install -y chromium)", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if found := find():
            return found
    sys.exit("no Chromium for the browser test: none on PATH, Playwright's download failed, "
             "and apt-get is not available as root; install chromium and run again")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install a Chromium when none is found")
    args = parser.parse_args()
    path = install() if args.install else find()
    if path is None:
        print("no Chromium found (run with --install)", file=sys.stderr)
        return 1
    print(f"Chromium for the browser test: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
