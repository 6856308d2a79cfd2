"""The cell a load was started from: its display, updatable from any thread, and what it shows.

Shared by the widget and the HTML view; imports nothing of ipywidgets, so the HTML view works
where ipywidgets cannot be imported.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

# Cells (by their request's msg_id) whose output holds a load's record with its results table:
# a LoadResult shown as the same cell's value then shows its summary line only, not the table again.
_RECORDED: deque[str] = deque(maxlen=256)
_LOCK = threading.Lock()


class Bundle:
    """A display object of fixed MIME data."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.data


class CellDisplay:
    """A display in the cell that made it, updatable from any thread and still landing there.

    ipykernel 7 keeps the cell's parent header per context, ipykernel 6 only globally: a plain
    update from a background job would be filed under whichever cell runs at that moment. So the
    parent is read here, on the calling thread, and the update is sent with it explicitly.
    """

    def __init__(self, obj: Any) -> None:
        from IPython import get_ipython
        from IPython.display import display

        self._handle = display(obj, display_id=True)
        shell = get_ipython()
        self._publisher = getattr(shell, "display_pub", None)
        self._parent = dict(getattr(self._publisher, "parent_header", None) or {})

    @property
    def cell(self) -> str | None:
        return self._parent.get("msg_id")

    def update(self, obj: Any) -> None:
        publisher = self._publisher
        session = getattr(publisher, "session", None)
        if self._handle is None:
            return
        if session is None or not self._parent:
            self._handle.update(obj)
            return
        transient = {"display_id": self._handle.display_id}
        content = {"data": obj._repr_mimebundle_(), "metadata": {}, "transient": transient}
        message = session.msg("update_display_data", content, parent=self._parent)
        session.send(publisher.pub_socket, message, ident=publisher.topic)  # type: ignore[union-attr]

    def show_record(self, html: str, plain: str) -> None:
        """Replace the live output with the static record: text/html and text/plain, nothing else."""
        if self.cell:
            with _LOCK:
                _RECORDED.append(self.cell)
        self.update(Bundle({"text/plain": plain, "text/html": html}))


def record_shown_in_this_cell() -> bool:
    """Whether the running cell already shows a load's record (and so its results table)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    publisher = getattr(shell, "display_pub", None)
    parent = getattr(publisher, "parent_header", None) or {}
    cell = parent.get("msg_id")
    with _LOCK:
        return bool(cell) and cell in _RECORDED
