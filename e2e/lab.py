"""Drive a real JupyterLab in headless Chromium: start the server, open a notebook, run it, read it.

The server runs on a copy of notebooks/ in a temporary folder, so executed outputs never land in
the repository, and with its own settings, runtime and config folders, so nothing in ~/.jupyter
changes what it does. Every process started here is stopped by whoever started it, also when a
test fails or the run is interrupted.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_client import BlockingKernelClient
from playwright.sync_api import ElementHandle, Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
# No GPU, no sandbox (we run as root), and nothing that phones home: this machine has no network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROBE_JS = (Path(__file__).parent / "probe.js").read_text(encoding="utf-8")
# Settings written into the server's own settings folder: every cell stays in the DOM (no
# windowing), each cell's run times are kept in its metadata (a saved notebook tells how long a
# cell took), and JupyterLab neither asks about news nor checks for updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none", "recordTiming": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

T = TypeVar("T")


def free_port() -> int:
    """A port nothing listens on now; the server may not pick another, so a lost race fails loudly."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; a condition with a deadline, not a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line contains `marker`: our kernels carry our runtime folder in theirs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry.name))
    return found


class JupyterLab:
    """`jupyter lab` on 127.0.0.1, a free port and a random token, serving a copy of notebooks/."""

    def __init__(self, notebooks: Path, workdir: Path) -> None:
        self.workdir = workdir
        self.root = workdir / "notebooks"
        self.runtime = workdir / "runtime"
        self.log_path = workdir / "jupyter-lab.log"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self._proc: subprocess.Popen[bytes] | None = None
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}?token={self.token}"

    def start(self, timeout: float = 60) -> None:
        settings = self.workdir / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            target = settings / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "SNOWLOAD_PROGRESS"}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workdir / "lab-workspaces"),
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_CONFIG_DIR=str(self.workdir / "jupyter-config"),
            JUPYTER_DATA_DIR=str(self.workdir / "jupyter-data"),
            IPYTHONDIR=str(self.workdir / "ipython"),
        )
        command = [
            str(VENV_BIN / "jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read models
            "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
        ]
        with self.log_path.open("wb") as log:
            # Its own session, so a Ctrl-C meant for pytest does not reach it before we stop it.
            self._proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root, start_new_session=True
            )
        wait_for(self._ready, timeout, f"jupyter lab on port {self.port} (log: {self.log_path})", interval=0.2)

    def _ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {self._proc.returncode}:\n{self.log_tail()}")
        try:
            self.api("GET", "api/status")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Ask the server to shut down (it stops its kernels), then make sure all of it is gone."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("POST", "api/shutdown")
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Kernels run in sessions of their own; any left over still name our runtime folder.
        for pid in pids_mentioning(str(self.runtime)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def kernel_client(self, kernel_id: str) -> BlockingKernelClient:
        client = BlockingKernelClient(connection_file=str(self.runtime / f"kernel-{kernel_id}.json"))
        client.load_connection_file()
        client.start_channels()
        return client


class NotebookPage:
    """One notebook open in JupyterLab, with the probe installed to read and record its widgets."""

    def __init__(self, page: Page, lab: JupyterLab, name: str) -> None:
        self.page = page
        self.lab = lab
        self.name = name
        self.page_errors: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def open(self, timeout: float = 90) -> None:
        self.page.goto(self.lab.url(f"lab/tree/{self.name}"))
        ready = """name => {
            const app = window.jupyterapp;
            const panel = app && app.shell.currentWidget;
            const kernel = panel && panel.context && panel.context.path === name
                && panel.sessionContext.session && panel.sessionContext.session.kernel;
            return !!kernel && kernel.status === 'idle' && panel.content.widgets.length > 0;
        }"""
        self.page.wait_for_function(ready, arg=self.name, timeout=timeout * 1000, polling=100)
        # Give the notebook the whole width: the screenshots show what a reader's window would.
        self.page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
        self.page.evaluate(PROBE_JS)

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate `expression` (a function of the probe and arg) in the page."""
        return self.page.evaluate(f"([arg]) => {{ const p = window.__snowloadProbe; return ({expression}); }}", [arg])

    def run_all(self) -> None:
        self.js("p.runAll()")

    def wait_finished(self, timeout: float) -> None:
        """Wait until run-all settled, the kernel is idle and every code cell shows an execution count."""
        try:
            self.page.wait_for_function("() => window.__snowloadProbe.finished()", timeout=timeout * 1000, polling=200)
        except PlaywrightTimeoutError as exc:
            raise TimeoutError(
                f"{self.name} did not finish in {timeout:.0f} s: run={self.js('p.run()')}, "
                f"kernel={self.js('p.kernelStatus()')}, prompts={self.js('p.prompts()')}"
            ) from exc

    def wait_widgets_ended(self, timeout: float = 30) -> list[dict[str, Any]]:
        """Wait until every snowload output is the static record of a final state, and return them all."""
        self.page.wait_for_function(
            """() => window.__snowloadProbe.widgets().every(
                w => w.kind === 'record' && ['done', 'failed', 'cancelled'].includes(w.state))""",
            timeout=timeout * 1000,
            polling=100,
        )
        return self.widgets()

    def widgets(self) -> list[dict[str, Any]]:
        return list(self.js("p.widgets()"))

    def stats(self) -> dict[str, Any]:
        """What the probe recorded over every DOM change so far: per widget ("cell:slot") in byKey."""
        return dict(self.js("p.stats()"))

    def cells(self) -> list[dict[str, Any]]:
        return list(self.js("p.cells()"))

    def problems(self) -> list[str]:
        return list(self.js("p.problems()"))

    def cell_index(self, fragment: str) -> int:
        """The index of the only code cell whose source contains `fragment`."""
        hits = [c["index"] for c in self.cells() if c["type"] == "code" and fragment in c["source"]]
        assert len(hits) == 1, f"{len(hits)} code cells of {self.name} contain {fragment!r}"
        return int(hits[0])

    def widget_handle(self, cell: int, slot: int = 0) -> ElementHandle:
        handle = self.page.evaluate_handle(
            "([cell, slot]) => window.__snowloadProbe.widgetElement(cell, slot)", [cell, slot]
        ).as_element()
        assert handle is not None, f"no snowload widget in cell {cell} of {self.name}"
        return handle

    def cell_handle(self, cell: int) -> ElementHandle:
        handle = self.page.evaluate_handle(
            "cell => window.jupyterapp.shell.currentWidget.content.widgets[cell].node", cell
        ).as_element()
        assert handle is not None
        return handle

    def screenshot(self, handle: ElementHandle | Locator, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle.screenshot(path=str(path), animations="disabled")

    def kernel_id(self) -> str:
        return str(self.js("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.id"))

    def kernel_value(self, expression: str, timeout: float = 30) -> Any:
        """Evaluate `expression` in the notebook's kernel and return it through JSON.

        A user expression on a silent request: nothing is printed in the notebook, the history and
        execution count stay as the notebook left them.
        """
        client = self.lab.kernel_client(self.kernel_id())
        try:
            msg_id = client.execute(
                "", silent=True, store_history=False, user_expressions={"v": f"__import__('json').dumps({expression})"}
            )
            deadline = time.monotonic() + timeout
            while True:
                reply = client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
        finally:
            client.stop_channels()
        value = reply["content"]["user_expressions"]["v"]
        if value.get("status") != "ok":
            raise RuntimeError(f"{expression!r} failed in the kernel: {value.get('ename')}: {value.get('evalue')}")
        return json.loads(ast.literal_eval(value["data"]["text/plain"]))

    def save(self, timeout: float = 30) -> None:
        """Save from JupyterLab, as a user would, and wait until the file on disk is current."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        self.page.wait_for_function(
            "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=timeout * 1000, polling=100
        )
