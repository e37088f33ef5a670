"""Says at the end of the run which supported Pythons the install tests found on this machine, and which not."""

from tests.install.interpreters import summary


def pytest_terminal_summary(terminalreporter) -> None:
    if any(item for item in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
           if "tests/install/" in item.nodeid):
        terminalreporter.write_sep("-", "supported Pythons on this machine (tests/install)")
        terminalreporter.write_line(summary())
