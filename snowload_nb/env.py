"""Where are we running, and so which view does progress="auto" mean."""

from __future__ import annotations

import os
import sys

PROGRESS_MODES = ("auto", "widget", "html", "tqdm", "log", "none")
ENV_VAR = "SNOWLOAD_PROGRESS"


def validate_progress(mode: str) -> str:
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)}; got {mode!r}")
    return mode


def resolve_progress(mode: str) -> str:
    """A concrete view for `mode`: SNOWLOAD_PROGRESS overrides "auto", then the environment decides."""
    validate_progress(mode)
    if mode == "auto":
        override = os.environ.get(ENV_VAR, "").strip().lower()
        if override and override != "auto":
            if override not in PROGRESS_MODES:
                raise ValueError(f"{ENV_VAR} must be one of {', '.join(PROGRESS_MODES)}; got {override!r}")
            return override
        return detect()
    return mode


def detect() -> str:
    """The widget in a kernel, HTML there if ipywidgets cannot be imported; terminal bars on a TTY; else log lines."""
    if in_jupyter_kernel():
        return "widget" if widgets_available() else "html"
    stream = sys.stderr
    if stream is not None and hasattr(stream, "isatty") and stream.isatty():
        return "tqdm"
    return "log"


def in_jupyter_kernel() -> bool:
    """IPython's ZMQ shell: JupyterLab, Notebook, VS Code and Colab all run one."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()  # type: ignore[attr-defined]
    # Colab's shell subclasses it, so look along the class's ancestry rather than at its name.
    return shell is not None and any(c.__name__ == "ZMQInteractiveShell" for c in type(shell).__mro__)


def widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True
