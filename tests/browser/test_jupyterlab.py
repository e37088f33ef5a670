"""The hand-out as students use it: a real Chromium (Playwright) against a real JupyterLab server.

The student's JupyterLab runs in `.venv-student-<version>`, installed from the hand-out exactly as INSTALL.md says.
The untouched release opens and Run All stops at the first stub; a notebook filled with the reference
code runs top to bottom with no error and no stderr box, its plots render and its progress bars are
widgets. In the instructor's environment nbgrader's Formgrader lists the assignment. Screenshots go to
`artifacts/browser/` (git-ignored; CI keeps them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from course.handout import build_handout
from course.submissions import fill_release
from tests.browser.chromium import LAUNCH_ARGS, find
from tests.browser.lab import REPO, jupyter_lab
from tests.install.interpreters import running_interpreter
from tests.install.student_environment import student_environment

ARTIFACTS = REPO / "artifacts" / "browser"
NOTEBOOK = "tinygpt/tinygpt.ipynb"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'  # stderr and tracebacks
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab in front
RUN_SECONDS = 600  # the filled notebook's whole run (training shortened below); generous for a busy machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = find()
    if chromium is None:
        pytest.fail("no Chromium for the browser test: run `make test` (it installs one) or apt-get install chromium",
                    pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def handout(tmp_path_factory) -> Path:
    """The unzipped hand-out folder, as `make handout` builds it."""
    return build_handout(REPO, dist=tmp_path_factory.mktemp("dist")).with_suffix("")


@pytest.fixture(scope="module")
def student_lab(handout, tmp_path_factory):
    """JupyterLab from the student's environment, serving the hand-out folder (training shortened to 30 steps)."""
    python = student_environment(running_interpreter(), handout)
    home = tmp_path_factory.mktemp("student-home")
    with jupyter_lab(python, handout, home, env={"TINYGPT_TRAIN_STEPS": "30"}) as lab:
        yield lab


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _open(page: Page, lab, path: str) -> None:
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    page.goto(lab.page(f"lab/tree/{path}") + "&reset")  # reset: no tab of an earlier test restored
    page.wait_for_function(f"() => document.querySelectorAll('{PANEL} .jp-Cell').length > 20", timeout=90_000)
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=90_000)  # kernel started


def _run_all(page: Page, timeout_seconds: float) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running and the kernel is idle."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    page.wait_for_function(f"() => [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]"
                           ".some(p => p.textContent.includes('*'))", timeout=30_000)
    try:
        page.wait_for_function(f"() => ![...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]"
                               ".some(p => p.textContent.includes('*'))", timeout=timeout_seconds * 1000)
    except PlaywrightTimeout:
        _screenshot(page, "run-all-timed-out.png")
        running = [i for i, prompt in enumerate(_prompts(page)) if "*" in prompt]
        pytest.fail(f"Run All did not finish in {timeout_seconds} s; code cells still queued or running: {running}",
                    pytrace=False)
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for()


def _prompts(page: Page) -> list[str]:
    return page.eval_on_selector_all(f"{PANEL} .jp-CodeCell .jp-InputPrompt", "ps => ps.map(p => p.textContent.trim())")


def _screenshot(target, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(ARTIFACTS / name))


def test_release_opens_and_run_all_stops_at_the_first_stub(page, student_lab):
    _open(page, student_lab, NOTEBOOK)
    _screenshot(page, "release-opened.png")
    _run_all(page, timeout_seconds=90)
    cells = page.locator(f"{PANEL} .jp-CodeCell")
    errors = page.locator(f"{PANEL} .jp-CodeCell:has({STDERR})")
    assert errors.count() == 1, f"Run All should stop at one error, {errors.count()} cells show stderr"
    first_error = errors.first
    assert "NotImplementedError" in first_error.locator(STDERR).inner_text()
    assert "tokenizer = CharTokenizer().fit(" in first_error.locator(".jp-InputArea").inner_text(), \
        "the first stub met should be Part 1's check cell"
    assert cells.first.locator(".jp-OutputArea-output").count() == 0, "the imports cell should print nothing"
    prompts = _prompts(page)
    stopped = next(i for i in range(cells.count()) if cells.nth(i).locator(STDERR).count())
    assert all(prompt == "[ ]:" for prompt in prompts[stopped + 1:]), f"cells after the stub ran: {prompts}"
    first_error.scroll_into_view_if_needed()
    _screenshot(page, "release-stops-at-first-stub.png")


def test_filled_notebook_runs_clean_with_plots_and_widget_progress_bars(page, student_lab, handout):
    filled = handout / "tinygpt" / "filled.ipynb"
    nbformat.write(fill_release(REPO / "release" / NOTEBOOK, REPO / "source" / NOTEBOOK), filled)
    _open(page, student_lab, "tinygpt/filled.ipynb")
    _run_all(page, timeout_seconds=RUN_SECONDS)
    prompts = _prompts(page)
    assert all(prompt.startswith("[") and prompt[1:-2].isdigit() for prompt in prompts), \
        f"every code cell should have run: {prompts}"
    stderr = page.locator(f"{PANEL} {STDERR}")
    assert stderr.count() == 0, f"no cell should show a stderr box; found: {stderr.first.inner_text()[:300]}"
    images = page.locator(f'{PANEL} .jp-OutputArea-output[data-mime-type="image/png"] img')
    assert images.count() >= 4, "the positional encoding, loss curve, attention maps and timing plots should render"
    widths = images.evaluate_all("imgs => imgs.map(img => img.complete ? img.naturalWidth : 0)")
    assert all(width > 200 for width in widths), f"every plot image should load; natural widths {widths}"
    assert page.locator(f"{PANEL} .jp-OutputArea-output .widget-hprogress").count() >= 1, \
        "training should show its progress bar as a widget"
    _screenshot(page.locator(f"{PANEL} .jp-CodeCell", has_text="held-out loss").last, "trained-loss-curve.png")
    _screenshot(page.locator(f"{PANEL} .jp-CodeCell", has_text="snippet = ").last, "trained-attention-maps.png")


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    """JupyterLab from the instructor's environment (.venv) on a throwaway course folder with its gradebook."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "source", course / "source")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # nbgrader runs alembic from the venv
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", "tinygpt"], cwd=course,
                   check=True, capture_output=True, env=dict(os.environ, PATH=path))
    with jupyter_lab(Path(sys.executable), course, tmp_path_factory.mktemp("instructor-home")) as lab:
        yield lab


def test_formgrader_lists_the_assignment(page, instructor_lab):
    page.goto(instructor_lab.page("formgrader"))
    row = page.locator("tr", has_text="tinygpt")
    row.first.wait_for(timeout=60_000)
    assert row.count() == 1, "the assignments table should list tinygpt once"
    _screenshot(page, "formgrader.png")
