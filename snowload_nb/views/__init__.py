"""Views draw snapshots of the progress model: a widget, HTML, terminal bars, log lines, or nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..env import in_jupyter_kernel
from ..model import Snapshot


class View(Protocol):
    """Drawn by the refresher thread every `refresh_interval` s, then closed on the calling thread."""

    refresh_interval: float

    def draw(self, snapshot: Snapshot) -> None: ...

    def close(self, snapshot: Snapshot) -> None: ...


class NullView:
    """progress="none": nothing drawn, nothing printed."""

    refresh_interval = 3600.0

    def draw(self, snapshot: Snapshot) -> None:
        pass

    def close(self, snapshot: Snapshot) -> None:
        pass


def make_view(mode: str, workers: int, on_cancel: Callable[[], None], background: bool = False) -> View:
    """The view for a resolved mode (see `env.resolve_progress`), built on the calling thread."""
    if mode == "widget":
        from .widget import WidgetView

        return WidgetView(workers, on_cancel=on_cancel, background=background)
    if mode == "html" or (mode == "tqdm" and in_jupyter_kernel()):
        # A kernel's stderr is no terminal: cursor moves would print as garbage there.
        from .htmlview import HtmlView

        return HtmlView(workers)
    if mode == "tqdm":
        from .terminal import TerminalView

        return TerminalView(workers)
    if mode == "log":
        from .log import LogView

        return LogView()
    if mode == "none":
        return NullView()
    raise ValueError(f"no view for progress mode {mode!r}")
