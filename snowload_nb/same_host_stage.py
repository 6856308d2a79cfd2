"""A client on the embedded server's own machine writes its staged files into the stage's folder.

fakesnow's server answers every PUT with a GCS-style presigned URL on itself, so the connector
uploads the file over HTTP and the server reads the whole body on its one event loop before it
writes it to the same disk the file came from: for a 100 MB load, about a tenth of a second of the
server's CPU, which the loads' COPYs wait behind. Snowflake's own LOCAL_FS stage type is the other
answer: the connector copies the file into the folder the answer names.

That is only right when the client sees the server's folders, so it is given only when all hold:
- the server was started to allow it (`connect_local()` does: its server is a child process of the
  client's, on the same filesystem; `snowload serve` by hand may run in a container, so not);
- the client connects from the server's own address (a proxy or a container's network bridge
  connects from another: another host, as the server sees it);
- the client is the Python connector before 5 (5.x's core uploads only to cloud storage).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CONNECTOR = re.compile(r"PythonConnector/(?P<major>\d+)\.")
_FIRST_WITHOUT_LOCAL_FS = 5
_allowed = False  # set by the server of this process, once it knows how it was started


def writes_in_place(client: tuple[str, int] | None, server: tuple[str, int] | None, user_agent: str) -> bool:
    """Whether this client can be told to write a stage's folder itself."""
    if client is None or server is None or client[0] != server[0]:
        return False
    version = _CONNECTOR.match(user_agent)
    return version is not None and int(version["major"]) < _FIRST_WITHOUT_LOCAL_FS


def apply(allowed: bool) -> None:
    """Answer a PUT from a client on this machine with the stage's folder (if `allowed`); any
    other over HTTP."""
    import fakesnow.server

    global _allowed
    _allowed = allowed
    over_http = fakesnow.server.gcs_stage_info
    if getattr(over_http, "snowload_same_host", False):
        return

    def stage_info(request: Any, expr: Any, put_stage_data: Mapping[str, Any]) -> Any:
        scope, agent = request.scope, request.headers.get("user-agent", "")
        if _allowed and writes_in_place(scope.get("client"), scope.get("server"), agent):
            return put_stage_data["stageInfo"]  # LOCAL_FS, its location the stage's folder
        return over_http(request, expr, put_stage_data)

    stage_info.snowload_same_host = True  # type: ignore[attr-defined]
    fakesnow.server.gcs_stage_info = stage_info
