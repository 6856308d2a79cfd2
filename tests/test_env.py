"""progress="auto" picks the view the environment can show; SNOWLOAD_PROGRESS and progress= override it."""

from __future__ import annotations

import io

import pytest

from snowload_nb import env


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(("tty", "expected"), [(True, "tqdm"), (False, "log")])
def test_auto_outside_jupyter_follows_stderr(monkeypatch, tty, expected):
    monkeypatch.delenv(env.ENV_VAR, raising=False)
    monkeypatch.setattr("sys.stderr", _Stream(tty))
    assert env.resolve_progress("auto") == expected


def test_the_environment_variable_overrides_auto_only(monkeypatch):
    monkeypatch.setenv(env.ENV_VAR, "none")
    assert env.resolve_progress("auto") == "none"
    assert env.resolve_progress("log") == "log"


def test_a_bad_environment_variable_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(env.ENV_VAR, "sparkles")
    with pytest.raises(
        ValueError, match="SNOWLOAD_PROGRESS must be one of auto, widget, html, tqdm, log, none; got 'sparkles'"
    ):
        env.resolve_progress("auto")


def test_a_terminal_ipython_is_not_a_kernel(monkeypatch):
    from IPython.terminal.interactiveshell import TerminalInteractiveShell

    TerminalInteractiveShell.instance()
    try:
        assert env.in_jupyter_kernel() is False
    finally:
        TerminalInteractiveShell.clear_instance()


def test_a_kernel_shell_or_its_subclass_is_a_kernel(monkeypatch):
    import IPython

    class ZMQInteractiveShell:  # stands in for ipykernel's class by name, as Colab's subclass would
        pass

    class ColabShell(ZMQInteractiveShell):
        pass

    monkeypatch.delenv(env.ENV_VAR, raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: ColabShell())
    assert env.in_jupyter_kernel() is True
    assert env.resolve_progress("auto") == "widget"


def test_a_kernel_without_ipywidgets_gets_the_html_view(monkeypatch):
    import sys

    import IPython

    class ZMQInteractiveShell:
        pass

    monkeypatch.delenv(env.ENV_VAR, raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now raises ImportError
    assert env.resolve_progress("auto") == "html"
