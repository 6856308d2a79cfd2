"""One JupyterLab server and one headless Chromium for the whole browser run.

Both are stopped in the fixtures' teardown, which pytest also runs after a failure or a Ctrl-C;
SIGTERM (what `timeout` and CI send) stops the run the same way.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from playwright.sync_api import Browser, sync_playwright

from e2e.lab import CHROMIUM, CHROMIUM_ARGS, REPO, JupyterLab


def pytest_sessionstart(session: pytest.Session) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        # No test starts after this, and the fixtures' teardown stops what they started.
        session.shouldstop = f"stopped by signal {signum}"
        raise KeyboardInterrupt(session.shouldstop)

    signal.signal(signal.SIGTERM, stop)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the server's notebooks, logs and saved outputs go; pytest keeps it for a look after a failure."""
    path = tmp_path_factory.mktemp("e2e")
    print(f"\ne2e work folder: {path}")
    return path


@pytest.fixture(scope="session")
def lab(workdir: Path) -> Iterator[JupyterLab]:
    server = JupyterLab(REPO / "notebooks", workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def docs_img() -> Path:
    """The README's pictures: regenerated on every run."""
    path = REPO / "docs" / "img"
    path.mkdir(parents=True, exist_ok=True)
    return path
