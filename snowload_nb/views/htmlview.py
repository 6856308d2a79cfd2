"""progress="html": the notebook view without ipywidgets, HTML redrawn in place through its display id.

For kernels where ipywidgets is missing or broken (`auto` picks it when ipywidgets cannot be
imported). The refresher sends at most one update_display_data every `refresh_interval` seconds,
and only when the page changed; the last one is the same static record the widget view leaves.
"""

from __future__ import annotations

from ..env import in_jupyter_kernel
from ..model import Snapshot
from . import html
from .cell import Bundle, CellDisplay

MIN_FILE_ROWS = 8


class HtmlView:
    refresh_interval = 0.5  # at most two updates a second

    def __init__(self, workers: int, show: bool = True) -> None:
        self._rows = max(workers, MIN_FILE_ROWS)
        self._page = html.summary("snowload_nb: loading…", "running")
        self.record_html = ""
        self.record_text = ""
        self._cell = CellDisplay(self._bundle()) if show and in_jupyter_kernel() else None

    @property
    def page(self) -> str:
        return self._page

    def draw(self, snapshot: Snapshot) -> None:
        page = html.live(snapshot, self._rows)
        if page != self._page:
            self._page = page
            if self._cell is not None:
                self._cell.update(self._bundle())

    def close(self, snapshot: Snapshot) -> None:
        self.record_html, self.record_text = html.record_parts(snapshot)
        self._page = self.record_html
        if self._cell is not None:
            self._cell.show_record(self.record_html, self.record_text)

    def _bundle(self) -> Bundle:
        return Bundle({"text/plain": "snowload_nb: loading…", "text/html": self._page})
