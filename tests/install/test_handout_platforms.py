"""The hand-out's requirements.txt (the student lock) resolves on macOS, Windows and Linux arm64, on every
supported Python, with nothing to compile: uv resolves the lock for each platform without installing, and
every pin must come as a wheel (a source build needs a compiler most students lack), except where a pure-Python
fallback builds without one (SOURCE_BUILDS). A package that platform needs and the lock lacks fails too.
"""

from __future__ import annotations

import subprocess

import pytest

from course.lock import STUDENT_LOCK, read_pins, uv
from tests.install.interpreters import supported_minors

PLATFORMS = {  # what students run, as uv names the target
    "macos-arm64": "aarch64-apple-darwin",
    "macos-x86_64": "x86_64-apple-darwin",
    "windows-x86_64": "x86_64-pc-windows-msvc",
    "windows-arm64": "aarch64-pc-windows-msvc",
    "linux-arm64": "aarch64-manylinux_2_28",
}
# (package, platform, Python) -> why building it from its sdist is fine there.
SOURCE_BUILDS = {
    ("pyyaml", "windows-arm64", "3.11"): "no cp311 Windows arm64 wheel; without libyaml it builds as pure Python",
}
CASES = [(platform, minor) for platform in PLATFORMS for minor in supported_minors()]


@pytest.mark.parametrize(("platform", "minor"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_student_lock_resolves_to_wheels(platform: str, minor: str):
    pins = read_pins(STUDENT_LOCK)
    wheels_only = ",".join(name for name in pins if (name, platform, minor) not in SOURCE_BUILDS)
    result = subprocess.run([uv(), "pip", "compile", str(STUDENT_LOCK), "--python-platform", PLATFORMS[platform],
                             "--python-version", minor, "--no-header", "--no-annotate", "--quiet",
                             "--only-binary", wheels_only],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"requirements.txt on {platform}, Python {minor}:\n{result.stderr[-2000:]}"
    resolved = {line.split("==")[0]: line.split("==")[1].split(";")[0].strip()
                for line in result.stdout.splitlines() if "==" in line}
    foreign = {name: version for name, version in resolved.items() if pins.get(name) != version}
    assert not foreign, f"{platform}, Python {minor} needs what the lock does not pin: {foreign}"
