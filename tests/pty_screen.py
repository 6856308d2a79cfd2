"""Run a program in a real pseudo-terminal and watch its screen through the pyte emulator."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios
from collections.abc import Callable

import pyte


def run_on_screen(
    argv: list[str],
    on_screen: Callable[[list[str], int], tuple[int, int] | None],
    columns: int = 150,
    lines: int = 50,
) -> list[str]:
    """Feed everything `argv` writes into an emulated screen; call `on_screen` after every read
    with the screen's lines and the cursor's line (lines above it are written whole; a read may
    end mid-line).

    When `on_screen` returns (columns, lines), the terminal is resized to that, as a user
    dragging the window does: the emulator's screen changes and the program gets SIGWINCH.
    """
    screen = pyte.Screen(columns, lines)
    stream = pyte.ByteStream(screen)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of a known size
        os.environ.update(COLUMNS=str(columns), LINES=str(lines), TERM="xterm")
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    try:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            stream.feed(data)
            resize = on_screen(list(screen.display), screen.cursor.y)
            if resize is not None:
                columns, lines = resize
                screen.resize(lines=lines, columns=columns)
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, "\n".join(screen.display)
    return list(screen.display)
