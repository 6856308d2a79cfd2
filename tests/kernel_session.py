"""A real ipykernel, driven over the Jupyter protocol, with every iopub message recorded."""

from __future__ import annotations

import json
import os
import queue
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager


@dataclass
class Message:
    received: float
    msg_type: str
    parent_id: str | None
    content: dict[str, Any]
    sent: float = 0.0  # the kernel's own clock (header date): unlike `received`, no queueing in it

    @property
    def comm_id(self) -> str | None:
        return self.content.get("comm_id")

    @property
    def state(self) -> dict[str, Any]:
        return self.content.get("data", {}).get("state", {})


@dataclass
class Execution:
    msg_id: str
    reply: dict[str, Any]
    idle_at: float
    messages: list[Message] = field(default_factory=list)

    def stdout(self) -> str:
        return "".join(
            m.content["text"] for m in self.messages if m.msg_type == "stream" and m.content["name"] == "stdout"
        )


class KernelSession:
    """Start a kernel of `python` (its own venv), run cells, keep all iopub traffic in order."""

    def __init__(self, python: str, env: dict[str, str] | None = None) -> None:
        self._spec_dir = tempfile.TemporaryDirectory(prefix="snowload-kernelspec-")
        spec = Path(self._spec_dir.name) / "snowload-test"
        spec.mkdir()
        argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "test", "language": "python"}))
        self.km = KernelManager(
            kernel_name="snowload-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[self._spec_dir.name])
        )
        self.km.start_kernel(env={**os.environ, **(env or {})})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.messages: list[Message] = []

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self._spec_dir.cleanup()

    def pump(self, timeout: float = 0.05) -> list[Message]:
        """Read whatever iopub has now."""
        got = []
        while True:
            try:
                raw = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                return got
            parent = raw.get("parent_header") or {}
            sent = raw["header"]["date"].timestamp()
            message = Message(time.monotonic(), raw["msg_type"], parent.get("msg_id"), raw["content"], sent)
            self.messages.append(message)
            got.append(message)
            timeout = 0.0

    def execute(self, code: str, timeout: float = 300, wait: bool = True) -> Execution | str:
        msg_id = self.kc.execute(code)
        if not wait:
            return msg_id
        return self.finish(msg_id, timeout)

    def finish(self, msg_id: str, timeout: float = 300) -> Execution:
        """Read iopub until the cell `msg_id` is idle again, then take its reply."""
        start = len(self.messages)
        deadline = time.monotonic() + timeout
        idle_at = None
        while idle_at is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell {msg_id} still running after {timeout} s")
            for m in self.pump(timeout=1.0):
                if m.msg_type == "status" and m.parent_id == msg_id and m.content["execution_state"] == "idle":
                    idle_at = m.received
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        return Execution(msg_id, reply["content"], idle_at, self.messages[start:])

    def widget_models(self) -> dict[str, dict[str, Any]]:
        """comm_id -> the widget state the front end would hold now (open state plus every update)."""
        models: dict[str, dict[str, Any]] = {}
        for m in self.messages:
            if m.msg_type == "comm_open":
                models[m.comm_id] = dict(m.state)
            elif m.msg_type == "comm_msg" and m.comm_id in models and m.content["data"].get("method") == "update":
                models[m.comm_id].update(m.state)
        return models

    def click(self, comm_id: str) -> None:
        """What the front end sends when a Button is clicked."""
        content = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}}
        msg = self.kc.session.msg("comm_msg", content)
        self.kc.shell_channel.send(msg)
